// The browser test's page (tools/scripts/browser-test.mjs builds it with esbuild and drives it in
// Chromium): on each backend it trains LeNet-300-100 on a slice of the bundled digits with a penalty
// through fitWithPenalties, prunes to 90% with a schedule, exports the sparse format as bytes, loads
// it back and compares predictions. Everything comes from the packages' portable (browser) entries.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type BackendPreference, selectBackend } from '@sparsify/backend';
import { type Penalty, disposeOptimizer } from '@sparsify/core';
import { bundledMnistFromDigits } from '@sparsify/datasets';
import { halo } from '@sparsify/halo';
import { hoyerSquare } from '@sparsify/hoyer';
import { lasso } from '@sparsify/adaptive-lasso';
import { captureArtifacts, decodeSparse, encodeSparse, fitWithPenalties, stripPruning } from '@sparsify/layers';
import { lenet300100 } from '@sparsify/models';
import { Pruner, polynomialDecay } from '@sparsify/schedules';
import { hyperSparse } from '@sparsify/hypersparse';
import { train } from '@sparsify/train';

export interface LegResult {
  backend: string;
  penalty: string;
  accuracy: number;
  sparsity: number;
  ratio: number;
  maxDiff: number;
  leakedTensors: number;
  seconds: number;
  /** On wasm: the threads it runs with, and why only one where more were wanted. */
  wasmThreads?: number;
  wasmThreadsNote?: string;
  crossOriginIsolated: boolean;
  /** The same backend through @sparsify/train's loop: HyperSparse, one-shot pruning to 90%, fine-tuning. */
  loop: { penalty: string; accuracy: number; sparsity: number; maxDiff: number; leakedTensors: number; seconds: number };
}

const TRAIN = 1000;
const TEST = 500;

async function digits() {
  const files = await Promise.all(Array.from({ length: 10 }, (_, d) => fetch(`/digits/${d}.json`).then((r) => r.json())));
  return bundledMnistFromDigits(files);
}

async function activate(backend: string): Promise<{ backend: string; wasmThreads?: number; wasmThreadsNote?: string }> {
  if (backend === 'webgl') {
    if (!(await tf.setBackend('webgl'))) throw new Error('backend webgl failed to initialise');
    await tf.ready();
    return { backend: tf.getBackend() };
  }
  const { wasmThreads, wasmThreadsNote, ...selection } = await selectBackend({ prefer: backend as BackendPreference, env: {} });
  return { backend: selection.backend, wasmThreads, wasmThreadsNote };
}

const PENALTIES: Record<string, () => Penalty> = {
  cpu: () => hoyerSquare({ strength: 2e-3 }),
  wasm: () => lasso({ strength: 1e-5 }),
  webgl: () => halo({ xi: 1e-5, psi: 0 }),
};

/** Fraction of exact zeros over the dense kernels (the weights pruning acts on). */
function kernelSparsity(model: tf.LayersModel): number {
  let zeros = 0;
  let total = 0;
  for (const w of model.getWeights().filter((t) => t.rank === 2)) {
    const values = w.dataSync();
    total += values.length;
    for (const v of values) if (v === 0) zeros++;
  }
  return zeros / total;
}

