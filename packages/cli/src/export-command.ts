import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { measureSparsity, selectParams } from '@sparsify/core';
import { createModel } from '@sparsify/models';
import {
  MODEL_JSON,
  SPARSE_MODEL_JSON,
  SPARSE_WEIGHTS_BIN,
  WEIGHTS_BIN,
  fileSystemSaveHandler,
  planShrink,
  saveSparse,
  shrink,
  type ShrinkPlan,
} from '@sparsify/layers/node';
import { readRunCheckpoint } from '@sparsify/train/node';
import { UsageError } from './errors.js';
import { readStoredRun } from './train-command.js';

/** `--out` must be a new path or an empty directory: an existing file or anything in it is left alone. */
function checkExportTarget(outDir: string): void {
  let info: Stats;
  try {
    info = lstatSync(outDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!info.isDirectory())
    throw new UsageError(
      `--out ${outDir} is ${info.isSymbolicLink() ? 'a symbolic link' : 'a file'}, not a directory; it was left as it is: choose a new path for the model directory`,
    );
  if (readdirSync(outDir).length > 0) throw new UsageError(`--out ${outDir} is not empty; choose a new directory`);
}

export interface ExportOutcome {
  dir: string;
  files: string[];
  sparsity: number;
  finished: boolean;
  /** Sparse format: bytes written, and what the dense format takes. */
  bytes?: number;
  denseBytes?: number;
  /** With `shrink`: what it kept (the exported model is the shrunk one). */
  shrunk?: ShrinkPlan;
}

/**
 * `sparsify export <run> --out dir`: rebuilds the run's model, loads the weights of its last checkpoint
 * (the pruned, fine-tuned model once the run is done) and saves it with `@sparsify/layers`: the TF.js
 * layers format (`model.json` + `weights.bin`, loadable with `tf.loadLayersModel`; pruned weights are
 * exact zeros), or with `format: 'sparse'` the compressed sparse format (`loadSparse`). With `shrink`,
 * the model `shrink` of `@sparsify/layers` leaves: dead neurons and channels removed, same outputs. The
 * directory is written atomically.
 */
export async function exportCommand(
  runDir: string,
  outDir: string,
  options: { allowUnfinished?: boolean; format?: 'dense' | 'sparse'; shrink?: boolean; warn?: (message: string) => void } = {},
): Promise<ExportOutcome> {
  const stored = readStoredRun(runDir);
  const loaded = readRunCheckpoint(runDir);
  if (!loaded) throw new UsageError(`${runDir} has no checkpoint yet: nothing to export`);
  const checkpoint = loaded.value;
  if (loaded.fallback)
    options.warn?.(
      `checkpoint corrupt: ${loaded.fallback.problem}. Exporting the previous checkpoint ${loaded.file} (epoch ${checkpoint.epoch}) instead`,
    );
  const finished = checkpoint.phase === 'done';
  if (!finished && !options.allowUnfinished) {
    throw new UsageError(
      `the run in ${runDir} is not finished (next epoch ${checkpoint.epoch}); resume it with sparsify train --resume ${runDir}, or export anyway with --unfinished`,
    );
  }
  checkExportTarget(outDir);
  const { config } = stored;
  const model = createModel(config.model, { inputShape: stored.inputShape, numClasses: stored.numClasses, seed: config.seed });
  try {
    const shapes = model.weights.map((w) => w.shape);
    if (JSON.stringify(shapes) !== JSON.stringify(checkpoint.fingerprint.shapes)) {
      throw new UsageError(
        `${loaded.file}: its weights have shapes ${JSON.stringify(checkpoint.fingerprint.shapes)}; ${config.model} of ${join(runDir, 'run.json')} has ${JSON.stringify(shapes)}`,
      );
    }
    tf.tidy(() => {
      model.weights.forEach((w, i) => {
        (w.read() as tf.Variable).assign(tf.tensor(checkpoint.model[i], w.shape as number[], w.dtype));
      });
    });
    const sparsity = measureSparsity(selectParams(model)).global;
    const shrunk = options.shrink ? planShrink(model) : undefined;
    const saved = shrunk ? await shrink(model, { warn: null }) : model;
    try {
      if (options.format === 'sparse') {
        const { bytes, denseBytes } = await saveSparse(saved, outDir);
        return { dir: outDir, files: [SPARSE_MODEL_JSON, SPARSE_WEIGHTS_BIN], sparsity, finished, bytes, denseBytes, shrunk };
      }
      await saved.save(fileSystemSaveHandler(outDir));
      return { dir: outDir, files: [MODEL_JSON, WEIGHTS_BIN], sparsity, finished, shrunk };
    } finally {
      if (saved !== model) saved.dispose();
    }
  } finally {
    model.dispose();
  }
}
