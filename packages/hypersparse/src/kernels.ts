import * as tf from '@tensorflow/tfjs';
import type { LoopKernel } from '@sparsify/core';
import { KERNELS_WASM } from './kernels.wasm.js';

/**
 * s of s·|w|: tanh and sech² are taken at s|w| through u = e^(−2s|w|) ∈ (0, 1], tanh = (1 − u)/(1 + u),
 * sech² = 4u/(1 + u)², neither of which overflows.
 */
interface Attrs {
  s: number;
}

/** sech²(x) = 4u/(1+u)² from u = e^(−2x). */
export function sech2FromExp(u: tf.Tensor): tf.Tensor {
  return tf.div(tf.mul(u, tf.scalar(4)), tf.square(tf.add(u, tf.scalar(1))));
}

/** [A, T] = [Σ|w|, Σ tanh(s|w|)] over one tensor, and u (which the gradient reuses). */
export const HYPERSPARSE_SUMS: LoopKernel<Attrs> = {
  name: 'SparsifyHyperSparseSums',
  outputShapes: ([shape]) => [[2], shape.slice()],
  run([w], [out, uOut], { s }) {
    let a = 0;
    let t = 0;
    for (let i = 0; i < w.length; i++) {
      const m = Math.abs(w[i]);
      const u = Math.exp(-2 * s * m);
      uOut[i] = u;
      a += m;
      t += (1 - u) / (1 + u);
    }
    out[0] = a;
    out[1] = t;
  },
  composite: ([w], { s }) => {
    const u = tf.exp(tf.mul(tf.abs(w), tf.scalar(-2 * s)));
    const one = tf.scalar(1);
    return [tf.stack([tf.sum(tf.abs(w)), tf.sum(tf.div(tf.sub(one, u), tf.add(one, u)))]), u];
  },
  simd: { code: KERNELS_WASM, call: (e, [w], [out, u], [shape], { s }) => e.hyperSparseSums(w, tf.util.sizeFromShape(shape), s, out, u) },
};

/** g·sign(w)·sech²(s|w|) = g·sign(w)·4u/(1 + u)² from w, u and a scalar g; +0 at w = 0. */
export const HYPERSPARSE_GRADIENT: LoopKernel = {
  name: 'SparsifyHyperSparseGradient',
  outputShapes: ([shape]) => [shape.slice()],
  run([w, uIn, gTensor], [out]) {
    const g4 = 4 * gTensor[0];
    for (let i = 0; i < w.length; i++) {
      const v = w[i];
      const u = uIn[i];
      const d = 1 + u;
      const magnitude = (g4 * u) / (d * d);
      // fround, then + 0: +0 (not −0) where w = 0 or sech² underflows in float32.
      out[i] = Math.fround(v > 0 ? magnitude : v < 0 ? -magnitude : 0) + 0;
    }
  },
  composite: ([w, u, g]) => [tf.add(tf.mul(tf.mul(g, tf.sign(w)), sech2FromExp(u)), tf.scalar(0))],
  simd: { code: KERNELS_WASM, call: (e, [w, u, g], [out], [shape]) => e.hyperSparseGradient(w, u, tf.util.sizeFromShape(shape), g, out) },
};
