import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '@sparsify/datasets/node';

/** Trains a small MLP for a few epochs on `spec` and returns the test accuracy. */
export function epochLoop(spec = 'synthetic:clusters:20', epochs = 3): { accuracy: number; batches: number } {
  const data = loadDataset(spec, { seed: 0, validation: 0.1, synthetic: { trainSize: 1024, testSize: 256 } });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [data.train.sampleSize], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: data.numClasses, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const optimizer = tf.train.sgd(0.1);
  let batches = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    // A new seeded order every epoch; float32 tensors exist for one batch at a time.
    for (const batch of data.train.batches(64, { shuffle: true, seed: 0, epoch, flatten: true })) {
      optimizer.minimize(() => {
        const logits = model.apply(batch.x, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(tf.oneHot(batch.y, data.numClasses), logits) as tf.Scalar;
      });
      batch.dispose(); // the caller owns each batch
      batches++;
    }
  }
  let correct = 0;
  for (const batch of data.test.batches(256, { flatten: true })) {
    correct += tf.tidy(() => {
      const predicted = tf.argMax(model.predict(batch.x) as tf.Tensor, 1);
      return tf.sum(tf.cast(tf.equal(predicted, batch.y), 'int32')).dataSync()[0];
    });
    batch.dispose();
  }
  optimizer.dispose();
  model.dispose();
  return { accuracy: correct / data.test.size, batches };
}
