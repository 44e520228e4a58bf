import * as tf from '@tensorflow/tfjs';
import { isPruned, pruneLowMagnitude, pruningSummaries, removePruning, stripPruning, updatePruningStep } from '@sparsify/layers';
import { polynomialDecay } from '@sparsify/schedules';
import { disposeOptimizer } from '@sparsify/core';

// tfmot: prune_low_magnitude(model, pruning_schedule=PolynomialDecay(…)), fit with UpdatePruningStep,
// strip_pruning. The same three calls here, on a plain tfjs model and plain model.fit.
export async function tfmotStyle(): Promise<{ accuracy: number; sparsity: number; prunedBefore: boolean; prunedAfter: boolean; same: boolean }> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [20], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const optimizer = tf.train.adam(0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tf.randomNormal([512, 20], 0, 1, 'float32', 3);
  const y = tf.tidy(() => tf.oneHot(tf.argMax(tf.matMul(x, tf.randomNormal([20, 3], 0, 1, 'float32', 4)), 1), 3));

  // 16 batches an epoch: from step 16 to 96 up to 80% sparsity, every 16 steps; then 4 epochs at 80%.
  const prunedBefore = isPruned(model);
  pruneLowMagnitude(model, {
    pruningSchedule: polynomialDecay({ initialSparsity: 0, finalSparsity: 0.8, beginStep: 16, endStep: 96, frequency: 16 }),
  });
  const history = await model.fit(x, y, {
    epochs: 10,
    batchSize: 32,
    verbose: 0,
    callbacks: [updatePruningStep(), pruningSummaries()], // pruningSummaries: one line per epoch
  });

  const stripped = await stripPruning(model); // a plain LayersModel, masks baked in
  const prunedAfter = isPruned(stripped);
  const [a, b] = [model.predict(x) as tf.Tensor, stripped.predict(x) as tf.Tensor];
  const same = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] === 0);

  const accuracy = (history.history.acc as number[]).at(-1)!;
  const sparsity = (history.history.sparsity as number[]).at(-1)!;
  removePruning(model); // frees the masks
  model.dispose();
  stripped.dispose();
  tf.dispose([x, y, a, b]);
  disposeOptimizer(optimizer); // yours, not the model's
  return { accuracy, sparsity, prunedBefore, prunedAfter, same };
}
