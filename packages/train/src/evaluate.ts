import * as tf from '@tensorflow/tfjs';
import { disposeBatch, iterateBatches } from './data.js';
import type { DataSplit } from './types.js';

/** Number of correct top-1 predictions in a batch (labels: indices or one-hot). */
export function correctCount(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const predicted = tf.argMax(logits, logits.rank - 1);
    const truth = labels.rank === logits.rank ? tf.argMax(labels, labels.rank - 1) : tf.cast(labels, 'int32');
    return tf.sum(tf.cast(tf.equal(predicted, truth), 'float32')) as tf.Scalar;
  });
}

function crossEntropySum(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = labels.rank === logits.rank ? labels : tf.oneHot(tf.cast(labels, 'int32'), logits.shape[logits.rank - 1]);
    return tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, undefined, tf.Reduction.SUM) as tf.Scalar;
  });
}

export interface Evaluation {
  accuracy: number;
  loss: number;
  samples: number;
}

/** Top-1 accuracy and mean cross-entropy of `model` (inference mode) on a split; nothing accumulates. */
export async function evaluate(model: tf.LayersModel, split: DataSplit, batchSize: number): Promise<Evaluation> {
  let correct = 0;
  let loss = 0;
  let samples = 0;
  for await (const batch of iterateBatches(split, batchSize, { shuffle: false, seed: 0, epoch: 0 })) {
    const { x: xs, y: ys } = batch;
    try {
      const sums = tf.tidy(() => {
        const logits = model.apply(xs, { training: false }) as tf.Tensor;
        return tf.stack([correctCount(ys, logits), crossEntropySum(ys, logits)]);
      });
      const [c, l] = sums.dataSync();
      sums.dispose();
      correct += c;
      loss += l;
      samples += xs.shape[0];
    } finally {
      disposeBatch(batch);
    }
  }
  return { accuracy: samples ? correct / samples : 0, loss: samples ? loss / samples : 0, samples };
}
