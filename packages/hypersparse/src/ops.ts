import * as tf from '@tensorflow/tfjs';
import { runOp } from '@sparsify/core';

/** The kernel name of `hyperSparseGradients` (an accelerator may register a kernel under it). */
export const HYPERSPARSE_KERNEL = 'SparsifyHyperSparseGradients';

/** sech²(x) = 4u/(1+u)² from u = e^(−2x). */
export function sech2FromExp(u: tf.Tensor): tf.Tensor {
  return tf.div(tf.mul(u, tf.scalar(4)), tf.square(tf.add(u, tf.scalar(1))));
}

export interface HyperSparseAttrs {
  /** s of s·|w|. */
  s: number;
  /** α, the strength. */
  alpha: number;
}

/**
 * HyperSparse's gradient over all its weights w₁…wₙ (one vector), written with tfjs ops:
 * [[c, α·c], g₁, …, gₙ] with c = s·A/T, A = Σ|w|, T = Σ tanh(s|w|), and gⱼ = (α·c)·sign(wⱼ)·sech²(s|wⱼ|)
 * (+0 where w = 0). tanh and sech² come from u = e^(−2s|w|) ∈ (0, 1]: tanh = (1 − u)/(1 + u),
 * sech² = 4u/(1 + u)², neither of which overflows.
 */
export function hyperSparseGradients(weights: readonly tf.Tensor[], attrs: HyperSparseAttrs): tf.Tensor[] {
  return runOp(HYPERSPARSE_KERNEL, weights, attrs, (ws, { s, alpha }) => {
    const us = ws.map((w) => tf.exp(tf.mul(tf.abs(w), tf.scalar(-2 * s))));
    const one = tf.scalar(1);
    const A = tf.addN(ws.map((w) => tf.sum(tf.abs(w))));
    const T = tf.addN(us.map((u) => tf.sum(tf.div(tf.sub(one, u), tf.add(one, u)))));
    const c = tf.div(tf.mul(tf.scalar(s), A), T);
    const scale = tf.mul(tf.scalar(alpha), c);
    return [tf.stack([c, scale]), ...ws.map((w, j) => tf.mul(tf.add(tf.mul(tf.sign(w), sech2FromExp(us[j])), tf.scalar(0)), scale))];
  });
}