async function leg(backend: string, data: Awaited<ReturnType<typeof digits>>): Promise<LegResult> {
  const started = performance.now();
  const active = await activate(backend);
  if (active.backend !== backend) throw new Error(`asked for ${backend}, got ${active.backend}`);
  const before = tf.memory().numTensors;
  const train = data.train.batch(
    Int32Array.from({ length: TRAIN }, (_, i) => i),
    { oneHot: true, flatten: true },
  );
  const test = data.test.batch(
    Int32Array.from({ length: TEST }, (_, i) => i),
    { oneHot: true, flatten: true },
  );
  const model = lenet300100({ inputShape: [784], softmax: true, seed: 1 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const epochs = 8;
  const steps = Math.ceil(TRAIN / 50);
  const pruner = new Pruner(model, {
    schedule: polynomialDecay({ initialSparsity: 0, finalSparsity: 0.9, beginStep: steps, endStep: 6 * steps, frequency: steps }),
  });
  const penalty = PENALTIES[backend]();
  await fitWithPenalties(model, train.x, train.oneHot!, {
    epochs,
    batchSize: 50,
    verbose: 0,
    penalties: [penalty],
    pruning: pruner,
    shuffle: false,
  });
  const stripped = await stripPruning(model, { masks: pruner.masks() });
  const sparsity = kernelSparsity(stripped);
  const { json, data: bytes } = encodeSparse(await captureArtifacts(stripped), { encoding: 'bitmask' });
  // Through bytes, as a page would keep it (IndexedDB, a download): the JSON as text, the weights as a copy.
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(decodeSparse(JSON.parse(JSON.stringify(json)), bytes.slice())));
  const [a, b] = [stripped.predict(test.x) as tf.Tensor, loaded.predict(test.x) as tf.Tensor];
  const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  const accuracy = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(b, 1), test.y), 'float32')).dataSync()[0]);
  const denseBytes = JSON.stringify(json.modelTopology).length + stripped.countParams() * 4;
  const ratio = (JSON.stringify(json).length + bytes.byteLength) / denseBytes;
  for (const t of [a, b, train.x, train.y, train.oneHot!, test.x, test.y, test.oneHot!]) t.dispose();
  for (const d of [model, stripped, loaded, pruner, penalty]) d.dispose();
  disposeOptimizer(optimizer);
  const loop = await loopLeg(data);
  return {
    loop,
    backend,
    penalty: penalty.name,
    accuracy,
    sparsity,
    ratio,
    maxDiff,
    leakedTensors: tf.memory().numTensors - before,
    seconds: (performance.now() - started) / 1000,
    ...(active.wasmThreads !== undefined ? { wasmThreads: active.wasmThreads } : {}),
    ...(active.wasmThreadsNote !== undefined ? { wasmThreadsNote: active.wasmThreadsNote } : {}),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
}

/** The training loop on the active backend: HyperSparse, one-shot prune to 90%, 1 fine-tune epoch. */
async function loopLeg(data: Awaited<ReturnType<typeof digits>>): Promise<LegResult['loop']> {
  const started = performance.now();
  const before = tf.memory().numTensors;
  const model = lenet300100({ seed: 2 });
  const penalty = hyperSparse({ sparsity: 0.9 });
  const test = data.test.take(TEST);
  const result = await train({
    model,
    data: { train: data.train.take(TRAIN), test },
    epochs: 4,
    batchSize: 50,
    seed: 1,
    optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } },
    penalties: [penalty],
    prune: { sparsity: 0.9 },
    finetune: { epochs: 1 },
  });
  const { json, data: bytes } = encodeSparse(await captureArtifacts(model), { encoding: 'csr' });
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(decodeSparse(JSON.parse(JSON.stringify(json)), bytes.slice())));
  const { x, y } = test.batch(Int32Array.from({ length: TEST }, (_, i) => i));
  const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor))).dataSync()[0]);
  const sparsity = kernelSparsity(model);
  for (const d of [x, y, model, loaded, penalty]) d.dispose();
  if (result.status !== 'completed') throw new Error(`the training loop ended ${result.status}: ${result.message}`);
  return {
    penalty: penalty.name,
    accuracy: result.accuracy.final ?? Number.NaN,
    sparsity,
    maxDiff,
    leakedTensors: tf.memory().numTensors - before,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Runs the legs asked for, in order; the test reads `window.sparsifyResults`. */
export async function run(backends: readonly string[]): Promise<LegResult[]> {
  setWasmPaths('/wasm/');
  const data = await digits();
  const results: LegResult[] = [];
  for (const backend of backends) {
    const result = await leg(backend, data);
    results.push(result);
    console.log(`leg ${JSON.stringify(result)}`);
  }
  return results;
}

(globalThis as { sparsify?: { run: typeof run } }).sparsify = { run };
