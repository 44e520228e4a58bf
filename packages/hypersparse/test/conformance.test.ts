import * as tf from '@tensorflow/tfjs';
import { exponentialGrowth, kthSmallest, readMagnitudes, safeAbs, type TrainingContext } from '@sparsify/core';
import { describeConformance } from '@sparsify/conformance';
import { beforeAll, describe, it } from 'vitest';
import { sparsifyKernels } from '../../../tools/testing/kernels.js';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { HYPERSPARSE_C, hyperSparse, plugin } from '../src/index.js';

beforeAll(() => useTestBackend());

/**
 * The stop-gradient form of the loss, α·(A·T/sg(T) − A) (README, "The math"), with t, s and sg(T)
 * frozen at the base point: HyperSparse's value is ≡ 0, so the battery checks its gradient against finite differences of this.
 */
function surrogate(kappa: number, alpha: (ctx: TrainingContext) => number) {
  return (base: readonly tf.Tensor[], ctx: TrainingContext) => {
    const magnitudes = readMagnitudes(base);
    const t = kthSmallest(magnitudes, Math.floor(kappa * magnitudes.length));
    const s = HYPERSPARSE_C / t;
    const T0 = tf.tidy(() => base.reduce((sum, w) => sum + tf.sum(tf.tanh(tf.mul(safeAbs(w), s))).dataSync()[0], 0));
    const a = alpha(ctx);
    return (weights: readonly tf.Tensor[]) =>
      tf.tidy(() => {
        const A = tf.addN(weights.map((w) => tf.sum(safeAbs(w))));
        const T = tf.addN(weights.map((w) => tf.sum(tf.tanh(tf.mul(safeAbs(w), s)))));
        return tf.mul(tf.sub(tf.div(tf.mul(A, T), T0), A), a) as tf.Scalar;
      });
  };
}

describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    name: 'hypersparse (κ = 0.5, α = 1)',
    plugin,
    create: () => hyperSparse({ sparsity: 0.5, strength: 1 }),
    surrogate: surrogate(0.5, () => 1),
  },
);

const artDefault = exponentialGrowth({ initial: 5e-6, rate: 1.05 });
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    name: 'hypersparse (κ = 0.9, the default ART schedule at epoch 10)',
    plugin,
    create: () => hyperSparse({ sparsity: 0.9 }),
    surrogate: surrogate(0.9, artDefault),
    context: { step: 0, epoch: 10 },
  },
);
