import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { SparseModel } from '@sparsify/layers/node';
import type { Workload } from './models.js';

/**
 * Inference latency of one pruned network three ways, side by side on each backend: `dense` (the
 * pruned model as tfjs runs it, LayersModel.predict), `sparse` (toSparseModel: Dense and 1×1 conv
 * kernels as CSR sparse × dense products) and `shrunk` (shrink: dead neurons and filters removed, its
 * `predict` an inference plan where the model is a chain). Two more show where the time goes:
 * `dense-plan` (the dense model through SparseModel's runner: its plan where it is a chain, nothing
 * sparse) and `shrunk-predict` (the shrunk model through plain LayersModel.predict, as a page that
 * loads it with tf.loadLayersModel runs it).
 *
 * Dense and sparse run the same unstructured magnitude-pruned weights (per layer, like the export
 * section). Unstructured zeros leave nothing to shrink, so `shrunk` runs a structurally pruned twin at
 * the same weight sparsity: whole hidden neurons and filters with the smallest L2 norm zeroed (with
 * their BatchNormalization scale and shift, as network slimming does), the fraction kept chosen so
 * that the shrunk model keeps the same number of weights as the unstructured one. A Group-HS-trained
 * model (`--trained`) is measured as it is: dense, sparse and shrunk from the same weights.
 */

type Layers = typeof import('@sparsify/layers/node');

export const VARIANTS = ['dense', 'dense-plan', 'sparse', 'shrunk', 'shrunk-predict'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface InferenceRow {
  model: string;
  batch: number;
  backend: string;
  /** Weight sparsity of the kernels (exact zeros); for a trained model, what it has. */
  sparsity: number;
  variant: Variant;
  /** Per predict call (input to output values on the host): min and median over rounds. */
  minMs: number;
  medianMs: number;
  /** Parameters the variant holds and its file size (dense: model.json weights; sparse: saveSparse). */
  parameters: number;
  bytes: number;
  /** Shrunk: units kept per layer with units, e.g. "fc1 41/300". */
  kept?: string;
}

export interface InferenceResult {
  rows: InferenceRow[];
  notes: string[];
}

const kernelsOf = (model: tf.LayersModel) => model.weights.filter((w) => w.shape.length >= 2 && /kernel/.test(w.name));

/** Zeroes the `sparsity` smallest-magnitude entries of every kernel, per layer (strict count). */
function pruneUnstructured(model: tf.LayersModel, sparsity: number): void {
  for (const w of kernelsOf(model)) {
    const values = w.read().dataSync().slice() as Float32Array;
    const order = Array.from(values.keys()).sort((a, b) => Math.abs(values[a]) - Math.abs(values[b]));
    for (let i = 0; i < Math.floor(sparsity * values.length); i++) values[order[i]] = 0;
    const pruned = tf.tensor(values, w.shape as number[]);
    w.write(pruned);
    pruned.dispose();
  }
}

/**
 * Zeroes whole output units (last kernel axis) of every Dense/Conv2D layer but the last, keeping the
 * `keep` fraction with the largest L2 norm; their bias and any BatchNormalization right after go to 0.
 */
function pruneStructured(model: tf.LayersModel, keep: number): void {
  const layers = model.layers.filter((l) => ['Dense', 'Conv2D'].includes(l.getClassName()));
  for (const layer of layers.slice(0, -1)) {
    const [kernel, ...rest] = layer.getWeights();
    const values = kernel.dataSync().slice() as Float32Array;
    const units = kernel.shape[kernel.shape.length - 1];
    const norms = new Float64Array(units);
    values.forEach((v, i) => (norms[i % units] += v * v));
    const order = Array.from(norms.keys()).sort((a, b) => norms[b] - norms[a]);
    const dead = new Set(order.slice(Math.max(1, Math.round(keep * units))));
    values.forEach((_, i) => dead.has(i % units) && (values[i] = 0));
    const zeroUnits = (t: tf.Tensor) =>
      tf.tensor(
        Float32Array.from(t.dataSync(), (v, i) => (dead.has(i) ? 0 : v)),
        t.shape,
      );
    const pruned = [tf.tensor(values, kernel.shape), ...rest.map(zeroUnits)];
    layer.setWeights(pruned);
    tf.dispose(pruned);
    const next = model.layers[model.layers.indexOf(layer) + 1];
    if (next?.getClassName() === 'BatchNormalization') {
      // gamma, beta (then moving mean and variance): a pruned filter's output becomes exactly 0.
      const bn = next.getWeights().map((t, k) => (k < 2 ? zeroUnits(t) : t));
      next.setWeights(bn);
      tf.dispose(bn.slice(0, 2));
    }
  }
}

function cloneModel(build: () => tf.LayersModel, from: tf.LayersModel): tf.LayersModel {
  const m = build();
  m.setWeights(from.getWeights());
  return m;
}

/** The structurally pruned twin of `dense` whose shrunk model keeps `parameters` weights (bisection on the kept fraction). */
function structuredTwin(L: Layers, build: () => tf.LayersModel, dense: tf.LayersModel, parameters: number): tf.LayersModel {
  let lo = 0;
  let hi = 1;
  let best: tf.LayersModel | null = null;
  for (let i = 0; i < 14; i++) {
    const keep = (lo + hi) / 2;
    const m = cloneModel(build, dense);
    pruneStructured(m, keep);
    const after = L.planShrink(m).parameters.after;
    if (after > parameters) {
      hi = keep;
      m.dispose();
    } else {
      lo = keep;
      best?.dispose();
      best = m;
    }
  }
  if (!best) {
    best = cloneModel(build, dense);
    pruneStructured(best, lo);
  }
  return best;
}

function kernelSparsity(model: tf.LayersModel): number {
  let zeros = 0;
  let total = 0;
  for (const w of kernelsOf(model)) {
    const d = w.read().dataSync();
    total += d.length;
    for (const v of d) if (v === 0) zeros++;
  }
  return total ? zeros / total : 0;
}

const countParams = (m: tf.LayersModel) => m.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);

