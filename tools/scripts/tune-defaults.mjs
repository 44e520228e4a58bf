#!/usr/bin/env node
// Runs a grid of `sparsify train` configurations and measures them on a validation split carved from
// the training set: the test set is removed before training, so nothing here ever evaluates it.
// Used to choose the CLI's default penalty options (docs/defaults.md):
//   node tools/scripts/tune-defaults.mjs <grid.json> <results.jsonl>
// grid.json: { "dataset": "mnist", "validation": 0.1, "jobs": [{ "penalty": "lasso", "set": ["strength=1e-4"], "sparsity": 0.95 }, …] }
// Each job is what the flags of `sparsify train` would give (defaults and presets included). Results
// are appended one JSON line per job; jobs already in the results file are skipped (resumable).
// Build first (npm run build); run it niced, with SPARSIFY_WASM_THREADS=1 on a shared machine.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels, selectBackend } from '@sparsify/backend/node';
import { buildRun, registerPlugins, trainConfigFromFlags } from '@sparsify/cli';
import { train } from '@sparsify/train/node';

const [gridFile, resultsFile] = process.argv.slice(2);
if (!gridFile || !resultsFile) {
  console.error('usage: tune-defaults.mjs <grid.json> <results.jsonl>');
  process.exit(2);
}
const grid = JSON.parse(readFileSync(gridFile, 'utf8'));
const key = (job) =>
  JSON.stringify([grid.dataset, job.penalty, job.set ?? [], job.sparsity, job.epochs ?? null, job.finetuneEpochs ?? null]);
const done = new Set(
  existsSync(resultsFile)
    ? readFileSync(resultsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).key)
    : [],
);

const selection = await selectBackend({ prefer: grid.backend ?? 'wasm' });
if (selection.backend === 'wasm') registerWasmTrainingKernels();
await registerPlugins();
for (const job of grid.jobs) {
  if (done.has(key(job))) continue;
  const config = trainConfigFromFlags({
    dataset: grid.dataset,
    validation: String(grid.validation ?? 0.1),
    backend: selection.backend,
    penalty: job.penalty,
    set: job.set ?? [],
    sparsity: String(job.sparsity),
    ...(job.epochs !== undefined ? { epochs: String(job.epochs) } : {}),
    ...(job.finetuneEpochs !== undefined ? { 'finetune-epochs': String(job.finetuneEpochs) } : {}),
  });
  const setup = buildRun(config);
  const t0 = performance.now();
  try {
    // No test split: the final accuracies are measured on the validation split.
    const { test: _test, ...data } = setup.options.data;
    const result = await train({ ...setup.options, data });
    const record = {
      key: key(job),
      dataset: grid.dataset,
      penalty: job.penalty,
      options: setup.penaltyConfig.config,
      sparsity: job.sparsity,
      status: result.status,
      split: result.evalSplit,
      validation: result.accuracy.final ?? null,
      dense: result.accuracy.dense ?? null,
      pruned: result.accuracy.pruned ?? null,
      achieved: result.sparsity.global,
      epochs: result.epochs,
      ...(result.art ? { art: result.art } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
    appendFileSync(resultsFile, `${JSON.stringify(record)}\n`);
    console.log(
      `${job.penalty} ${(job.set ?? []).join(' ')} s=${job.sparsity}: validation ${(100 * (record.validation ?? NaN)).toFixed(2)}% in ${record.epochs} epochs, ${record.seconds.toFixed(0)} s`,
    );
  } finally {
    setup.dispose();
  }
  if (tf.memory().numTensors > 10_000) throw new Error(`tensors leak: ${tf.memory().numTensors}`);
}
