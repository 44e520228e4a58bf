import * as tf from '@tensorflow/tfjs';
import { createTrainStep, disposeMasks, disposeOptimizer, measureSparsity, pruneByMagnitude, selectParams } from '@sparsify/core';
import { hoyerSquare } from '@sparsify/hoyer';

export function customLoop(x: tf.Tensor, y: tf.Tensor, model: tf.LayersModel): { sparsity: number; accuracy: number } {
  // 1. Train with Hoyer-Square: loss = cross-entropy (batch mean) + λ·Σ_W ‖W‖₁²/‖W‖₂² over the kernels.
  const penalty = hoyerSquare({ strength: 1e-3 });
  const optimizer = tf.train.adam(1e-2, 0.9, 0.999, 1e-8);
  const step = createTrainStep({ model, optimizer, penalties: [penalty] });
  for (let epoch = 0; epoch < 20; epoch++) {
    for (let i = 0; i < x.shape[0]; i += 64) tf.tidy(() => void step.run(tf.slice(x, i, 64), tf.slice(y, i, 64)));
    step.endEpoch();
  }
  // 2. Prune 90% of the kernels globally (element-wise; structure is emergent), then fine-tune with the
  //    mask fixed, the penalty off and a fresh optimizer.
  const kernels = selectParams(model);
  const masks = pruneByMagnitude(kernels, { sparsity: 0.9 });
  const fresh = tf.train.adam(5e-3, 0.9, 0.999, 1e-8);
  const finetune = createTrainStep({ model, optimizer: fresh, masks });
  for (let epoch = 0; epoch < 5; epoch++) {
    for (let i = 0; i < x.shape[0]; i += 64) tf.tidy(() => void finetune.run(tf.slice(x, i, 64), tf.slice(y, i, 64)));
  }
  const accuracy = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, 1), y), 'float32')).dataSync()[0]);
  const sparsity = measureSparsity(kernels).global;
  [penalty, step, finetune].forEach((d) => d.dispose());
  [optimizer, fresh].forEach(disposeOptimizer);
  disposeMasks(masks);
  return { sparsity, accuracy };
}
