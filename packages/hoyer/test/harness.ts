import * as tf from '@tensorflow/tfjs';
import {
  createTrainStep,
  disposeMasks,
  disposeOptimizer,
  measureSparsity,
  pruneByMagnitude,
  selectParams,
  type Penalty,
} from '@sparsify/core';

import { accuracy } from '@sparsify/conformance';
import { mlp, sparseTask } from './helpers.js';

export { accuracy, mlp, sparseTask };

export interface Run {
  /** Test accuracy after the (penalised or dense) training phase, before pruning. */
  trained: number;
  /** Right after one-shot global pruning. */
  pruned: number;
  /** After fine-tuning with the fixed mask. */
  finetuned: number;
  /** Achieved sparsity of the kernels. */
  sparsity: number;
  /** Input features whose every first-layer weight is 0 after pruning (emergent structure). */
  deadInputs: number;
}

/**
 * Trains `epochs` epochs (Adam, batch 64) with `penalty` (none: the dense baseline), prunes the kernels
 * globally to `sparsity` with core's pruneByMagnitude (strict >), then fine-tunes `finetuneEpochs`
 * with the fixed mask, the penalty off and a fresh optimizer (docs/conventions.md, "Fine-tuning with a fixed mask").
 */
export function trainPruneFinetune(options: {
  penalty?: Penalty;
  seed: number;
  epochs: number;
  finetuneEpochs: number;
  sparsity: number;
  lr?: number;
}): Run {
  const { xTrain, yTrain, xTest, yTest } = sparseTask();
  const model = mlp(options.seed);
  const batches: [tf.Tensor, tf.Tensor][] = [];
  for (let i = 0; i < xTrain.shape[0]; i += 64) batches.push([tf.slice(xTrain, i, 64), tf.slice(yTrain, i, 64)]);
  const lr = options.lr ?? 1e-2;
  const optimizer = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  const step = createTrainStep({ model, optimizer, penalties: options.penalty ? [options.penalty] : [] });
  for (let e = 0; e < options.epochs; e++) {
    for (const [x, y] of batches) step.run(x, y);
    step.endEpoch();
  }
  const trained = accuracy(model, xTest, yTest);
  const kernels = selectParams(model);
  const masks = pruneByMagnitude(kernels, { sparsity: options.sparsity });
  const pruned = accuracy(model, xTest, yTest);
  const fresh = tf.train.adam(lr / 2, 0.9, 0.999, 1e-8);
  const finetune = createTrainStep({ model, optimizer: fresh, masks });
  for (let e = 0; e < options.finetuneEpochs; e++) for (const [x, y] of batches) finetune.run(x, y);
  const finetuned = accuracy(model, xTest, yTest);
  const sparsity = measureSparsity(kernels).global;
  const deadInputs = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.max(tf.abs(kernels[0].variable), 1), 0), 'int32')).dataSync()[0]);
  step.dispose();
  finetune.dispose();
  disposeMasks(masks);
  disposeOptimizer(optimizer);
  disposeOptimizer(fresh);
  options.penalty?.dispose();
  model.dispose();
  batches.flat().forEach((t) => t.dispose());
  [xTrain, yTrain, xTest, yTest].forEach((t) => t.dispose());
  return { trained, pruned, finetuned, sparsity, deadInputs };
}
