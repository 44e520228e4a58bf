import * as tf from '@tensorflow/tfjs';
import { safeL1, safeNorm, type GroupAxes } from '@sparsify/core';

/**
 * Denominator floor δ of every ratio here (penalties.md §5.10.2): `A²/max(Q, δ)` is 0, with a zero
 * gradient, for an all-zero tensor, because the zero-safe |·| gives A = 0.
 */
export const HOYER_DELTA = 1e-30;

/**
 * `a / max(b, δ)` for scalars, with a gradient that is finite when the guard is active. core's
 * `guardedDiv` goes through TF.js's Div gradient, whose ∂/∂b is `−dy·a/b²`: with b clamped to δ = 1e-30,
 * b² underflows to 0 in float32 and 0/0 gives NaN (for an all-zero tensor, exactly where the guard is
 * meant to help). Here ∂/∂a = dy/b and ∂/∂b = −dy·(a/b)/b where b ≥ δ, and both are 0 where b < δ: a
 * clamped ratio contributes its value (0 for an all-zero tensor) and no gradient.
 */
export function guardedRatio(a: tf.Tensor, b: tf.Tensor, delta = HOYER_DELTA): tf.Scalar {
  const f = tf.customGrad(((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    const d = tf.maximum(y, tf.scalar(delta));
    const q = tf.div(x, d);
    save([d, q, tf.cast(tf.greaterEqual(y, tf.scalar(delta)), 'float32')]);
    return {
      value: q,
      gradFunc: (dy: tf.Tensor, [ds, qs, active]: tf.Tensor[]) => {
        const da = tf.mul(tf.div(dy, ds), active);
        const db = tf.neg(tf.mul(tf.div(tf.mul(dy, qs), ds), active));
        return [da, db];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(a, b) as tf.Scalar;
}

/** Which groupings of a kernel Group-HS sums (penalties.md §5.4). */
export type GroupMode = 'auto' | 'input' | 'output' | 'both';
export const GROUP_MODES: readonly GroupMode[] = ['auto', 'input', 'output', 'both'];

/** ‖W‖₁ / ‖W‖₂ (range [1, √N]; 0 for an all-zero tensor). Scale-invariant. */
export function hoyerTerm(w: tf.Tensor): tf.Scalar {
  return tf.tidy(() => guardedRatio(safeL1(w), safeNorm(w)));
}

/** ‖W‖₁² / ‖W‖₂² (range [1, N]; 0 for an all-zero tensor). Counts like ℓ0: k equal non-zeros give k. */
export function hoyerSquareTerm(w: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const a = safeL1(w);
    return guardedRatio(tf.square(a), tf.sum(tf.square(w)));
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
    return guardedRatio(numerator, tf.sum(tf.square(w)));
  });
}
