import * as tf from '@tensorflow/tfjs';
import { setHelperThreadEnabled } from '@sparsify/backend/node';
import { createTrainStep, disposeOptimizer } from '@sparsify/core';
import { expect, it } from 'vitest';
import { hyperSparse } from '../src/index.js';

export const bits = (t: tf.Tensor) => Array.from(new Int32Array((t.dataSync() as Float32Array).slice().buffer));

/** Weights (as bits), HyperSparse's diagnostics and the losses after `steps` steps of a small MLP. */
export function train(helper: boolean, steps: number, options: { thresholdEvery?: number } = {}) {
  setHelperThreadEnabled(helper);
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotNormal({ seed }) });
  const model = tf.sequential({
    layers: [
      // 300 and 67 weights: whole vectors, and a tail of 3 in the second kernel
      tf.layers.dense({ inputShape: [12], units: 25, activation: 'relu', ...init(1) }),
      tf.layers.dense({ units: 3, useBias: false, ...init(2) }),
    ],
  });
  model.add(tf.layers.dense({ units: 3, ...init(3) }));
  const x = tf.randomNormal([32, 12], 0, 1, 'float32', 4);
  const y = tf.tensor1d(
    Array.from({ length: 32 }, (_, i) => i % 3),
    'int32',
  );
  const penalty = hyperSparse({ sparsity: 0.8, strength: 0.05, ...options });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty] });
  const losses: number[] = [];
  const diagnostics: unknown[] = [];
  const tensors: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(step.run(x, y).loss);
    diagnostics.push(penalty.diagnostics(step.context));
    tensors.push(tf.memory().numTensors, tf.engine().backend.numDataIds());
  }
  const weights = model.trainableWeights.map((w) => bits(w.read()));
  step.dispose();
  penalty.dispose();
  disposeOptimizer(optimizer);
  [model, x, y].forEach((t) => t.dispose());
  return { weights, losses, diagnostics, tensors };
}

/** The training tests every backend with a helper thread must pass: the same bits as in place, flat counts. */
export function trainingMatchesInPlace(): void {
  it('trains bit for bit as with the pass in place: weights, losses, t, s and c', () => {
    const inPlace = train(false, 12);
    const overlapped = train(true, 12);
    expect(overlapped.weights).toEqual(inPlace.weights);
    expect(overlapped.losses).toEqual(inPlace.losses);
    expect(overlapped.diagnostics).toEqual(inPlace.diagnostics);
    expect((overlapped.diagnostics[11] as { c: number }).c).toBeGreaterThan(1);
  });

  it('also with the threshold kept between steps (thresholdEvery)', () => {
    expect(train(true, 7, { thresholdEvery: 3 }).weights).toEqual(train(false, 7, { thresholdEvery: 3 }).weights);
  });

  it("tf.memory().numTensors and the backend's data ids stay flat over the steps", () => {
    const { tensors } = train(true, 60);
    expect(tensors.slice(-2)).toEqual(tensors.slice(4, 6));
  });
}
