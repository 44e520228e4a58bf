import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  createTrainStep,
  disposeOptimizer,
  measureSparsity,
  pruneByMagnitude,
  safeL1,
  selectParams,
  type TrainingContext,
} from '@sparsify/core';

// A penalty is one idea: a differentiable scalar computed from the parameters it is bound to.
class L1 extends BasePenalty {
  readonly name = 'my-l1';
  protected term(_ctx: TrainingContext): tf.Scalar {
    return safeL1(...this.params.map((p) => p.variable));
  }
}

export function customLoop(): { sparsity: number; accuracy: number } {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [20], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const x = tf.randomNormal([512, 20], 0, 1, 'float32', 3);
  const y = tf.tidy(() => tf.argMax(tf.matMul(x, tf.randomNormal([20, 3], 0, 1, 'float32', 4)), 1));
  const batches = Array.from({ length: 8 }, (_, i) => [tf.slice(x, i * 64, 64), tf.slice(y, i * 64, 64)]);

  // 1. Train with the penalty: loss = cross-entropy + λ·Σ|w|, coupled weight decay, momentum.
  const penalty = new L1({ strength: 1e-4 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty] });
  for (let epoch = 0; epoch < 20; epoch++) {
    for (const [xb, yb] of batches) step.run(xb, yb);
    step.endEpoch();
  }

  // 2. Prune 90% of the kernels globally, then fine-tune with fixed masks, penalty off, fresh optimizer.
  const kernels = selectParams(model);
  const masks = pruneByMagnitude(kernels, { sparsity: 0.9 });
  const fresh = tf.train.momentum(0.01, 0.9);
  const finetune = createTrainStep({ model, optimizer: fresh, weightDecay: 1e-4, masks });
  for (let epoch = 0; epoch < 5; epoch++) for (const [xb, yb] of batches) finetune.run(xb, yb);

  const accuracy = tf.tidy(() =>
    tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, 1), y), 'float32')).dataSync()[0],
  );
  const sparsity = measureSparsity(kernels).global;
  [penalty, step, finetune, model, x, y].forEach((d) => d.dispose());
  [optimizer, fresh].forEach(disposeOptimizer);
  masks.forEach((m) => m.mask.dispose());
  batches.flat().forEach((t) => t.dispose());
  return { sparsity, accuracy };
}
