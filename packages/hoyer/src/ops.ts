import * as tf from '@tensorflow/tfjs';
import { groupSquareSums, runOp } from '@sparsify/core';

/**
 * The two ops the penalties of this package are made of, written with tfjs ops (the definition; an
 * accelerator may register a kernel under the same name). Both take the upstream gradient dy and give
 * the value and, per tensor, the scalars or vectors its gradient dy·∂value/∂w is built from; the
 * full-size passes around them are core's (`absAndSquareSums`, `signLinear`, `groupSquareSums`,
 * `groupScale`). See the README for the formulas.
 */
export const HOYER_KERNELS = {
  ratioStep: 'SparsifyHoyerRatioStep',
  groupStep: 'SparsifyGroupHoyerSquareStep',
} as const;

/**
 * Denominator floor δ of every ratio: `A²/max(Q, δ)` is 0, with a zero gradient, for an all-zero tensor
 * (whose Σ|w| is 0 too).
 */
export const HOYER_DELTA = 1e-30;

export interface RatioAttrs {
  /** Hoyer-Square A²/max(Q, δ); else Hoyer A/max(√Q, δ). */
  square: boolean;
  delta: number;
}

/**
 * Hoyer or Hoyer-Square of n tensors from their sums A = Σ|w|, Q = Σw²: inputs [A₁, Q₁, …, Aₙ, Qₙ, dy],
 * outputs [value, a₁, b₁, …, aₙ, bₙ] with value = Σⱼ valueⱼ and dy·∂valueⱼ/∂w = aⱼ·sign(w) + bⱼ·w:
 * Hoyer, d = max(√Q, δ): value A/d, a = dy/d, b = −dy·A/d³; Hoyer-Square, d = max(Q, δ): value A²/d,
 * a = 2dy·A/d, b = −2dy·A²/d². Both a and b are 0 where the floor is active.
 */
export function ratioStep(sums: readonly tf.Tensor[], dy: tf.Tensor, attrs: RatioAttrs): tf.Tensor[] {
  return runOp(HOYER_KERNELS.ratioStep, [...sums, dy], attrs, (inputs, { square, delta }) => {
    const n = (inputs.length - 1) / 2;
    const up = inputs[2 * n];
    const values: tf.Tensor[] = [];
    const factors: tf.Tensor[] = [];
    for (let j = 0; j < n; j++) {
      const [A, Q] = [inputs[2 * j], inputs[2 * j + 1]];
      const D = square ? Q : tf.sqrt(Q);
      const d = tf.maximum(D, tf.scalar(delta));
      const live = tf.cast(tf.greaterEqual(D, tf.scalar(delta)), 'float32');
      const ratio = tf.div(A, d);
      const a = square ? tf.mul(ratio, tf.scalar(2)) : tf.div(tf.scalar(1), d);
      const b = square ? tf.mul(tf.square(ratio), tf.scalar(-2)) : tf.neg(tf.div(tf.div(ratio, d), d));
      values.push(square ? tf.mul(A, ratio) : ratio);
      factors.push(tf.mul(up, tf.mul(a, live)), tf.mul(up, tf.mul(b, live)));
    }
    return [values.length === 1 ? values[0] : tf.addN(values), ...factors];
  });
}

export interface GroupAttrs {
  /** ρ of the input and output groupings (0 leaves one out). */
  rhoIn: number;
  rhoOut: number;
  delta: number;
}

/**
 * Group-Hoyer-Square of n kernels (input and output groups on their last two axes): inputs
 * [x₁, …, xₙ, dy], outputs [value, rows₁, cols₁, …] with value = Σⱼ valueⱼ and
 * dy·∂valueⱼ/∂x = x·(rowsⱼ[i] + colsⱼ[o]). Per kernel, from the group norms n = √Σx² (core's
 * `groupSquareSums`), S_G = Σ n_G, N = ρ_in·S_in² + ρ_out·S_out², d = max(Q, δ), Q = Σx²:
 * value N/d, rows[i] = dy·[(2ρ_in·S_in/d)/n_in,i − 2N/d²], cols[o] = dy·(2ρ_out·S_out/d)/n_out,o, with
 * 1/n = 0 for an all-zero group and everything 0 where the floor is active.
 */
export function groupStep(kernels: readonly tf.Tensor[], dy: tf.Tensor, attrs: GroupAttrs): tf.Tensor[] {
  return runOp(HOYER_KERNELS.groupStep, [...kernels, dy], attrs, (inputs, { rhoIn, rhoOut, delta }) => {
    const up = inputs[inputs.length - 1];
    const values: tf.Tensor[] = [];
    const factors: tf.Tensor[] = [];
    for (const x of inputs.slice(0, -1)) {
      const [rows, cols] = groupSquareSums(x);
      const [nIn, nOut] = [tf.sqrt(rows), tf.sqrt(cols)];
      const [sIn, sOut] = [tf.sum(nIn), tf.sum(nOut)];
      const N = tf.add(tf.mul(tf.square(sIn), tf.scalar(rhoIn)), tf.mul(tf.square(sOut), tf.scalar(rhoOut)));
      const Q = tf.sum(rows);
      const d = tf.maximum(Q, tf.scalar(delta));
      const scale = tf.mul(up, tf.cast(tf.greaterEqual(Q, tf.scalar(delta)), 'float32'));
      const offset = tf.div(tf.div(tf.mul(N, tf.scalar(2)), d), d);
      const factor = (s: tf.Tensor, n: tf.Tensor, rho: number) => tf.divNoNan(tf.div(tf.mul(s, tf.scalar(2 * rho)), d), n);
      values.push(tf.div(N, d));
      factors.push(tf.mul(tf.sub(factor(sIn, nIn, rhoIn), offset), scale), tf.mul(factor(sOut, nOut, rhoOut), scale));
    }
    return [values.length === 1 ? values[0] : tf.addN(values), ...factors];
  });
}
