import * as tf from '@tensorflow/tfjs';
import type { LoopKernel } from '@sparsify/core';
import { KERNELS_WASM } from './kernels.wasm.js';

/** s of s·|w|: sech² and tanh are taken at s|w|. */
interface Attrs {
  s: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** sech²(x) = 4u/(1+u)² from u = e^(−2x). */
export function sech2FromExp(u: tf.Tensor): tf.Tensor {
  return tf.div(tf.mul(u, tf.scalar(4)), tf.square(tf.add(u, tf.scalar(1))));
}

/** u = e^(−2s|w|) ∈ (0, 1]: tanh(s|w|) = (1 − u)/(1 + u), sech²(s|w|) = 4u/(1 + u)², neither overflows. */
const expOf = (w: tf.Tensor, s: number) => tf.exp(tf.mul(tf.abs(w), tf.scalar(-2 * s)));

/** [A, T] = [Σ|w|, Σ tanh(s|w|)] over one tensor. */
export const HYPERSPARSE_SUMS: LoopKernel<Attrs> = {
  name: 'SparsifyHyperSparseSums',
  outputShapes: () => [[2]],
  run([w], [out], { s }) {
    let a = 0;
    let t = 0;
    for (let i = 0; i < w.length; i++) {
      const m = Math.abs(w[i]);
      const u = Math.exp(-2 * s * m);
      a += m;
      t += (1 - u) / (1 + u);
    }
    out[0] = a;
    out[1] = t;
  },
  composite: ([w], { s }) => {
    const u = expOf(w, s);
    const one = tf.scalar(1);
    return [tf.stack([tf.sum(tf.abs(w)), tf.sum(tf.div(tf.sub(one, u), tf.add(one, u)))])];
  },
  simd: { code: KERNELS_WASM, call: (e, [w], [out], [shape], { s }) => e.hyperSparseSums(w, size(shape), s, out) },
};

/** g·sign(w)·sech²(s|w|) for a scalar g, +0 at w = 0. */
export const HYPERSPARSE_GRADIENT: LoopKernel<Attrs> = {
  name: 'SparsifyHyperSparseGradient',
  outputShapes: ([shape]) => [shape.slice()],
  run([w, gTensor], [out], { s }) {
    const g4 = 4 * gTensor[0];
    for (let i = 0; i < w.length; i++) {
      const v = w[i];
      const u = Math.exp(-2 * s * Math.abs(v));
      const d = 1 + u;
      const magnitude = (g4 * u) / (d * d);
      // fround, then + 0: +0 (not −0) where w = 0 or sech² underflows in float32.
      out[i] = Math.fround(v > 0 ? magnitude : v < 0 ? -magnitude : 0) + 0;
    }
  },
  composite: ([w, g], { s }) => [tf.add(tf.mul(tf.mul(g, tf.sign(w)), sech2FromExp(expOf(w, s))), tf.scalar(0))],
  simd: { code: KERNELS_WASM, call: (e, [w, g], [out], [shape], { s }) => e.hyperSparseGradient(w, size(shape), s, g, out) },
};
