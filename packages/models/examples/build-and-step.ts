import * as tf from '@tensorflow/tfjs';
import { createModel, parameterCounts } from '@sparsify/models';

/** Builds LeNet-300-100 by name (PyTorch-parity init, seeded) and takes one SGD step on random data. */
export function buildAndStep(): { kernels: number; logitsShape: number[]; lossBefore: number; lossAfter: number } {
  const model = createModel('lenet-300-100', { seed: 0 }); // outputs logits: no softmax layer
  const { kernels } = parameterCounts(model); // 266,200 dense-kernel weights (+ 410 biases)
  const x = tf.randomUniform([16, 28, 28, 1], 0, 1, 'float32', 1);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5], 'int32'), 10));
  const lossOf = () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  const logitsShape = tf.tidy(() => (model.predict(x) as tf.Tensor).shape);
  const lossBefore = tf.tidy(() => lossOf().dataSync()[0]);
  const optimizer = tf.train.sgd(0.1);
  optimizer.minimize(lossOf);
  const lossAfter = tf.tidy(() => lossOf().dataSync()[0]);
  tf.dispose([x, labels]);
  optimizer.dispose();
  model.dispose();
  return { kernels, logitsShape, lossBefore, lossAfter };
}
