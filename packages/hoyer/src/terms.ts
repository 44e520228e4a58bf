import * as tf from '@tensorflow/tfjs';
import { guardedDiv, safeL1, safeNorm, type GroupAxes } from '@sparsify/core';

/**
 * Denominator floor δ of every ratio here (penalties.md §5.10.2): `A²/max(Q, δ)` is 0, with a zero
 * gradient, for an all-zero tensor, because the zero-safe |·| gives A = 0.
 */
export const HOYER_DELTA = 1e-30;

/** Which groupings of a kernel Group-HS sums (penalties.md §5.4). */
export type GroupMode = 'auto' | 'input' | 'output' | 'both';
export const GROUP_MODES: readonly GroupMode[] = ['auto', 'input', 'output', 'both'];

/** ‖W‖₁ / ‖W‖₂ (range [1, √N]; 0 for an all-zero tensor). Scale-invariant. */
export function hoyerTerm(w: tf.Tensor): tf.Scalar {
  return tf.tidy(() => guardedDiv(safeL1(w), safeNorm(w), HOYER_DELTA) as tf.Scalar);
}

/** ‖W‖₁² / ‖W‖₂² (range [1, N]; 0 for an all-zero tensor). Counts like ℓ0: k equal non-zeros give k. */
export function hoyerSquareTerm(w: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const a = safeL1(w);
    return guardedDiv(tf.square(a), tf.sum(tf.square(w)), HOYER_DELTA) as tf.Scalar;
  });
}

/**
 * Group-Hoyer-Square of one kernel as coded in DeepHoyer (penalties.md §5.4):
 * `[(Σ_c n_in,c)² + ρ·(Σ_o n_out,o)²] / ‖W‖₂²` for `both` (ρ = `outputRatio`, 1 in the reference), or
 * one of the two terms for `input` / `output`. Group norms use core's `safeNorm` (exact √Σw², gradient 0
 * rather than NaN for an all-zero group), so groups of size 1 give exactly Hoyer-Square. `axes` null
 * (biases, BatchNorm vectors, depthwise kernels): Hoyer-Square.
 */
export function groupHoyerSquareTerm(
  w: tf.Tensor,
  axes: GroupAxes | null,
  groups: GroupMode = 'auto',
  outputRatio = 1,
): tf.Scalar {
  if (axes === null) return hoyerSquareTerm(w);
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    if (groups !== 'output') parts.push(tf.square(tf.sum(safeNorm(w, axes.input))));
    if (groups !== 'input') {
      const out = tf.square(tf.sum(safeNorm(w, axes.output)));
      parts.push(groups === 'output' || outputRatio === 1 ? out : tf.mul(out, tf.scalar(outputRatio)));
    }
    const numerator = parts.length === 1 ? parts[0] : tf.add(parts[0], parts[1]);
    return guardedDiv(numerator, tf.sum(tf.square(w)), HOYER_DELTA) as tf.Scalar;
  });
}
