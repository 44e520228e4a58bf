import * as tf from '@tensorflow/tfjs';
import { prune, updatePruningStep } from '@sparsify/layers';
import { disposeOptimizer, measureSparsity, selectParams } from '@sparsify/core';

// torch.nn.utils.prune: train, prune.global_unstructured(…, amount=0.9), fine-tune with the mask in
// place, prune.remove. The same steps on a plain tfjs model.
export async function torchStyle(): Promise<{ dense: number; pruned: number; finetuned: number; sparsity: number; wasPruned: boolean }> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [20], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const optimizer = tf.train.adam(0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tf.randomNormal([512, 20], 0, 1, 'float32', 3);
  const y = tf.tidy(() => tf.oneHot(tf.argMax(tf.matMul(x, tf.randomNormal([20, 3], 0, 1, 'float32', 4)), 1), 3));
  const accuracy = () => tf.tidy(() => (model.evaluate(x, y) as tf.Scalar[])[1].dataSync()[0]);

  await model.fit(x, y, { epochs: 5, batchSize: 32, verbose: 0 });
  const dense = accuracy();

  prune.globalUnstructured(model, { amount: 0.9 }); // one ranking over both kernels, pruned now
  const pruned = accuracy();
  await model.fit(x, y, { epochs: 3, batchSize: 32, verbose: 0, callbacks: [updatePruningStep()] }); // mask held
  const finetuned = accuracy();

  const wasPruned = prune.isPruned(model);
  prune.remove(model); // permanent: plain weights with zeros, masks freed
  const sparsity = measureSparsity(selectParams(model)).global;
  model.dispose();
  tf.dispose([x, y]);
  disposeOptimizer(optimizer);
  return { dense, pruned, finetuned, sparsity, wasPruned };
}
