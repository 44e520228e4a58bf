import * as tf from '@tensorflow/tfjs';
import { absAndSquareSums, groupScale, groupSquareSums, runLoopKernel, signLinear, unaryCustomGrad, type GroupAxes } from '@sparsify/core';
import { GROUP_FACTORS, GROUP_FORWARD, RATIO } from './kernels.js';

/**
 * Denominator floor δ of every ratio here (penalties.md §5.10.2): `A²/max(Q, δ)` is 0, with a zero
 * gradient, for an all-zero tensor, because the zero-safe |·| gives A = 0.
 */
export const HOYER_DELTA = 1e-30;

/** Which groupings of a kernel Group-HS sums (penalties.md §5.4). */
export type GroupMode = 'auto' | 'input' | 'output' | 'both';
export const GROUP_MODES: readonly GroupMode[] = ['auto', 'input', 'output', 'both'];

/**
 * The ratio terms below with their closed-form gradients (penalties.md §5.2–5.3), as one custom op
 * per tensor: [A, Q] = [Σ|w|, Σw²] in one pass (core's `absAndSquareSums`), the value and c0, c1 from
 * them (kernels.ts), and `dy·(c0·sign(w) + c1·w)` in one pass backward (core's `signLinear`). The denominator
 * is floored, d = max(D, δ), and the gradient is 0 where the floor is active (D < δ: an all-zero
 * tensor, whose A is 0 too).
 */
function ratioTerm(square: boolean): (w: tf.Tensor) => tf.Scalar {
  return unaryCustomGrad<tf.Scalar>((w, save) => {
    const [value, c0, c1] = runLoopKernel(RATIO, absAndSquareSums(w), { square, delta: HOYER_DELTA });
    save([w, c0, c1]);
    return {
      value: value as tf.Scalar,
      gradFunc: (dy, [ws, c0s, c1s]) => signLinear(ws, c0s, c1s, dy),
    };
  });
}

/** ‖W‖₁ / ‖W‖₂ (range [1, √N]; 0 for an all-zero tensor). Scale-invariant. */
export const hoyerTerm: (w: tf.Tensor) => tf.Scalar = ratioTerm(false);

/** ‖W‖₁² / ‖W‖₂² (range [1, N]; 0 for an all-zero tensor). Counts like ℓ0: k equal non-zeros give k. */
export const hoyerSquareTerm: (w: tf.Tensor) => tf.Scalar = ratioTerm(true);

/**
 * Group-Hoyer-Square of one kernel as coded in DeepHoyer (penalties.md §5.4):
 * `[(Σ_c n_in,c)² + ρ·(Σ_o n_out,o)²] / ‖W‖₂²` for `both` (ρ = `outputRatio`, 1 in the reference), or
 * one of the two terms for `input` / `output`, with exact group norms n = √Σw², so groups of size 1
 * give exactly Hoyer-Square. `axes` null (biases, BatchNorm vectors, depthwise kernels): Hoyer-Square.
 *
 * One custom op with the closed-form gradient: with S_G = Σ_g n_g, N = Σ_G ρ_G·S_G², d = max(Q, δ),
 * `∂/∂w = w·[Σ_G (2ρ_G·S_G/d)/n_G(w) − 2N/d²]`, where 1/n is 0 for an all-zero group (no NaN) and
 * the whole gradient 0 for an all-zero kernel. The full-size work is one pass each way (core's
 * `groupSquareSums` and `groupScale`); the rest, on the group-norm vectors, one kernel each way.
 */
export function groupHoyerSquareTerm(
  w: tf.Tensor,
  axes: GroupAxes | null,
  groups: GroupMode = 'auto',
  outputRatio = 1,
): tf.Scalar {
  if (axes === null) return hoyerSquareTerm(w);
  // Group sums need inputs on axis rank−2 and outputs on rank−1 (dense and conv2d kernels are so).
  const r = w.rank;
  const rest = w.shape.map((_, i) => i).filter((i) => i !== axes.inputAxis && i !== axes.outputAxis);
  const kernel = axes.inputAxis === r - 2 && axes.outputAxis === r - 1 ? w : tf.transpose(w, [...rest, axes.inputAxis, axes.outputAxis]);
  // ρ = 0 leaves a grouping out: its term and its gradient are 0.
  const rhoIn = groups === 'output' ? 0 : 1;
  const rhoOut = groups === 'input' ? 0 : groups === 'output' ? 1 : outputRatio;
  const attrs = { rhoIn, rhoOut, delta: HOYER_DELTA };
  return unaryCustomGrad<tf.Scalar>((x, save) => {
    const [value, nIn, nOut, stats] = runLoopKernel(GROUP_FORWARD, groupSquareSums(x), attrs);
    save([x, nIn, nOut, stats]);
    return {
      value: value as tf.Scalar,
      gradFunc: (dy, [xs, nIns, nOuts, statss]) => {
        const [rows, cols] = runLoopKernel(GROUP_FACTORS, [nIns, nOuts, statss, dy], attrs);
        return groupScale(xs, rows as tf.Tensor1D, cols as tf.Tensor1D);
      },
    };
  })(kernel);
}
