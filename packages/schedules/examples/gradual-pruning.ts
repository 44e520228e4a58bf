import * as tf from '@tensorflow/tfjs';
import { createTrainStep, disposeOptimizer, measureSparsity } from '@sparsify/core';
import { Pruner, polynomialDecay } from '@sparsify/schedules';

export function gradualPruning(): { sparsity: number; accuracy: number; state: string } {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [20], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const x = tf.randomNormal([512, 20], 0, 1, 'float32', 3);
  const y = tf.tidy(() => tf.argMax(tf.matMul(x, tf.randomNormal([20, 3], 0, 1, 'float32', 4)), 1));
  const batches = Array.from({ length: 8 }, (_, i) => [tf.slice(x, i * 64, 64), tf.slice(y, i * 64, 64)]);

  // Zhu & Gupta's cubic schedule, as tfmot's PolynomialDecay: 0 → 90% between steps 40 and 120, masks
  // recomputed every 8 steps (one global ranking, the default), then 40 steps of fine-tuning at fixed masks.
  const schedule = polynomialDecay({ initialSparsity: 0, finalSparsity: 0.9, beginStep: 40, endStep: 120, frequency: 8 });
  const pruner = new Pruner(model, { schedule });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4 });
  for (let epoch = 0; epoch < 20; epoch++) {
    for (const [xb, yb] of batches) {
      // Before each update: new masks when the schedule says so; the step masks gradients and weights.
      if (pruner.onStep(step.context.step)) step.setMasks(pruner.masks());
      step.run(xb, yb);
    }
    step.endEpoch();
  }
  // A checkpoint: plain JSON (step, last sparsity, 0/1 masks); `pruner.setState(JSON.parse(state))` restores it.
  const state = JSON.stringify(pruner.getState());

  const accuracy = tf.tidy(() =>
    tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, 1), y), 'float32')).dataSync()[0],
  );
  const sparsity = measureSparsity(pruner.params).global;
  [pruner, step, model, x, y].forEach((d) => d.dispose());
  disposeOptimizer(optimizer);
  batches.flat().forEach((t) => t.dispose());
  return { sparsity, accuracy, state };
}
