import * as tf from '@tensorflow/tfjs';
import { registerSparsifyKernels } from '@sparsify/backend/node';
import { applyMasks, disposeMasks, magnitudeMasks, selectParams } from '@sparsify/core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackend, useTestBackend } from '../../../tools/testing/backends.js';
import {
  DENSE_INFERENCE_KERNEL,
  loadSparse,
  saveSparse,
  shrink,
  SparseDense,
  stripPruning,
  toSparseModel,
  withInferencePlan,
} from '../src/index.node.js';

/**
 * Sparse execution on this suite's backend (a matrix suite): a model loaded with `{ execute: 'sparse' }`
 * gives the dense model's outputs to float32 rounding, with the accelerator's kernels where they are
 * registered (cpu, wasm) and the op's plain version elsewhere.
 */

let dir: string;
beforeAll(async () => {
  await useTestBackend();
  registerSparsifyKernels();
  dir = await mkdtemp(join(tmpdir(), 'sparsify-sparse-execution-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type T = tf.SymbolicTensor;

/** Magnitude-pruned per layer to `sparsity`, stripped: every kernel that sparse. */
async function pruned(model: tf.LayersModel, sparsity: number): Promise<tf.LayersModel> {
  const { masks } = magnitudeMasks(selectParams(model), { sparsity, scope: 'layer' });
  applyMasks(masks);
  const stripped = await stripPruning(model, { masks });
  disposeMasks(masks);
  model.dispose();
  return stripped;
}

function lenet300100(): tf.LayersModel {
  const init = (seed: number) => ({
    kernelInitializer: tf.initializers.glorotNormal({ seed }),
    biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed + 10 }),
  });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 300, activation: 'relu', name: 'fc1', ...init(1) }),
      tf.layers.dense({ units: 100, activation: 'relu', name: 'fc2', ...init(2) }),
      tf.layers.dense({ units: 10, name: 'fc3', ...init(3) }),
    ],
  });
}

/** Outputs of both, and |a − b| ≤ `relative` × max|a|. */
function expectSameOutputs(
  dense: { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] },
  sparse: { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] },
  x: tf.Tensor,
  relative = 2e-6,
): void {
  tf.tidy(() => {
    const [a, b] = [dense.predict(x) as tf.Tensor, sparse.predict(x) as tf.Tensor];
    expect(b.shape).toEqual(a.shape);
    const scale = tf.max(tf.abs(a)).dataSync()[0];
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    expect(diff, `max |dense − sparse| ${diff}, scale ${scale}`).toBeLessThanOrEqual(relative * scale);
  });
}

