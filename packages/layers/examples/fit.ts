import * as tf from '@tensorflow/tfjs';
import { BasePenalty, disposeOptimizer, safeL1, type TrainingContext } from '@sparsify/core';
import { fitWithPenalties, loadSparse, pruningSummaries, saveSparse, stripPruning } from '@sparsify/layers/node';
import { Pruner, polynomialDecay } from '@sparsify/schedules';

// Any @sparsify penalty works the same way (HALO, Hoyer-Square, HyperSparse…); a two-line L1 here.
class L1 extends BasePenalty {
  readonly name = 'my-l1';
  protected term(_ctx: TrainingContext): tf.Scalar {
    return safeL1(...this.params.map((p) => p.variable));
  }
}

export async function kerasStyle(dir: string): Promise<{ accuracy: number; sparsity: number; ratio: number; same: boolean }> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [20], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const optimizer = tf.train.momentum(0.05, 0.9);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tf.randomNormal([512, 20], 0, 1, 'float32', 3);
  const y = tf.tidy(() => tf.oneHot(tf.argMax(tf.matMul(x, tf.randomNormal([20, 3], 0, 1, 'float32', 4)), 1), 3));

  // 460 training samples after the 10% validation split: 15 batches per epoch. Prune from step 30 to
  // 150 (epochs 2–10) to 90%, every 15 steps; then 4 epochs at the final masks. No earlyStopping on
  // val_loss here: each pruning step raises it, so it would stop the schedule short of its target.
  const pruner = new Pruner(model, {
    schedule: polynomialDecay({ initialSparsity: 0, finalSparsity: 0.9, beginStep: 30, endStep: 150, frequency: 15 }),
  });
  const penalty = new L1({ strength: 1e-4 });
  const history = await fitWithPenalties(model, x, y, {
    epochs: 14,
    batchSize: 32,
    validationSplit: 0.1,
    verbose: 0,
    penalties: [penalty],
    weightDecay: 1e-4,
    pruning: pruner,
    callbacks: [
      pruningSummaries({ source: pruner, log: false }), // per-layer sparsity and thresholds each epoch
    ],
  });

  // Export: masks baked in, then a compact sparse file set that loads back as a plain LayersModel.
  const stripped = await stripPruning(model, { masks: pruner.masks() });
  const { ratio } = await saveSparse(stripped, dir, { encoding: 'bitmask' });
  const loaded = await loadSparse(dir);
  const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
  const same = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] === 0);

  const accuracy = (history.history.acc as number[]).at(-1)!;
  const sparsity = (history.history.sparsity as number[]).at(-1)!;
  [model, stripped, loaded, pruner, penalty, x, y, a, b].forEach((d) => d.dispose());
  disposeOptimizer(optimizer); // yours, not the model's: model.dispose() leaves it
  return { accuracy, sparsity, ratio, same };
}
