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
    const step = createTrainStep({ model, optimizer: tf.train.momentum(0.01, 0.9), weightDecay: 1e-4, penalties: [new TestL1({ strength: 1e-4 })] });
    const { x, y } = tinyBatch(7);
    for (let i = 0; i < 5; i++) step.run(x, y); // optimizer slots are created lazily
    const before = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) step.run(x, y);
    expect(tf.memory().numTensors).toBe(before);
  });
});
