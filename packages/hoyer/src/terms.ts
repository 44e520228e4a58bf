import * as tf from '@tensorflow/tfjs';
import { unaryCustomGrad, type GroupAxes } from '@sparsify/core';

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
 * per tensor: A = Σ|w| and Q = Σw² forward, then `P·(sign(w) − R·w)` for scalars P, R backward. Autodiff
 * of the same expression records a dozen full-size ops per tensor (abs, square, two sums, their
 * broadcasts and products) and costs several times more per step. The denominator is floored,
 * d = max(D, δ), and the gradient is 0 where the floor is active (D < δ: an all-zero tensor, whose A
 * is 0 too), as `guardedDiv` gives.
 */
/** d = max(D, δ) and the 0/1 flag of D ≥ δ, which zeroes the gradient where the floor is active. */
function floored(D: tf.Tensor): [d: tf.Scalar, live: tf.Scalar] {
  const delta = tf.scalar(HOYER_DELTA);
  return [tf.maximum(D, delta) as tf.Scalar, tf.cast(tf.greaterEqual(D, delta), 'float32') as tf.Scalar];
}

function ratioTerm(
  /** D from Q = Σw²: Q itself for HS, ‖W‖₂ = √Q for Hoyer. */
  denominator: (Q: tf.Scalar) => tf.Scalar,
  value: (A: tf.Scalar, d: tf.Scalar) => tf.Scalar,
  /** P and R of the gradient, for dy = 1; each a product of quotients, finite down to d = δ. */
  coefficients: (A: tf.Scalar, d: tf.Scalar) => [P: tf.Scalar, R: tf.Scalar],
): (w: tf.Tensor) => tf.Scalar {
  return unaryCustomGrad<tf.Scalar>((w, save) => {
    const A = tf.sum(tf.abs(w)) as tf.Scalar;
    const [d, live] = floored(denominator(tf.sum(tf.square(w)) as tf.Scalar));
    save([w, A, d, live]);
    return {
      value: value(A, d),
      gradFunc: (dy, [ws, As, ds, live]) => {
        const [P, R] = coefficients(As as tf.Scalar, ds as tf.Scalar);
        return tf.mul(tf.sub(tf.sign(ws), tf.mul(ws, R)), tf.mul(tf.mul(dy, P), live));
      },
    };
  });
}

/** ‖W‖₁ / ‖W‖₂ (range [1, √N]; 0 for an all-zero tensor). Scale-invariant. */
export const hoyerTerm: (w: tf.Tensor) => tf.Scalar = ratioTerm(
  (Q) => tf.sqrt(Q),
  (A, norm) => tf.div(A, norm),
  // ∂/∂w = sign(w)/‖W‖₂ − w·‖W‖₁/‖W‖₂³ = (1/‖W‖₂)·(sign(w) − w·(‖W‖₁/‖W‖₂)/‖W‖₂)
  (A, norm) => [tf.div(tf.scalar(1), norm), tf.div(tf.div(A, norm), norm)] as [tf.Scalar, tf.Scalar],
);

/** ‖W‖₁² / ‖W‖₂² (range [1, N]; 0 for an all-zero tensor). Counts like ℓ0: k equal non-zeros give k. */
export const hoyerSquareTerm: (w: tf.Tensor) => tf.Scalar = ratioTerm(
  (Q) => Q,
  (A, Q) => tf.div(tf.square(A), Q),
  // ∂/∂w = 2·sign(w)·‖W‖₁/‖W‖₂² − 2·w·‖W‖₁²/‖W‖₂⁴ = (2‖W‖₁/‖W‖₂²)·(sign(w) − w·‖W‖₁/‖W‖₂²)
  (A, Q) => {
    const ratio = tf.div(A, Q);
    return [tf.mul(ratio, tf.scalar(2)), ratio] as [tf.Scalar, tf.Scalar];
  },
);

/**
 * Group-Hoyer-Square of one kernel as coded in DeepHoyer (penalties.md §5.4):
 * `[(Σ_c n_in,c)² + ρ·(Σ_o n_out,o)²] / ‖W‖₂²` for `both` (ρ = `outputRatio`, 1 in the reference), or
 * one of the two terms for `input` / `output`, with exact group norms n = √Σw², so groups of size 1
 * give exactly Hoyer-Square. `axes` null (biases, BatchNorm vectors, depthwise kernels): Hoyer-Square.
 *
 * One custom op with the closed-form gradient: with S_G = Σ_g n_g, N = Σ_G ρ_G·S_G², d = max(Q, δ),
 * `∂/∂w = w·[Σ_G (2ρ_G·S_G/d)/n_G(w) − 2N/d²]`, where 1/n is 0 for an all-zero group (no NaN) and
 * the whole gradient 0 for an all-zero kernel. The bracket is built on the group-norm tensors, so the
 * backward pass is two full-size ops (a broadcast sum and the product with w).
 */
export function groupHoyerSquareTerm(
  w: tf.Tensor,
  axes: GroupAxes | null,
  groups: GroupMode = 'auto',
  outputRatio = 1,
): tf.Scalar {
  if (axes === null) return hoyerSquareTerm(w);
  const groupings: { axes: number[]; rho: number }[] = [];
  if (groups !== 'output') groupings.push({ axes: axes.input, rho: 1 });
  if (groups !== 'input') groupings.push({ axes: axes.output, rho: groups === 'output' ? 1 : outputRatio });
  return unaryCustomGrad<tf.Scalar>((x, save) => {
    const squares = tf.square(x);
    const groupSquares = groupings.map((g) => tf.sum(squares, g.axes, true)); // kept dims: they broadcast
    const norms = groupSquares.map((q) => tf.sqrt(q));
    const sums = norms.map((n) => tf.sum(n));
    const N = groupings.reduce<tf.Tensor>((acc, g, i) => tf.add(acc, tf.mul(tf.square(sums[i]), tf.scalar(g.rho))), tf.scalar(0));
    // Q = Σw² from the first grouping's sums (its groups partition the kernel): no further full pass.
    const [d, live] = floored(tf.sum(groupSquares[0]));
    save([x, N, d, live, ...sums, ...norms]);
    return {
      value: tf.div(N, d) as tf.Scalar,
      gradFunc: (dy, [xs, Ns, ds, live, ...rest]) => {
        const scale = tf.mul(dy, live);
        const offset = tf.div(tf.div(tf.mul(Ns, tf.scalar(2)), ds), ds); // 2N/d², without underflow at d = δ
        const terms = groupings.map((g, i) => {
          const coefficient = tf.div(tf.mul(rest[i], tf.scalar(2 * g.rho)), ds); // 2ρ·S/d
          return tf.mul(tf.divNoNan(coefficient, rest[groupings.length + i]), scale);
        });
        // The offset joins the first (small) term; a second grouping's term broadcasts to full size.
        const first = tf.sub(terms[0], tf.mul(offset, scale));
        const gradient = tf.mul(xs, terms.length === 1 ? first : tf.add(first, terms[1]));
        return tf.add(gradient, tf.scalar(0)); // +0, not −0, at w = 0 (0·negative): zeros get exactly +0
      },
    };
  })(w);
}
