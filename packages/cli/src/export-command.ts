import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { measureSparsity, selectParams } from '@sparsify/core';
import { createModel } from '@sparsify/models';
import { readCheckpoint, writeFileAtomic } from '@sparsify/train';
import { UsageError } from './errors.js';
import { readStoredRun } from './train-command.js';

export interface ExportOutcome {
  dir: string;
  files: string[];
  sparsity: number;
  finished: boolean;
}

/**
 * `sparsify export <run> --out dir`: rebuilds the run's model, loads the weights of its last checkpoint
 * (the pruned, fine-tuned model once the run is done) and saves it in the TF.js layers format
 * (`model.json` + `weights.bin`), loadable with `tf.loadLayersModel`. Pruned weights are exact zeros.
 */
export async function exportCommand(runDir: string, outDir: string, options: { allowUnfinished?: boolean } = {}): Promise<ExportOutcome> {
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
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const a = artifacts!;
    const modelJson = {
      format: 'layers-model',
      generatedBy: 'sparsify export',
      convertedBy: null,
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      userDefinedMetadata: { sparsify: { run: runDir, method: config.method, sparsity, finished } },
    };
    mkdirSync(outDir, { recursive: true });
    const bin = Buffer.from(a.weightData as ArrayBuffer);
    const weightsPath = join(outDir, 'weights.bin');
    writeFileAtomic(weightsPath, bin);
    writeFileAtomic(join(outDir, 'model.json'), `${JSON.stringify(modelJson)}\n`);
    return { dir: outDir, files: ['model.json', 'weights.bin'], sparsity, finished };
  } finally {
    model.dispose();
  }
}
