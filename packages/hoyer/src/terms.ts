import * as tf from '@tensorflow/tfjs';
import { absAndSquareSums, groupScale, groupSquareSums, signLinear, unaryCustomGrad, type GroupAxes } from '@sparsify/core';

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
 * per tensor: [A, Q] = [Σ|w|, Σw²] forward and `P·(sign(w) − R·w)` for scalars P, R backward, one
 * pass each (core's loop kernels on cpu and wasm). Autodiff of the same expression records a dozen
 * full-size ops per tensor (abs, square, two sums, their broadcasts and products) and costs several
 * times more per step. The denominator is floored, d = max(D, δ), and the gradient is 0 where the
 * floor is active (D < δ: an all-zero tensor, whose A is 0 too), as `guardedDiv` gives.
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
    const [A, Q] = tf.unstack(absAndSquareSums(w)) as [tf.Scalar, tf.Scalar];
    const [d, live] = floored(denominator(Q));
    save([w, A, d, live]);
    return {
      value: value(A, d),
      gradFunc: (dy, [ws, As, ds, live]) => {
        const [P, R] = coefficients(As as tf.Scalar, ds as tf.Scalar);
        const a = tf.mul(tf.mul(dy, P), live);
        return signLinear(ws, a, tf.neg(tf.mul(a, R)));
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
 * the whole gradient 0 for an all-zero kernel. The full-size work is one pass each way (core's
 * `groupSquareSums` and `groupScale`); everything else is on the group-norm vectors.
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
  return unaryCustomGrad<tf.Scalar>((x, save) => {
    const [rows, cols] = groupSquareSums(x);
    const [nIn, nOut] = [tf.sqrt(rows), tf.sqrt(cols)];
    const [sIn, sOut] = [tf.sum(nIn), tf.sum(nOut)];
    const N = tf.add(tf.mul(tf.square(sIn), tf.scalar(rhoIn)), tf.mul(tf.square(sOut), tf.scalar(rhoOut)));
    const [d, live] = floored(tf.sum(rows));
    save([x, N, d, live, sIn, sOut, nIn, nOut]);
    return {
      value: tf.div(N, d) as tf.Scalar,
      gradFunc: (dy, [xs, Ns, ds, live, sIns, sOuts, nIns, nOuts]) => {
        const scale = tf.mul(dy, live);
        const offset = tf.div(tf.div(tf.mul(Ns, tf.scalar(2)), ds), ds); // 2N/d², without underflow at d = δ
        const coefficient = (s: tf.Tensor, n: tf.Tensor, rho: number) =>
          tf.mul(tf.divNoNan(tf.div(tf.mul(s, tf.scalar(2 * rho)), ds), n), scale); // (2ρ·S/d)/n
        // The offset joins the input groups' coefficients (every weight is in exactly one row).
        const rowCoefficients = tf.sub(coefficient(sIns, nIns, rhoIn), tf.mul(offset, scale));
        return groupScale(xs, rowCoefficients as tf.Tensor1D, coefficient(sOuts, nOuts, rhoOut) as tf.Tensor1D);
      },
    };
  })(kernel);
}
