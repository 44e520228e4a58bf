// The browser test's page (tools/scripts/browser-test.mjs builds it with esbuild and drives it in
// Chromium): on each backend it trains LeNet-300-100 on a slice of the bundled digits with a penalty
// through fitWithPenalties, prunes to 90% with a schedule, exports the sparse format as bytes, loads
// it back and compares predictions. Everything comes from the packages' portable (browser) entries.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type BackendPreference, selectBackend } from '@sparsify/backend';
import { type Penalty, disposeOptimizer } from '@sparsify/core';
import { DatasetError, bundledMnistFromDigits, loadIdxFromUrl, readIdxImagesFrom } from '@sparsify/datasets';
import { halo } from '@sparsify/halo';
import { hoyerSquare } from '@sparsify/hoyer';
import { lasso } from '@sparsify/adaptive-lasso';
import { captureArtifacts, decodeSparse, encodeSparse, fitWithPenalties, stripPruning, withInferencePlan } from '@sparsify/layers';
import { lenet300100 } from '@sparsify/models';
import { Pruner, polynomialDecay } from '@sparsify/schedules';
import { hyperSparse } from '@sparsify/hypersparse';
import { createReport, renderReport } from '@sparsify/reporting';
import { type TrainOptions, deleteStoredRun, storedRuns, train } from '@sparsify/train';

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
  /**
   * What the Node helper thread (@sparsify/backend) would need here: a wasm heap in shared memory, and
   * a blocking `Atomics.wait` on the page's main thread (`allowed`, or the error it throws).
   */
  helperThreadProbe?: { sharedHeap: boolean; atomicsWait: string };
  /**
   * Against the same leg without a penalty (on wasm, when `run` was asked to compare): Σ|w| of the
   * stripped kernels over the unpenalized run's, and the fraction of its kept weights this run keeps.
   */
  versusUnpenalized?: { kernelL1Ratio: number; maskAgreement: number; accuracy: number };
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
  // Strong enough to change which weights survive (see docs/demo and the test's versusUnpenalized).
  cpu: () => hoyerSquare({ strength: 2e-3 }),
  wasm: () => lasso({ strength: 5e-4 }),
  webgl: () => halo({ xi: 1e-3, psi: 0 }),
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

function helperThreadProbe(): { sharedHeap: boolean; atomicsWait: string } {
  const heap = (tf.backend() as unknown as { wasm?: { HEAP8?: { buffer: ArrayBufferLike } } }).wasm?.HEAP8?.buffer;
  let atomicsWait = 'no SharedArrayBuffer';
  if (typeof SharedArrayBuffer !== 'undefined') {
    try {
      atomicsWait = `allowed (${Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0)})`;
    } catch (error) {
      atomicsWait = `${(error as Error).name}: ${(error as Error).message}`;
    }
  }
  return { sharedHeap: typeof SharedArrayBuffer !== 'undefined' && heap instanceof SharedArrayBuffer, atomicsWait };
}

/** Σ|w| over the dense kernels, and which of their weights are kept (non-zero). */
function kernels(model: tf.LayersModel): { l1: number; kept: Uint8Array } {
  const weights = model.getWeights().filter((t) => t.rank === 2);
  const kept = new Uint8Array(weights.reduce((n, w) => n + w.size, 0));
  let l1 = 0;
  let at = 0;
  for (const w of weights)
    for (const v of w.dataSync()) {
      l1 += Math.abs(v);
      kept[at++] = v === 0 ? 0 : 1;
    }
  return { l1, kept };
}

/** The wasm leg without a penalty, when `run` compares: what the penalties must move. */
let unpenalized: { l1: number; kept: Uint8Array; accuracy: number } | null = null;

