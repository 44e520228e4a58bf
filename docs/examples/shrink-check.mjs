// Checks a shrunk export against the export it came from, on the run's own test split:
//
//   node docs/examples/shrink-check.mjs <run dir> <dense export dir> <shrunk export dir>
//
// (the exports from `sparsify export <run> --out D` and `sparsify export <run> --out S --shrink`).
// Prints each model's accuracy, the largest difference of their outputs over the test set, the
// weights' file sizes and the batch-1 / batch-32 latency on wasm and cpu (min over interleaved rounds).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerSparsifyKernels } from '@sparsify/backend';
import { readStoredRun } from '@sparsify/cli';
import { loadDataset } from '@sparsify/datasets';
import { evaluate, iterateBatches } from '@sparsify/train';

const [runDir, denseDir, shrunkDir] = process.argv.slice(2);
if (!shrunkDir) {
  console.error('usage: node docs/examples/shrink-check.mjs <run dir> <dense export dir> <shrunk export dir>');
  process.exit(2);
}

async function load(dir) {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const bin = readFileSync(join(dir, 'weights.bin'));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  );
}

function timeInterleaved(models, x, rounds = 15, calls = 20) {
  const once = (m) => tf.tidy(() => m.predict(x).dataSync());
  models.forEach((m) => once(m));
  const best = models.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    models.forEach((m, k) => {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) once(m);
      best[k] = Math.min(best[k], (performance.now() - t0) / calls);
    });
  }
  return best;
}

await tf.setBackend('cpu');
const { config } = readStoredRun(runDir);
// The run's data as `sparsify train` loaded it (same spec, seed, limit and validation split).
const setup = {
  data: loadDataset(config.dataset, {
    dataDir: config.dataDir,
    seed: config.seed,
    ...(config.limit ? { limit: config.limit } : {}),
    ...(config.validation ? { validation: config.validation } : {}),
  }),
};
const dense = await load(denseDir);
const shrunk = await load(shrunkDir);
const accuracy = async (m) => (await evaluate(m, setup.data.test, 256)).accuracy;
console.log(`test split: ${setup.data.test.size} samples of ${config.dataset}`);
console.log(`accuracy: dense ${(100 * (await accuracy(dense))).toFixed(2)}%, shrunk ${(100 * (await accuracy(shrunk))).toFixed(2)}%`);

let maxDiff = 0;
let n = 0;
for await (const { x, y } of iterateBatches(setup.data.test, 256, { shuffle: false, seed: 0, epoch: 0 })) {
  maxDiff = Math.max(
    maxDiff,
    tf.tidy(() => tf.max(tf.abs(tf.sub(dense.predict(x), shrunk.predict(x)))).dataSync()[0]),
  );
  n += x.shape[0];
  tf.dispose([x, y]);
}
console.log(`max |dense − shrunk| over ${n} test samples: ${maxDiff.toExponential(2)}`);
const kb = (dir) => (statSync(join(dir, 'weights.bin')).size / 1024).toFixed(1);
console.log(
  `weights.bin: dense ${kb(denseDir)} KB, shrunk ${kb(shrunkDir)} KB; parameters ${dense.countParams()} → ${shrunk.countParams()}`,
);

for (const backend of ['wasm', 'cpu']) {
  await tf.setBackend(backend);
  registerSparsifyKernels();
  const d = await load(denseDir);
  const s = await load(shrunkDir);
  for (const batch of [1, 32]) {
    const xb = tf.randomNormal([batch, ...setup.data.test.sampleShape], 0, 1, 'float32', 1);
    const [td, ts] = timeInterleaved([d, s], xb);
    console.log(`${backend} batch ${batch}: dense ${td.toFixed(3)} ms, shrunk ${ts.toFixed(3)} ms (${(td / ts).toFixed(2)}× faster)`);
    xb.dispose();
  }
  d.dispose();
  s.dispose();
}
