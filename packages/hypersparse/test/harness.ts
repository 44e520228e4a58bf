import * as tf from '@tensorflow/tfjs';
import {
  createTrainStep,
  disposeMasks,
  disposeOptimizer,
  measureSparsity,
  pruneByMagnitude,
  selectParams,
  softmaxCrossEntropy,
  type TaskLoss,
} from '@sparsify/core';
import { art, hyperSparse, probePrunedAccuracy, type ArtOptions } from '../src/index.js';

import { accuracy } from '@sparsify/conformance';
import { mlp, sparseTask } from './helpers.js';

export { accuracy, mlp, sparseTask };

export interface ArtRun {
  /** Warm-up + ART epochs trained before fine-tuning. */
  epochs: number;
  artEpochs: number;
  reason: 'crossed' | 'cap' | undefined;
  selectedEpoch: number | undefined;
  /** Test accuracy of the selected pruned probe, before fine-tuning. */
  pruned: number;
  finetuned: number;
  sparsity: number;
  /** Last α and c seen. */
  alpha: number;
  c: number;
  trace: string[];
}

const SGD = (lr: number) => tf.train.momentum(lr, 0.9);

/**
 * ART with HyperSparse (README, "ART") on the sparse task: warm-up, ART epochs with a probe each,
 * the selected probe restored and fine-tuned with its mask. SGD momentum 0.9, coupled wd 1e-4.
 */
export async function artRun(options: {
  seed: number;
  kappa: number;
  lr: number;
  finetuneEpochs: number;
  art: ArtOptions<tf.Tensor[]>;
}): Promise<ArtRun> {
  const { xTrain, yTrain, xTest, yTest } = sparseTask();
  const model = mlp(options.seed);
  const batches: [tf.Tensor, tf.Tensor][] = [];
  for (let i = 0; i < xTrain.shape[0]; i += 64) batches.push([tf.slice(xTrain, i, 64), tf.slice(yTrain, i, 64)]);
  const controller = art<tf.Tensor[]>({ ...options.art, onDiscard: (snapshot) => snapshot.forEach((t) => t.dispose()) });
  const penalty = hyperSparse({ sparsity: options.kappa, strength: controller.strength });
  // acc_dense is the running top-1 of the epoch just trained: count it from the training forward pass.
  let correct = 0;
  let seen = 0;
  const loss: TaskLoss = (labels, logits) => {
    correct += tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')).dataSync()[0]);
    seen += labels.shape[0];
    return softmaxCrossEntropy(labels, logits);
  };
  const optimizer = SGD(options.lr);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty], loss });
  const trace: string[] = [];
  for (let e = 0; e < controller.warmupEpochs; e++) {
    for (const [x, y] of batches) step.run(x, y);
    step.endEpoch();
  }
  let selected: { epoch: number; snapshot?: tf.Tensor[] } | undefined;
  let reason: 'crossed' | 'cap' | undefined;
  let alpha = 0;
  let c = 0;
  for (let k = 0; ; k++) {
    correct = 0;
    seen = 0;
    for (const [x, y] of batches) step.run(x, y);
    const d = penalty.diagnostics(step.context);
    alpha = d.alpha as number;
    c = d.c as number;
    step.endEpoch();
    const probe = await probePrunedAccuracy({
      params: penalty.params,
      sparsity: options.kappa,
      keepPruned: true,
      evaluate: () => accuracy(model, xTrain, yTrain),
    });
    const decision = controller.observe({
      epoch: k,
      denseAccuracy: correct / seen,
      prunedAccuracy: probe.accuracy,
      snapshot: probe.pruned,
    });
    trace.push(
      `k=${k} α=${alpha.toExponential(2)} c=${c.toFixed(3)} dense=${(correct / seen).toFixed(3)} pruned=${probe.accuracy.toFixed(3)}`,
    );
    if (decision.stop) {
      selected = decision.selected;
      reason = decision.reason;
      break;
    }
  }
  const artEpochs = controller.nextEpoch;
  // The live model becomes the selected probe; its mask is its non-zero pattern, which core's
  // magnitude masks at κ reproduce exactly (⌊κN⌋+1 zeros make t = 0, and only |w| > 0 is kept).
  if (selected?.snapshot) {
    penalty.params.forEach((p, i) => p.variable.assign(selected!.snapshot![i]));
    selected.snapshot.forEach((t) => t.dispose());
  }
  const kernels = selectParams(model);
  const masks = pruneByMagnitude(kernels, { sparsity: options.kappa });
  const pruned = accuracy(model, xTest, yTest);
  const fresh = SGD(options.lr);
  const finetune = createTrainStep({ model, optimizer: fresh, weightDecay: 1e-4, masks });
  for (let e = 0; e < options.finetuneEpochs; e++) for (const [x, y] of batches) finetune.run(x, y);
  const finetuned = accuracy(model, xTest, yTest);
  const sparsity = measureSparsity(kernels).global;
  step.dispose();
  finetune.dispose();
  disposeMasks(masks);
  disposeOptimizer(optimizer);
  disposeOptimizer(fresh);
  penalty.dispose();
  model.dispose();
  batches.flat().forEach((t) => t.dispose());
  [xTrain, yTrain, xTest, yTest].forEach((t) => t.dispose());
  return {
    epochs: controller.warmupEpochs + artEpochs,
    artEpochs,
    reason,
    selectedEpoch: selected?.epoch,
    pruned,
    finetuned,
    sparsity,
    alpha,
    c,
    trace,
  };
}

/** The baseline with the same budget: dense for `epochs`, one-shot global pruning to κ, the same fine-tuning. */
export function denseRun(options: { seed: number; kappa: number; lr: number; epochs: number; finetuneEpochs: number }) {
  const { xTrain, yTrain, xTest, yTest } = sparseTask();
  const model = mlp(options.seed);
  const batches: [tf.Tensor, tf.Tensor][] = [];
  for (let i = 0; i < xTrain.shape[0]; i += 64) batches.push([tf.slice(xTrain, i, 64), tf.slice(yTrain, i, 64)]);
  const optimizer = SGD(options.lr);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4 });
  for (let e = 0; e < options.epochs; e++) for (const [x, y] of batches) step.run(x, y);
  const dense = accuracy(model, xTest, yTest);
  const kernels = selectParams(model);
  const masks = pruneByMagnitude(kernels, { sparsity: options.kappa });
  const pruned = accuracy(model, xTest, yTest);
  const fresh = SGD(options.lr);
  const finetune = createTrainStep({ model, optimizer: fresh, weightDecay: 1e-4, masks });
  for (let e = 0; e < options.finetuneEpochs; e++) for (const [x, y] of batches) finetune.run(x, y);
  const finetuned = accuracy(model, xTest, yTest);
  const sparsity = measureSparsity(kernels).global;
  step.dispose();
  finetune.dispose();
  disposeMasks(masks);
  disposeOptimizer(optimizer);
  disposeOptimizer(fresh);
  model.dispose();
  batches.flat().forEach((t) => t.dispose());
  [xTrain, yTrain, xTest, yTest].forEach((t) => t.dispose());
  return { dense, pruned, finetuned, sparsity };
}
