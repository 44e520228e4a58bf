import { readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { measureSparsity, selectParams } from '@sparsify/core';
import { createModel } from '@sparsify/models';
import { MODEL_JSON, SPARSE_MODEL_JSON, SPARSE_WEIGHTS_BIN, WEIGHTS_BIN, fileSystemSaveHandler, planShrink, saveSparse, shrink, type ShrinkPlan } from '@sparsify/layers';
import { readCheckpoint } from '@sparsify/train';
import { UsageError } from './errors.js';
import { readStoredRun } from './train-command.js';

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
  options: { allowUnfinished?: boolean; format?: 'dense' | 'sparse'; shrink?: boolean } = {},
): Promise<ExportOutcome> {
  const stored = readStoredRun(runDir);
  const checkpoint = readCheckpoint(runDir) as { phase: string; epoch: number; model: (Float32Array | Int32Array)[] } | null;
  if (!checkpoint) throw new UsageError(`${runDir} has no checkpoint yet: nothing to export`);
  const finished = checkpoint.phase === 'done';
  if (!finished && !options.allowUnfinished) {
    throw new UsageError(`the run in ${runDir} is not finished (next epoch ${checkpoint.epoch}); resume it with sparsify train --resume ${runDir}, or export anyway with --unfinished`);
  }
  try {
    if (readdirSync(outDir).length > 0) throw new UsageError(`--out ${outDir} is not empty; choose a new directory`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
  }
  const { config } = stored;
  const model = createModel(config.model, { inputShape: stored.inputShape, numClasses: stored.numClasses, seed: config.seed });
  try {
    if (model.weights.length !== checkpoint.model.length) {
      throw new UsageError(`the checkpoint has ${checkpoint.model.length} weights, ${config.model} has ${model.weights.length}`);
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