async function leg(backend: string, data: Awaited<ReturnType<typeof digits>>, withPenalty = true): Promise<LegResult> {
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
  const penalty = withPenalty ? PENALTIES[backend]() : null;
  await fitWithPenalties(model, train.x, train.oneHot!, {
    epochs,
    batchSize: 50,
    verbose: 0,
    penalties: penalty ? [penalty] : [],
    pruning: pruner,
    shuffle: false,
  });
  const stripped = await stripPruning(model, { masks: pruner.masks() });
  const sparsity = kernelSparsity(stripped);
  const k = kernels(stripped);
  const { json, data: bytes } = encodeSparse(await captureArtifacts(stripped), { encoding: 'bitmask' });
  // Through bytes, as a page would keep it (IndexedDB, a download): the JSON as text, the weights as a copy.
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(decodeSparse(JSON.parse(JSON.stringify(json)), bytes.slice())));
  const [a, b] = [stripped.predict(test.x) as tf.Tensor, loaded.predict(test.x) as tf.Tensor];
  const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  const accuracy = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(b, 1), test.y), 'float32')).dataSync()[0]);
  const denseBytes = JSON.stringify(json.modelTopology).length + stripped.countParams() * 4;
  const ratio = (JSON.stringify(json).length + bytes.byteLength) / denseBytes;
  for (const t of [a, b, train.x, train.y, train.oneHot!, test.x, test.y, test.oneHot!]) t.dispose();
  for (const d of [model, stripped, loaded, pruner, penalty]) d?.dispose();
  disposeOptimizer(optimizer);
  if (!withPenalty) unpenalized = { ...k, accuracy };
  const loop = withPenalty ? await loopLeg(data) : (null as never);
  return {
    loop,
    backend,
    penalty: penalty?.name ?? 'none',
    ...(unpenalized && penalty ? { versusUnpenalized: compare(k, unpenalized) } : {}),
    accuracy,
    sparsity,
    ratio,
    maxDiff,
    leakedTensors: tf.memory().numTensors - before,
    seconds: (performance.now() - started) / 1000,
    ...(active.wasmThreads !== undefined ? { wasmThreads: active.wasmThreads } : {}),
    ...(active.wasmThreadsNote !== undefined ? { wasmThreadsNote: active.wasmThreadsNote } : {}),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    ...(backend === 'wasm' ? { helperThreadProbe: helperThreadProbe() } : {}),
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

function compare(k: { l1: number; kept: Uint8Array }, base: NonNullable<typeof unpenalized>) {
  let kept = 0;
  let both = 0;
  base.kept.forEach((b, i) => {
    kept += b;
    both += b & k.kept[i];
  });
  return { kernelL1Ratio: k.l1 / base.l1, maskAgreement: both / kept, accuracy: base.accuracy };
}

/** Runs the legs asked for, in order; with `compare`, first the wasm leg without a penalty. */
export async function run(backends: readonly string[], compare = false): Promise<LegResult[]> {
  setWasmPaths('/wasm/');
  const data = await digits();
  unpenalized = null;
  if (compare) await leg('wasm', data, false);
  const results: LegResult[] = [];
  for (const backend of backends) {
    const result = await leg(backend, data);
    results.push(result);
    console.log(`leg ${JSON.stringify(result)}`);
  }
  return results;
}

/** IDX files from the test server (tools/scripts/browser-test.mjs): gzipped training files, raw test files, damaged ones. */
export async function idx(): Promise<{
  trainSize: number;
  testSize: number;
  shape: number[];
  pixelSum: number;
  labelCounts: number[];
  truncated: string;
  bomb: string;
}> {
  const { train: a, test: b } = await loadIdxFromUrl('/idx/', { name: 'served' });
  const batch = a.batch(Int32Array.from({ length: a.size }, (_, i) => i));
  // Pixels come back scaled to [0, 1]: undo it to compare with the server's byte sum.
  let pixelSum = 0;
  for (const v of batch.x.dataSync()) pixelSum += Math.round(v * 255);
  const labelCounts = Array.from({ length: 10 }, () => 0);
  for (const l of batch.y.dataSync()) labelCounts[l]++;
  tf.dispose([batch.x, batch.y]);
  const message = (e: unknown) => (e instanceof DatasetError ? `DatasetError: ${e.message}` : `not a DatasetError: ${String(e)}`);
  const truncated = await loadIdxFromUrl('/idx-bad/').then(() => 'loaded', message);
  const bomb = await readIdxImagesFrom('/idx-bomb/zeros.gz', { maxBytes: 1_000_000 }).then(() => 'loaded', message);
  return { trainSize: a.size, testSize: b.size, shape: [...a.sampleShape], pixelSum, labelCounts, truncated, bomb };
}

const RUN = 'browser-test-resume';

/** Same weights ⇔ same hash: FNV-1a over the float32 bytes of every weight. */
function weightsHash(model: tf.LayersModel): string {
  let h = 0x811c9dc5;
  for (const w of model.getWeights()) {
    const bytes = new Uint8Array(w.dataSync<'float32'>().slice().buffer);
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h.toString(16);
}

/** The loop with HALO (penalty variables) on wasm: 2 epochs, one-shot pruning to 90%, 1 fine-tune epoch. */
async function checkpointRun(extra: Partial<TrainOptions>) {
  setWasmPaths('/wasm/');
  await activate('wasm');
  const data = await digits();
  const model = lenet300100({ seed: 5 });
  const penalty = halo({ xi: 1e-4, psi: 0 });
  const result = await train({
    model,
    data: { train: data.train.take(500), test: data.test.take(200) },
    epochs: 2,
    batchSize: 50,
    seed: 3,
    optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } },
    penalties: [penalty],
    prune: { sparsity: 0.9 },
    finetune: { epochs: 1 },
    ...extra,
  });
  return { result, model, penalty };
}