async function sparseBytes(L: Layers, model: tf.LayersModel): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sparsify-bench-'));
  try {
    return (await L.saveSparse(model, join(dir, 'm'))).bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Interleaved rounds per measurement (the minimum is reported: the machine is shared). */
const ROUNDS = 20;

type Predictor = { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] };

/** Times the predictors interleaved: `rounds` rounds, each `calls` calls of every one; ms per call. */
function timeInterleaved(predictors: Predictor[], x: tf.Tensor, rounds: number, calls: number): { min: number; median: number }[] {
  const run = (p: Predictor) => {
    const y = p.predict(x) as tf.Tensor;
    y.dataSync();
    y.dispose();
  };
  for (const p of predictors) for (let i = 0; i < 3; i++) run(p); // warm-up (kernel compilation, caches)
  const times = predictors.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    predictors.forEach((p, k) => {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) run(p);
      times[k].push((performance.now() - t0) / calls);
    });
  }
  return times.map((t) => {
    const s = [...t].sort((a, b) => a - b);
    return { min: s[0], median: s[Math.floor(s.length / 2)] };
  });
}

const keptText = (plan: ReturnType<Layers['planShrink']>) => plan.layers.map((l) => `${l.name} ${l.kept}/${l.total}`).join(', ');

interface Case {
  model: string;
  batches: number[];
  sparsity: number;
  dense: tf.LayersModel;
  structured?: tf.LayersModel;
  inputShape: number[];
}

