import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainStep, measureSparsity, pruneByMagnitude, selectParams, softmaxCrossEntropy } from '../src/index.js';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { TestL1, tinyBatch, tinyModel } from './helpers.js';

beforeAll(() => useTestBackend());

describe('TrainStep', () => {
  it('keeps masked weights exactly 0 over 200 steps of momentum + weight decay + L1', () => {
    const model = tinyModel();
    const params = selectParams(model);
    const masks = pruneByMagnitude(params, { sparsity: 0.7 });
    const l1 = new TestL1({ strength: 1e-3 });
    const step = createTrainStep({ model, optimizer: tf.train.momentum(0.05, 0.9), weightDecay: 1e-3, penalties: [l1], masks });
    const { x, y } = tinyBatch();
    const zerosBefore = masks.map((m) => Array.from(m.mask.dataSync()).map((v) => v === 0));
    let first = 0;
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const r = step.run(x, y);
      if (i === 0) first = r.taskLoss;
      last = r.taskLoss;
    }
    expect(last).toBeLessThan(first);
    params.forEach((p, i) => {
      const w = p.variable.dataSync();
      zerosBefore[i].forEach((wasPruned, j) => {
        if (wasPruned) expect(w[j] === 0).toBe(true); // -0 counts as an exact zero
      });
    });
    expect(measureSparsity(params).global).toBeGreaterThanOrEqual(0.7);
  });

  it('reports the batch accuracy of the same forward pass', () => {
    const model = tinyModel(8);
    const step = createTrainStep({ model, optimizer: tf.train.sgd(0) });
    const { x, y } = tinyBatch(9);
    const expected = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, 1), y), 'float32')).dataSync()[0]);
    expect(step.run(x, y).accuracy).toBeCloseTo(expected, 6);
    const oneHot = tf.oneHot(tf.cast(y, 'int32'), 4);
    expect(step.run(x, oneHot).accuracy).toBeCloseTo(expected, 6);
  });

  it('updates exactly as one tape over task loss + penalty, then the optimizer, would (momentum, SGD)', () => {
    for (const makeOptimizer of [() => tf.train.momentum(0.05, 0.9, true), () => tf.train.sgd(0.05)]) {
      const [fused, reference] = [tinyModel(11), tinyModel(11)];
      const step = createTrainStep({ model: fused, optimizer: makeOptimizer(), penalties: [new TestL1({ strength: 1e-2 })] });
      const penalty = new TestL1({ strength: 1e-2 });
      penalty.bind(selectParams(reference));
      const optimizer = makeOptimizer();
      const variables = reference.trainableWeights.map((w) => w.read() as tf.Variable);
      const { x, y } = tinyBatch(12);
      for (let i = 0; i < 5; i++) {
        const result = step.run(x, y);
        const loss = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const task = softmaxCrossEntropy(y, reference.apply(x, { training: true }) as tf.Tensor);
            return tf.add(task, penalty.loss({ step: i, epoch: 0 })) as tf.Scalar;
          }, variables);
          optimizer.applyGradients(grads);
          return value.dataSync()[0];
        });
        expect(result.loss).toBeCloseTo(loss, 5);
      }
      fused.trainableWeights.forEach((w, i) => expect(Array.from(w.read().dataSync())).toEqual(Array.from(variables[i].dataSync())));
    }
  });

  it('does not grow the tensor count over 500 steps', () => {
    const model = tinyModel(5);
    const step = createTrainStep({
      model,
      optimizer: tf.train.momentum(0.01, 0.9),
      weightDecay: 1e-4,
      penalties: [new TestL1({ strength: 1e-4 })],
    });
    const { x, y } = tinyBatch(7);
    for (let i = 0; i < 5; i++) step.run(x, y); // optimizer slots are created lazily
    const before = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) step.run(x, y);
    expect(tf.memory().numTensors).toBe(before);
  });

  /** What the backend holds: live tensors, data buffers, their bytes, and (wasm) the module's heap size. */
  function footprint(): { tensors: number; buffers: number; bytes: number; heapBytes?: number } {
    const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
    return {
      tensors: tf.memory().numTensors,
      buffers: tf.backend().numDataIds(),
      bytes: tf.memory().numBytes,
      ...(heap ? { heapBytes: heap.byteLength } : {}),
    };
  }

  it('keeps tensors, data buffers and the wasm heap flat over 50 steps of a small residual conv net with BatchNorm and a penalty', () => {
    // ResNet-20 in miniature: conv → BN → ReLU, a strided block with a projection shortcut, global pooling.
    const init = (s: number) => ({ kernelInitializer: tf.initializers.glorotNormal({ seed: 60 + s }), useBias: false });
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = (filters: number, kernelSize: number, strides: number, at: tf.SymbolicTensor, s: number) =>
      tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', ...init(s) }).apply(at) as tf.SymbolicTensor;
    const bnRelu = (at: tf.SymbolicTensor) => tf.layers.reLU().apply(tf.layers.batchNormalization().apply(at)) as tf.SymbolicTensor;
    const stem = bnRelu(conv(4, 3, 1, input, 1));
    const branch = tf.layers.batchNormalization().apply(conv(8, 3, 1, bnRelu(conv(8, 3, 2, stem, 2)), 3)) as tf.SymbolicTensor;
    const sum = tf.layers.add().apply([branch, conv(8, 1, 2, stem, 4)]) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(tf.layers.reLU().apply(sum)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, ...init(5) }).apply(pooled) as tf.SymbolicTensor });
    const step = createTrainStep({
      model,
      optimizer: tf.train.momentum(0.01, 0.9),
      penalties: [new TestL1({ strength: 1e-4 })],
    });
    const x = tf.randomNormal([8, 8, 8, 3], 0, 1, 'float32', 66);
    const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3]);
    // The first steps create the optimizer's slots and let the wasm allocator reach its working size.
    for (let i = 0; i < 5; i++) step.run(x, y);
    const before = footprint();
    const first = step.run(x, y).loss;
    let last = first;
    for (let i = 0; i < 49; i++) last = step.run(x, y).loss;
    expect(footprint()).toEqual(before);
    expect(last).toBeLessThan(first); // it trains: the steps are real
    step.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });

  /** conv → BatchNormalization → ReLU (layer and activation) → dense: what `layerOps` rewrites. */
  function bnModel(seed: number): tf.LayersModel {
    const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
    const model = tf.sequential();
    model.add(
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }),
    );
    model.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 }));
    model.add(tf.layers.reLU());
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 3, kernelInitializer: init(2) }));
    return model;
  }

  it("runs BatchNormalization and ReLU layers as core's layer ops (layerOps), with the same updates and moving statistics as the layers", () => {
    const [fast, plain] = [bnModel(21), bnModel(21)];
    const x = tf.randomNormal([5, 6, 6, 2], 0.5, 2, 'float32', 22);
    const y = tf.tensor1d([0, 1, 2, 1, 0]);
    const steps = [fast, plain].map((model, i) =>
      createTrainStep({
        model,
        optimizer: tf.train.momentum(0.05, 0.9),
        ...(i === 1 ? { layerOps: false, skipInputGradients: false } : {}),
      }),
    );
    for (let i = 0; i < 5; i++) {
      const [a, b] = steps.map((s) => s.run(x, y).loss);
      expect(a).toBeCloseTo(b, 5);
    }
    // Every weight, the moving mean and variance included, to float32 rounding.
    fast.weights.forEach((w, i) => {
      const [got, want] = [Array.from(w.read().dataSync()), Array.from(plain.weights[i].read().dataSync())];
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      got.forEach((v, j) => expect(Math.abs(v - want[j]), `${w.name}[${j}]`).toBeLessThanOrEqual(1e-5 * scale));
    });
    // The layers' own calls are back: inference runs the stored statistics.
    expect(Object.hasOwn(fast.layers[1], 'call')).toBe(false);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) steps[0].run(x, y);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});