describe(`sparse execution on ${testBackend()}`, () => {
  it('loadSparse(dir, { execute: "sparse" }) runs LeNet-300-100 at 95% sparse with the dense outputs', async () => {
    const model = await pruned(lenet300100(), 0.95);
    for (const [encoding, quantize] of [
      ['bitmask', null],
      ['csr', 'float16'],
    ] as const) {
      const path = join(dir, `lenet-${encoding}`);
      await saveSparse(model, path, { encoding, quantize });
      const dense = await loadSparse(path);
      const before = tf.memory().numTensors;
      const sparse = await loadSparse(path, { execute: 'sparse' });
      expect(sparse.layers.filter((l) => l.execution === 'sparse').map((l) => l.name)).toEqual(['fc1', 'fc2', 'fc3']);
      expect(sparse.layers[1]).toMatchObject({ className: 'Dense', nonZeros: 1499 }); // the strict quantile rule keeps |w| > t
      for (const batch of [1, 3, 15, 16, 17, 31, 32, 33, 64]) {
        const x = tf.randomNormal([batch, 784], 0, 1, 'float32', batch);
        expectSameOutputs(dense, sparse, x);
        expectSameOutputs(sparse.model, sparse, x);
        const held = tf.memory().numTensors;
        tf.dispose(sparse.predict(x));
        expect(tf.memory().numTensors).toBe(held);
        x.dispose();
      }
      // CSR holds 2 numbers per non-zero: 95% sparse kernels take a tenth of the dense floats.
      expect(sparse.model.countParams()).toBeLessThan(model.countParams() / 8);
      sparse.dispose();
      expect(tf.memory().numTensors).toBe(before);
      dense.dispose();
    }
    model.dispose();
  });

  it('runs sparse only the kernels at least minSparsity sparse', async () => {
    const model = await pruned(lenet300100(), 0.6);
    const path = join(dir, 'lenet-60');
    await saveSparse(model, path);
    const half = await loadSparse(path, { execute: 'sparse', minSparsity: 0.5 });
    const most = await loadSparse(path, { execute: 'sparse', minSparsity: 0.9 });
    expect(half.layers.filter((l) => l.execution === 'sparse')).toHaveLength(3);
    expect(most.layers.filter((l) => l.execution === 'sparse')).toHaveLength(0);
    const x = tf.randomNormal([4, 784], 0, 1, 'float32', 5);
    expectSameOutputs(model, half, x);
    expectSameOutputs(model, most, x);
    [half, most].forEach((m) => m.dispose());
    tf.dispose([x]);
    model.dispose();
  });

  it('runs 1×1 convolutions (strided too) sparse in a functional model with other layers around them', async () => {
    const input = tf.input({ shape: [9, 9, 6] });
    const conv = (filters: number, kernelSize: number, strides: number, name: string, activation: 'relu' | 'linear' = 'relu') =>
      tf.layers.conv2d({
        filters,
        kernelSize,
        strides,
        padding: 'same',
        activation,
        name,
        kernelInitializer: tf.initializers.glorotNormal({ seed: filters + kernelSize }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 2 }),
      });
    const a = conv(16, 1, 1, 'pointwise1').apply(input) as T;
    const b = conv(16, 3, 1, 'conv3x3', 'linear').apply(a) as T;
    const sum = tf.layers.add({}).apply([a, b]) as T;
    const c = conv(8, 1, 2, 'pointwise2', 'linear').apply(sum) as T;
    const flat = tf.layers.flatten().apply(tf.layers.maxPooling2d({ poolSize: 2 }).apply(c) as T) as T;
    const out = tf.layers
      .dense({ units: 5, activation: 'softmax', name: 'head', kernelInitializer: tf.initializers.glorotNormal({ seed: 9 }) })
      .apply(flat) as T;
    const model = await pruned(tf.model({ inputs: input, outputs: out }), 0.8);
    const sparse = await toSparseModel(model);
    expect(sparse.layers.filter((l) => l.execution === 'sparse').map((l) => l.name)).toEqual(['pointwise1', 'pointwise2', 'head']);
    expect(sparse.model.getLayer('pointwise2')).toBeInstanceOf(SparseDense);
    expect(sparse.planned).toBe(false); // not a chain: layer by layer
    const x = tf.randomNormal([3, 9, 9, 6], 0, 1, 'float32', 1);
    expectSameOutputs(model, sparse, x);
    sparse.dispose();
    x.dispose();
    model.dispose();
  });

  it('runs a chain of Flatten, Dense, Dropout and Activation layers as its inference plan, at every batch size', async () => {
    const dense = (units: number, activation: 'relu' | 'tanh' | 'linear', seed: number) =>
      tf.layers.dense({
        units,
        activation,
        kernelInitializer: tf.initializers.glorotNormal({ seed }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed + 10 }),
      });
    const model = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [6, 6, 2] }),
        dense(40, 'relu', 1),
        tf.layers.dropout({ rate: 0.5 }),
        dense(30, 'tanh', 2), // not fused into the matmul: Dense.call's own ops
        dense(20, 'linear', 3),
        tf.layers.activation({ activation: 'relu' }),
        dense(10, 'linear', 4),
        tf.layers.softmax(),
      ],
    });
    const stripped = await pruned(model, 0.9);
    // The 30-unit layer made dense again: a plan mixes sparse and dense steps.
    const third = stripped.layers[3];
    const [k, b] = third.getWeights();
    const full = [tf.randomNormal(k.shape, 0, 0.3, 'float32', 8), b.clone()];
    third.setWeights(full);
    tf.dispose(full);
    const start = tf.memory().numTensors;
    const sparse = await toSparseModel(stripped);
    expect(sparse.layers.filter((l) => l.execution === 'sparse').map((l) => l.className)).toEqual(['Dense', 'Dense', 'Dense']);
    expect(sparse.planned).toBe(true);
    for (const batch of [1, 2, 3, 33]) {
      const x = tf.randomNormal([batch, 6, 6, 2], 0, 1, 'float32', batch);
      expectSameOutputs(stripped, sparse, x); // where no sparse kernel runs, the first call keeps dense kernels
      const before = tf.memory().numTensors;
      expectSameOutputs(stripped, sparse, x);
      tf.dispose(sparse.predict(x) as tf.Tensor);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
    // Inputs the plan does not take go layer by layer, with the same outputs.
    const wide = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 4);
    expectSameOutputs(stripped, { predict: (x) => sparse.predict([x]) }, wide);
    wide.dispose();
    sparse.dispose();
    expect(tf.memory().numTensors).toBe(start);
    stripped.dispose();
  });

  it("shrink's model predicts through its plan with the outputs of the model it came from, and stays a LayersModel", async () => {
    const init = (seed: number) => ({
      kernelInitializer: tf.initializers.glorotNormal({ seed }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed + 10 }),
    });
    const model = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [7, 7, 1] }),
        tf.layers.dense({ units: 32, activation: 'relu', ...init(1) }),
        tf.layers.dense({ units: 16, activation: 'elu', ...init(2) }),
        tf.layers.dense({ units: 10, activation: 'softmax', ...init(3) }),
      ],
    });
    // Neurons 0–19 of the first layer and 0–7 of the second dead (no input reaches them, bias 0).
    for (const [layer, dead] of [
      [model.layers[1], 20],
      [model.layers[2], 8],
    ] as const) {
      const [kernel, bias] = layer.getWeights();
      const units = kernel.shape[1] as number;
      const zeroed = [kernel, bias].map((t) =>
        tf.tensor(
          Float32Array.from(t.dataSync(), (v, i) => (i % units < dead ? 0 : v)),
          t.shape,
        ),
      );
      layer.setWeights(zeroed);
      tf.dispose(zeroed);
    }
    const shrunk = await shrink(model, { warn: null });
    const general = await shrink(model, { warn: null, plan: false });
    expect(shrunk).toBeInstanceOf(tf.LayersModel);
    expect(shrunk.layers.map((l) => (l.getConfig() as { units?: number }).units)).toEqual([undefined, 12, 8, 10]);
    expect(shrunk.predict).not.toBe(general.predict);
    for (const batch of [1, 2, 5]) {
      const x = tf.randomNormal([batch, 7, 7, 1], 0, 1, 'float32', batch);
      const before = tf.memory().numTensors;
      expectSameOutputs(model, shrunk, x);
      expectSameOutputs(general, shrunk, x);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
    // The plan reads the weights at each call: new weights show at once, as in the general path.
    const fresh = shrunk.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.5, 'float32', 20 + i));
    shrunk.setWeights(fresh);
    general.setWeights(fresh);
    tf.dispose(fresh);
    const x = tf.randomNormal([3, 7, 7, 1], 0, 1, 'float32', 9);
    expectSameOutputs(general, shrunk, x);
    // Its relu and elu Dense layers as the accelerator's kernel where it registers one (tensorflow), else
    // as tfjs's fused matmul; the softmax one (an activation tfjs does not fuse) through Dense.call.
    const kernelNames = (await tf.profile(() => shrunk.predict(x))).kernels.map((k) => k.name);
    const own = testBackend() === 'tensorflow';
    expect(kernelNames.filter((k) => k === DENSE_INFERENCE_KERNEL)).toHaveLength(own ? 2 : 0);
    expect(kernelNames.filter((k) => k === '_FusedMatMul')).toHaveLength(own ? 1 : 3);
    // Inputs the plan does not take go to LayersModel.predict, with its checks.
    expect(() => shrunk.predict(tf.zeros([3, 49]))).toThrow(/expected .* to have 4 dimension\(s\)/);
    tf.dispose(x);
    [model, shrunk, general].forEach((m) => m.dispose());
  });

  it('plans Dense layers with and without a bias, linear, relu and elu, with the outputs of predict', async () => {
    const dense = (units: number, activation: 'linear' | 'relu' | 'elu', useBias: boolean, seed: number) =>
      tf.layers.dense({
        units,
        activation,
        useBias,
        kernelInitializer: tf.initializers.glorotNormal({ seed }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: seed + 10 }),
      });
    const layers = [dense(7, 'linear', false, 1), dense(6, 'relu', true, 2), dense(5, 'elu', false, 3), dense(4, 'linear', true, 4)];
    const model = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [5] }), ...layers] });
    const general = { predict: model.predict.bind(model) };
    const planned = withInferencePlan(model);
    for (const batch of [1, 3]) {
      const x = tf.randomNormal([batch, 5], 0, 2, 'float32', batch);
      const before = tf.memory().numTensors;
      expectSameOutputs(general, planned, x);
      expect(tf.memory().numTensors).toBe(before);
      const kernelNames = (await tf.profile(() => planned.predict(x))).kernels.map((k) => k.name);
      const own = testBackend() === 'tensorflow';
      expect(kernelNames.filter((k) => k === DENSE_INFERENCE_KERNEL)).toHaveLength(own ? 4 : 0);
      x.dispose();
    }
    model.dispose();
  });

  it('rejects an unknown execution mode or minSparsity, naming the value', async () => {
    await expect(loadSparse(join(dir, 'lenet-60'), { execute: 'fast' as never })).rejects.toThrow(
      /execute must be one of "sparse"; got "fast"/,
    );
    await expect(loadSparse(join(dir, 'lenet-60'), { execute: 'sparse', minSparsity: 2 })).rejects.toThrow(
      /minSparsity must be a number in \[0, 1\]; got 2/,
    );
  });
});
