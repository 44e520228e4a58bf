import * as tf from '@tensorflow/tfjs';
import { createTrainStep, disposeOptimizer, measureSparsity, pruneByMagnitude, selectParams } from '@sparsify/core';
import { halo } from '@sparsify/halo';

export function trainWithHalo(model: tf.LayersModel, batches: [tf.Tensor, tf.Tensor][], epochs: number) {
  // One trainable λ per kernel weight. Weight decay on λ is what makes λ adapt (λ⁴ → 2ξ|w|/wd).
  const penalty = halo({ xi: 3e-4, psi: 0, lambdaWeightDecay: 3e-2 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  // The λ's get their own copy of the model optimizer and their own coupled weight decay.
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty] });
  let lambdas = {};
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const [x, y] of batches) step.run(x, y);
    step.endEpoch();
    lambdas = penalty.diagnostics(step.context); // λ and ξ/λ² quantiles, for your logs
  }
  // HALO's procedure: one-shot global magnitude pruning after training, no fine-tuning.
  const kernels = selectParams(model);
  const masks = pruneByMagnitude(kernels, { sparsity: 0.95 });
  const sparsity = measureSparsity(kernels).global;
  masks.forEach((m) => m.mask.dispose());
  [step, penalty].forEach((d) => d.dispose());
  disposeOptimizer(optimizer);
  return { sparsity, lambdas };
}
