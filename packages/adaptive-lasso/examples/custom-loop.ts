import * as tf from '@tensorflow/tfjs';
import { createTrainStep, disposeMasks, disposeOptimizer, measureSparsity, pruneByMagnitude, selectParams } from '@sparsify/core';
import { adaptiveLasso } from '@sparsify/adaptive-lasso';

export function trainWithAdaptiveLasso(model: tf.LayersModel, batches: [tf.Tensor, tf.Tensor][], epochs: number) {
  // 5 dense warm-up epochs; then ŵ = the weights at that point, v = 1/(|ŵ| + ε) with ε = 1e-2·mean|ŵ|.
  const penalty = adaptiveLasso({ strength: 1e-3, gamma: 1, warmupEpochs: 5 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty] });
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const [x, y] of batches) step.run(x, y);
    step.endEpoch(); // the penalty takes its snapshot in this epoch hook
  }
  // One-shot global magnitude pruning, then a short fine-tune with fixed masks, penalty off, fresh optimizer.
  const kernels = selectParams(model);
  const masks = pruneByMagnitude(kernels, { sparsity: 0.95 });
  const fresh = tf.train.momentum(0.01, 0.9);
  const finetune = createTrainStep({ model, optimizer: fresh, weightDecay: 1e-4, masks });
  for (let epoch = 0; epoch < 3; epoch++) for (const [x, y] of batches) finetune.run(x, y);
  const sparsity = measureSparsity(kernels).global;
  disposeMasks(masks);
  [step, finetune, penalty].forEach((d) => d.dispose());
  [optimizer, fresh].forEach(disposeOptimizer);
  return sparsity;
}