/**
 * Before the reload: the run straight through (no checkpoints), then the same run into IndexedDB
 * stopped after its first epoch. The test reloads the page and calls `resumeCheckpoint`.
 */
export async function startCheckpoint(): Promise<{ straight: string; status: string; runs: string[] }> {
  await deleteStoredRun(RUN);
  const straight = await checkpointRun({});
  const hash = weightsHash(straight.model);
  straight.model.dispose();
  straight.penalty.dispose();
  const stopped = await checkpointRun({ runDir: RUN, stopAfterEpochs: 1 });
  stopped.model.dispose();
  stopped.penalty.dispose();
  return { straight: hash, status: stopped.result.status, runs: await storedRuns() };
}

/**
 * After the reload: a new model, data and penalty, resumed from IndexedDB; then its report rendered
 * into the page under a hostile run name.
 */
export async function resumeCheckpoint(): Promise<{
  resumed: string;
  status: string;
  resumedFrom: number | undefined;
  leakedTensors: number;
  report: { h1: string; layerRows: string[][]; images: number; scripts: number; pwned: unknown; sparsityText: string };
}> {
  const before = tf.memory().numTensors;
  const { result, model, penalty } = await checkpointRun({ runDir: RUN, resume: true });
  const hash = weightsHash(model);
  const layers = model.getWeights().flatMap((w, i) => {
    if (w.rank !== 2) return [];
    const values = w.dataSync();
    let zeros = 0;
    for (const v of values) if (v === 0) zeros++;
    return [{ name: `${model.weights[i].name}`, shape: [...w.shape], total: values.length, zeros }];
  });
  model.dispose();
  penalty.dispose();
  const leakedTensors = tf.memory().numTensors - before;
  await deleteStoredRun(RUN);
  const report = createReport({
    name: '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
    model: 'lenet-300-100',
    dataset: 'bundled digits (500)',
    method: 'halo',
    penalty: { name: penalty.name, config: { xi: 1e-4, psi: 0 } },
    seed: 3,
    epochs: 2,
    finetuneEpochs: 1,
    backend: tf.getBackend(),
    sparsity: { target: 0.9, layers },
    accuracy: { split: 'test', final: result.accuracy.final ?? 0 },
    timing: { samplesPerSecond: 1 },
    history: result.history.map((h) => ({ epoch: h.epoch, phase: h.phase, loss: h.loss, accuracy: h.accuracy, sparsity: h.sparsity })),
  });
  const element = document.body.appendChild(document.createElement('section'));
  renderReport(element, report);
  const tables = element.querySelectorAll('table');
  const layerTable = Array.from(tables).find((t) => t.querySelector('th')?.textContent === 'layer');
  await new Promise((r) => setTimeout(r, 100));
  return {
    resumed: hash,
    status: result.status,
    resumedFrom: result.resumedFrom,
    leakedTensors,
    report: {
      h1: element.querySelector('h1')?.textContent ?? '',
      layerRows: Array.from(layerTable?.querySelectorAll('tr') ?? [])
        .slice(1)
        .map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')),
      images: element.querySelectorAll('img').length,
      scripts: element.querySelectorAll('script').length,
      pwned: (globalThis as { __pwned?: unknown }).__pwned,
      sparsityText: element.querySelector('table td:nth-child(2)')?.textContent ?? '',
    },
  };
}

export interface WebglPlanCase {
  name: string;
  denseLayers: number;
  /** Largest |plan − LayersModel.predict| at batch 1, after `setWeights` at batch 1, and at batch 3. */
  maxDiff: number;
  maxDiffAfterSetWeights: number;
  maxDiffBatch3: number;
  /** The backend's draws (`runWebGLProgram` calls) in a batch-1 call, and how many were the plan's programs. */
  draws: number;
  planPrograms: number;
  /** The plan's own programs in a batch-3 call (none: batch 1 only). */
  planProgramsBatch3: number;
  leakedTensors: number;
}

