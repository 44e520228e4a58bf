import * as tf from '@tensorflow/tfjs';
import { hasKernel, runOp } from './passes.js';

/**
 * The training-mode layer ops a CIFAR network spends its steps in, as ops that meet their kernels by
 * name (like `passes.ts`): where an accelerator registers kernels for the active backend, each runs as
 * one kernel each way; elsewhere the plain tfjs ops run, with tfjs's own gradients. A tfjs-layers
 * BatchNormalization in training mode is ≈ 30 small ops forward and backward (moments, batchNorm and
 * their gradients, with full-size broadcasts), ReLU's gradient three (Cast, Step, Mul).
 */
export const LAYER_KERNELS = {
  batchNormTraining: 'SparsifyBatchNormTraining',
  batchNormTrainingGrad: 'SparsifyBatchNormTrainingGrad',
  relu: 'SparsifyRelu',
  reluGrad: 'SparsifyReluGrad',
} as const;

interface EpsilonAttrs {
  epsilon: number;
}

/** All axes but the last. */
const leadingAxes = (x: tf.Tensor) => x.shape.slice(0, -1).map((_, i) => i);

/** [y, mean, variance] as tfjs-layers computes them in training: moments, then batchNorm. */
function plainBatchNorm([x, gamma, beta]: tf.Tensor[], { epsilon }: EpsilonAttrs): tf.Tensor[] {
  const { mean, variance } = tf.moments(x, leadingAxes(x));
  return [tf.batchNorm(x, mean, variance, beta, gamma, epsilon), mean, variance];
}

/**
 * The gradient of y = γ·(x − μ)/√(σ² + ε) + β with the batch's own μ, σ² (over all axes but the last,
 * n values per channel): dβ = Σdy, dγ = r·Σdy·(x − μ), dx = γ·r·(dy − dβ/n − (x − μ)·r²·Σdy·(x − μ)/n),
 * r = 1/√(σ² + ε).
 */
function plainBatchNormGrad([dy, x, gamma, mean, variance]: tf.Tensor[], { epsilon }: EpsilonAttrs): tf.Tensor[] {
  const axes = leadingAxes(x);
  const n = x.size / x.shape[x.rank - 1];
  const r = tf.rsqrt(tf.add(variance, tf.scalar(epsilon)));
  const centered = tf.sub(x, mean);
  const dBeta = tf.sum(dy, axes);
  const dyCentered = tf.sum(tf.mul(dy, centered), axes);
  const dx = tf.mul(
    tf.mul(gamma, r),
    tf.sub(tf.sub(dy, tf.div(dBeta, tf.scalar(n))), tf.mul(centered, tf.div(tf.mul(tf.square(r), dyCentered), tf.scalar(n)))),
  );
  return [dx, tf.mul(dyCentered, r), dBeta];
}

const plainReluGrad = ([dy, y]: tf.Tensor[]): tf.Tensor[] => [tf.where(tf.greater(y, tf.scalar(0)), dy, tf.zerosLike(dy))];

let gradientsRegistered = false;

/** The fused ops' gradients, registered once by kernel name (as tfjs registers its own). */
function registerGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient({
    kernelName: LAYER_KERNELS.batchNormTraining,
    inputsToSave: ['x0', 'x1'],
    outputsToSave: [false, true, true],
    // Only y is differentiated: the statistics feed the moving averages, which no loss reads. One kernel
    // gives all three gradients, so it runs here, not in the per-input thunks (each runs in its own tidy).
    gradFunc: (dys, saved, attrs) => {
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const [x, gamma, mean, variance] = saved;
      const [dx, dGamma, dBeta] = runOp(
        LAYER_KERNELS.batchNormTrainingGrad,
        [dy, x, gamma, mean, variance],
        attrs as unknown as EpsilonAttrs,
        plainBatchNormGrad,
      );
      return { x0: () => dx, x1: () => dGamma, x2: () => dBeta };
    },
  });
  tf.registerGradient({
    kernelName: LAYER_KERNELS.relu,
    outputsToSave: [true],
    gradFunc: (dy, [y]) => ({ x0: () => runOp(LAYER_KERNELS.reluGrad, [dy as tf.Tensor, y], {}, plainReluGrad)[0] }),
  });
}

/**
 * Batch normalization in training mode over all axes but the last, as a tfjs-layers
 * BatchNormalization computes it: the batch's mean μ and (biased) variance σ², then
 * y = γ·(x − μ)/√(σ² + ε) + β. Returns y and the statistics (for the moving averages). Where the active
 * backend has the `batchNormTraining` kernel, one kernel forward and one backward; there no gradient
 * flows through the returned statistics (differentiate through y). Elsewhere, tfjs's ops.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const fused = hasKernel(LAYER_KERNELS.batchNormTraining) && [x, gamma, beta].every((t) => t.dtype === 'float32') && x.rank >= 2;
  if (!fused) {
    const [y, mean, variance] = plainBatchNorm([x, gamma, beta], { epsilon });
    return { y, mean, variance };
  }
  registerGradients();
  const [y, mean, variance] = tf
    .engine()
    .runKernel(LAYER_KERNELS.batchNormTraining, { x0: x, x1: gamma, x2: beta }, { epsilon }) as tf.Tensor[];
  return { y, mean, variance };
}

/**
 * max(x, 0) whose gradient is dy where the output is positive, else 0: one kernel each way where the
 * active backend has the `relu` kernels; elsewhere `tf.relu` (the same values and gradients but at NaN
 * inputs, whose gradient tfjs makes NaN).
 */
export function relu(x: tf.Tensor): tf.Tensor {
  if (!hasKernel(LAYER_KERNELS.relu) || x.dtype !== 'float32') return tf.relu(x);
  registerGradients();
  // A kernel may return its one output alone or as a one-element array.
  const out = tf.engine().runKernel(LAYER_KERNELS.relu, { x0: x }, {}) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out[0] : out;
}

/** The plain ops, for tests and kernel authors: what each kernel must equal to float32 rounding. */
export const PLAIN_LAYER_OPS = {
  batchNormTraining: plainBatchNorm,
  batchNormTrainingGrad: plainBatchNormGrad,
  reluGrad: plainReluGrad,
} as const;