async function measureCase(L: Layers, c: Case, backend: string, budgetMs: number): Promise<InferenceRow[]> {
  const sparse: SparseModel = await L.toSparseModel(c.dense);
  const source = c.structured ?? c.dense;
  const plan = L.planShrink(source);
  const shrunk = await L.shrink(source, { warn: null });
  const shrunkPredict = await L.shrink(source, { warn: null, plan: false });
  // minSparsity 1: only all-zero kernels would run sparse, i.e. the model as it is, in SparseModel's runner.
  const densePlan = await L.toSparseModel(c.dense, { minSparsity: 1 });
  const denseSize = { parameters: countParams(c.dense), bytes: 4 * countParams(c.dense) };
  const shrunkSize = { parameters: countParams(shrunk), bytes: 4 * countParams(shrunk) };
  const sparseSize = { parameters: sparse.layers.reduce((n, l) => n + (l.nonZeros ?? 0), 0), bytes: await sparseBytes(L, c.dense) };
  const variants: [Variant, Predictor, { parameters: number; bytes: number }][] = [
    ['dense', c.dense, denseSize],
    ['dense-plan', densePlan, denseSize],
    ['sparse', sparse, sparseSize],
    ['shrunk', shrunk, shrunkSize],
    ['shrunk-predict', shrunkPredict, shrunkSize],
  ];
  const rows: InferenceRow[] = [];
  for (const batch of c.batches) {
    const x = tf.randomNormal([batch, ...c.inputShape], 0, 1, 'float32', 11);
    // Calls per round from a first timing, so that a round of all variants takes about budgetMs / ROUNDS.
    const [probe] = timeInterleaved([c.dense], x, 1, 1);
    const calls = Math.max(1, Math.min(200, Math.round(budgetMs / ROUNDS / variants.length / Math.max(probe.min, 0.01))));
    const times = timeInterleaved(
      variants.map((v) => v[1]),
      x,
      ROUNDS,
      calls,
    );
    variants.forEach(([variant, , size], k) => {
      rows.push({
        model: c.model,
        batch,
        backend,
        sparsity: c.sparsity,
        variant,
        minMs: times[k].min,
        medianMs: times[k].median,
        ...size,
        ...(variant.startsWith('shrunk') ? { kept: keptText(plan) } : {}),
      });
    });
    x.dispose();
  }
  for (const m of [sparse, shrunk, densePlan, shrunkPredict]) m.dispose();
  return rows;
}

export interface InferenceOptions {
  workloads: { workload: Workload; batches: number[] }[];
  sparsities: number[];
  backends: string[];
  /** Model directories (model.json + weights.bin, e.g. `sparsify export`) measured as they are. */
  trained: string[];
  /** Rough time per (case, batch) in ms. */
  budgetMs: number;
  log: (s: string) => void;
}

async function loadTrained(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const bin = readFileSync(join(dir, 'weights.bin'));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  );
}

export async function measureInference(o: InferenceOptions): Promise<InferenceResult> {
  const notes: string[] = [];
  let L: Layers;
  try {
    const specifier = '@sparsify/layers';
    L = (await import(specifier)) as Layers;
  } catch (e) {
    return { rows: [], notes: [`@sparsify/layers not built (npm run build): inference skipped (${(e as Error).message.split('\n')[0]})`] };
  }
  const rows: InferenceRow[] = [];
  for (const backend of o.backends) {
    if (!(await tf.setBackend(backend))) {
      notes.push(`${backend}: not available in this process, skipped`);
      continue;
    }
    for (const { workload, batches } of o.workloads) {
      const build = () => workload.build(1);
      const reference = build();
      for (const sparsity of o.sparsities) {
        o.log(`inference: ${workload.name} ${sparsity * 100}% on ${backend}…`);
        const dense = cloneModel(build, reference);
        pruneUnstructured(dense, sparsity);
        const zeros = kernelsOf(dense).reduce((n, w) => n + Math.floor(sparsity * w.read().size), 0);
        const structured = structuredTwin(L, build, reference, countParams(dense) - zeros);
        rows.push(
          ...(await measureCase(
            L,
            { model: workload.name, batches, sparsity, dense, structured, inputShape: workload.inputShape },
            backend,
            o.budgetMs,
          )),
        );
        dense.dispose();
        structured.dispose();
      }
      reference.dispose();
    }
    for (const dir of o.trained) {
      o.log(`inference: ${dir} on ${backend}…`);
      const model = await loadTrained(dir);
      const inputShape = model.inputs[0].shape.slice(1) as number[];
      rows.push(
        ...(await measureCase(
          L,
          { model: `trained: ${basename(dir)}`, batches: [1, 32], sparsity: kernelSparsity(model), dense: model, inputShape },
          backend,
          o.budgetMs,
        )),
      );
      model.dispose();
    }
  }
  return { rows, notes };
}
