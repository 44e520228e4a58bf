import * as tf from '@tensorflow/tfjs';
import { createTrainStep, disposeMasks, disposeOptimizer, pruneByMagnitude, softmaxCrossEntropy, type TaskLoss } from '@sparsify/core';
import { art, hyperSparse, probePrunedAccuracy, type ArtDecision } from '@sparsify/hypersparse';

/** Warm-up, ART with HyperSparse until the stop rule, then fine-tuning of the selected probe with its mask. */
export async function artLoop(model: tf.LayersModel, batches: [tf.Tensor, tf.Tensor][], x: tf.Tensor, y: tf.Tensor, kappa = 0.9) {
  const accuracy = () => tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, 1), y), 'float32')).dataSync()[0]);
  // α = 1e-3·1.2^k after 10 dense epochs, for this small model (CIFAR: alphaInit 5e-6, growth 1.05, 60 warm-up epochs).
  const controller = art<tf.Tensor[]>({ alphaInit: 1e-3, growth: 1.2, warmupEpochs: 10, maxEpochs: 40, onDiscard: (s) => tf.dispose(s) });
  const penalty = hyperSparse({ sparsity: kappa, strength: controller.strength });
  let correct = 0; // acc_dense: running top-1 of the epoch, counted from the training forward pass
  let seen = 0;
  const loss: TaskLoss = (labels, logits) => {
    correct += tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')).dataSync()[0]);
    seen += labels.shape[0];
    return softmaxCrossEntropy(labels, logits);
  };
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty], loss });
  const log: string[] = [];
  let decision: ArtDecision<tf.Tensor[]> | undefined;
  for (let epoch = 0; !decision?.stop; epoch++) {
    correct = seen = 0;
    for (const [xb, yb] of batches) step.run(xb, yb);
    const diagnostics = penalty.diagnostics(step.context); // { alpha, t, s, c, kappa }: the loss value is always 0
    step.endEpoch();
    if (epoch < controller.warmupEpochs) continue;
    log.push(JSON.stringify(diagnostics));
    const probe = await probePrunedAccuracy({ params: penalty.params, sparsity: kappa, evaluate: accuracy, keepPruned: true });
    decision = controller.observe({ epoch: epoch - controller.warmupEpochs, denseAccuracy: correct / seen, prunedAccuracy: probe.accuracy, snapshot: probe.pruned });
  }
  // The live model becomes the selected probe; core's masks at κ reproduce its non-zero pattern exactly.
  const snapshot = decision.selected?.snapshot;
  if (snapshot) penalty.params.forEach((p, i) => p.variable.assign(snapshot[i]));
  tf.dispose(snapshot);
  const masks = pruneByMagnitude(penalty.params, { sparsity: kappa });
  const fresh = tf.train.momentum(0.05, 0.9); // new optimizer, penalty off, mask fixed
  const finetune = createTrainStep({ model, optimizer: fresh, weightDecay: 1e-4, masks });
  for (let epoch = 0; epoch < 5; epoch++) for (const [xb, yb] of batches) finetune.run(xb, yb);
  [penalty, step, finetune].forEach((d) => d.dispose());
  [optimizer, fresh].forEach(disposeOptimizer);
  disposeMasks(masks);
  return { reason: decision.reason, selectedEpoch: decision.selected?.epoch, accuracy: accuracy(), log };
}
