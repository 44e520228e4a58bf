import * as tf from '@tensorflow/tfjs';
import { setHelperThreadEnabled } from '@sparsify/backend/node';
import { createTrainStep, disposeOptimizer } from '@sparsify/core';
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
