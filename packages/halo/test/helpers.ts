import * as tf from '@tensorflow/tfjs';

export * from '../../../tools/testing/penalty-helpers.js';

/** A λ-only training step: the weights are not trained (no model variables), only the penalty's λ's. */
export const frozenWeights = {
  forward: (x: tf.Tensor) => x,
  variables: [] as tf.Variable[],
  loss: () => tf.scalar(0),
};