/** Begins the source of the plan's WebGL programs (`WEBGL_DENSE_MARK` in @sparsify/layers' webgl-dense.ts). */
const PLAN_PROGRAM = '// @sparsify/layers dense';

/**
 * Small Dense chains (seeded weights, a few all-zero neurons) through `withInferencePlan` on webgl,
 * against plain `LayersModel.predict`, counting the backend's draws in a call.
 */
export async function webglPlan(): Promise<WebglPlanCase[]> {
  if (!(await tf.setBackend('webgl'))) throw new Error('backend webgl failed to initialise');
  await tf.ready();
  const backend = tf.backend() as unknown as { runWebGLProgram: (program: { userCode: string }, ...rest: unknown[]) => unknown };
  const dense = (units: number, activation: 'relu' | 'linear' | 'softmax', inputShape?: number[]) =>
    tf.layers.dense({ units, activation, ...(inputShape ? { inputShape } : {}) });
  const cases: [string, () => tf.LayersModel][] = [
    ['20→12→6→4, relu, Dense softmax', () => tf.sequential({ layers: [dense(12, 'relu', [20]), dense(6, 'relu'), dense(4, 'softmax')] })],
    [
      '21→13→7→5 (odd widths), dropout, linear + softmax layer',
      () =>
        tf.sequential({
          layers: [
            dense(13, 'relu', [21]),
            tf.layers.dropout({ rate: 0.5 }),
            dense(7, 'relu'),
            dense(5, 'linear'),
            tf.layers.activation({ activation: 'softmax' }),
          ],
        }),
    ],
    [
      'flatten, 3×5×2→9→3 logits',
      () => tf.sequential({ layers: [tf.layers.flatten({ inputShape: [3, 5, 2] }), dense(9, 'relu'), dense(3, 'linear')] }),
    ],
  ];
  const results: WebglPlanCase[] = [];
  for (const [name, make] of cases) {
    const model = make();
    // Seeded weights, with neuron 1 of each hidden layer dead (its kernel column and bias zero).
    const weights = model.getWeights();
    const seeded = (seed: number) =>
      weights.map((w, i) => {
        const values = tf.tidy(() =>
          tf
            .randomNormal(w.shape, 0, 0.8, 'float32', seed + i)
            .dataSync<'float32'>()
            .slice(),
        );
        const units = w.shape[w.rank - 1];
        if (i < weights.length - 2) for (let k = 1; k < values.length; k += units) values[k] = 0;
        return tf.tensor(values, w.shape);
      });
    const first = seeded(11);
    model.setWeights(first);
    const plain = model.predict.bind(model);
    withInferencePlan(model);
    const inputShape = model.inputs[0].shape.slice(1) as number[];
    const diff = (x: tf.Tensor) =>
      tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, plain(x) as tf.Tensor))).dataSync()[0]);
    const x1 = tf.randomNormal([1, ...inputShape], 0, 1, 'float32', 3);
    const x3 = tf.randomNormal([3, ...inputShape], 0, 1, 'float32', 4);
    const maxDiff = diff(x1);
    const count = (x: tf.Tensor) => {
      const programs: string[] = [];
      const run = backend.runWebGLProgram;
      backend.runWebGLProgram = function (program, ...rest) {
        programs.push(program.userCode);
        return run.call(this, program, ...rest);
      };
      try {
        tf.dispose(model.predict(x));
      } finally {
        backend.runWebGLProgram = run;
      }
      return { draws: programs.length, own: programs.filter((code) => code.startsWith(PLAN_PROGRAM)).length };
    };
    const batch1 = count(x1);
    const planProgramsBatch3 = count(x3).own;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.dispose(model.predict(x1));
    const leakedTensors = tf.memory().numTensors - before;
    const second = seeded(23);
    model.setWeights(second);
    results.push({
      name,
      denseLayers: model.layers.filter((l) => l.getClassName() === 'Dense').length,
      maxDiff,
      maxDiffAfterSetWeights: diff(x1),
      maxDiffBatch3: diff(x3),
      draws: batch1.draws,
      planPrograms: batch1.own,
      planProgramsBatch3,
      leakedTensors,
    });
    tf.dispose([...first, ...second, x1, x3]);
    model.dispose();
  }
  return results;
}

(globalThis as { sparsify?: unknown }).sparsify = { run, idx, startCheckpoint, resumeCheckpoint, webglPlan };
