import * as tf from '@tensorflow/tfjs';
import type { LoopKernel } from '@sparsify/core';
import { KERNELS_WASM } from './kernels.wasm.js';

/**
 * s of s·|w|: tanh and sech² are taken at s|w| through u = e^(−2s|w|) ∈ (0, 1], tanh = (1 − u)/(1 + u),
 * sech² = 4u/(1 + u)², neither of which overflows.
 */
interface Attrs {
  s: number;
  /** α, the strength: the kernel also outputs α·c, the scale of every h. */
  alpha: number;
}

/** sech²(x) = 4u/(1+u)² from u = e^(−2x). */
export function sech2FromExp(u: tf.Tensor): tf.Tensor {
  return tf.div(tf.mul(u, tf.scalar(4)), tf.square(tf.add(u, tf.scalar(1))));
}

/**
 * HyperSparse's forward pass over all its weights w₁…wₙ (one vector): c = s·A/T with A = Σ|w| and
 * T = Σ tanh(s|w|) (a scalar, computed in float64), α·c (float32, as a tfjs Mul of the two), and for
 * each wⱼ the gradient up to α·c, hⱼ = sign(wⱼ)·sech²(s|wⱼ|) (+0 where w = 0 or sech² underflows).
 * Outputs [c, α·c, h₁, …, hₙ]. One exponential per weight: tanh = (1 − u)/(1 + u),
 * sech² = 4u/(1 + u)² with u = e^(−2s|w|) ∈ (0, 1].
 */
export const HYPERSPARSE_FORWARD: LoopKernel<Attrs> = {
  name: 'SparsifyHyperSparseForward',
  outputShapes: (shapes) => [[], [], ...shapes.map((shape) => shape.slice())],
  run(weights, [c, scale, ...hs], { s, alpha }) {
    let a = 0;
    let t = 0;
    weights.forEach((w, j) => {
      const h = hs[j];
      for (let i = 0; i < w.length; i++) {
        const m = Math.abs(w[i]);
        const u = Math.exp(-2 * s * m);
        const d = 1 + u;
        a += m;
        t += (1 - u) / d;
        const sech2 = (4 * u) / (d * d);
        // fround, then + 0: +0 (not −0) where w = 0 or sech² underflows in float32.
        h[i] = Math.fround(w[i] > 0 ? sech2 : w[i] < 0 ? -sech2 : 0) + 0;
      }
    });
    c[0] = (s * a) / t;
    // The product of two float32 values is exact in float64: storing it rounds once, as f32 Mul does.
    scale[0] = Math.fround(alpha) * c[0];
  },
  composite: (weights, { s, alpha }) => {
    const us = weights.map((w) => tf.exp(tf.mul(tf.abs(w), tf.scalar(-2 * s))));
    const one = tf.scalar(1);
    const A = tf.addN(weights.map((w) => tf.sum(tf.abs(w))));
    const T = tf.addN(us.map((u) => tf.sum(tf.div(tf.sub(one, u), tf.add(one, u)))));
    const c = tf.div(tf.mul(tf.scalar(s), A), T);
    return [c, tf.mul(tf.scalar(alpha), c), ...weights.map((w, j) => tf.add(tf.mul(tf.sign(w), sech2FromExp(us[j])), tf.scalar(0)))];
  },
  simd: {
    code: KERNELS_WASM,
    // Reads no results back: `startLoopKernel` replays these calls on core's helper thread.
    call: (e, weights, [c, scale, ...hs], shapes, { s, alpha }) => {
      weights.forEach((w, j) => e.hyperSparsePass(w, tf.util.sizeFromShape(shapes[j]), s, hs[j]));
      e.hyperSparseScale(s, alpha, c, scale);
    },
  },
};
