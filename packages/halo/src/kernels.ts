import * as tf from '@tensorflow/tfjs';
import type { LoopKernel } from '@sparsify/core';
import { KERNELS_WASM } from './kernels.wasm.js';

/** r = 1/(λ² + m²), the guarded inverse square (m = minLambda). */
interface Attrs {
  minLambdaSquared: number;
}

/** 1/(λ² + m²) as tfjs ops: the guarded inverse square (the composites here, and SWS). */
export const inverseSquare = (lambda: tf.Tensor, m2: number) => tf.reciprocal(tf.add(tf.square(lambda), tf.scalar(m2)));

/** [Σ|w|·r, Σ|λ|] over one tensor and its λ's. */
export const HALO_SUMS: LoopKernel<Attrs> = {
  name: 'SparsifyHaloSums',
  outputShapes: () => [[2]],
  run([w, lambda], [out], { minLambdaSquared: m2 }) {
    let weighted = 0;
    let lambdaL1 = 0;
    for (let i = 0; i < w.length; i++) {
      const l = lambda[i];
      weighted += Math.abs(w[i]) / (l * l + m2);
      lambdaL1 += Math.abs(l);
    }
    out[0] = weighted;
    out[1] = lambdaL1;
  },
  composite: ([w, lambda], { minLambdaSquared }) => [
    tf.stack([tf.sum(tf.mul(tf.abs(w), inverseSquare(lambda, minLambdaSquared))), tf.sum(tf.abs(lambda))]),
  ],
  simd: {
    code: KERNELS_WASM,
    call: (e, [w, lambda], [out], [shape], { minLambdaSquared }) => e.haloSums(w, lambda, tf.util.sizeFromShape(shape), minLambdaSquared, out),
  },
};

/** The gradients of HALO_SUMS for upstream [dy₀, dy₁]: [dy₀·sign(w)·r, −2·dy₀·|w|·λ·r² + dy₁·sign(λ)]. */
export const HALO_GRADIENTS: LoopKernel<Attrs> = {
  name: 'SparsifyHaloGradients',
  outputShapes: ([w, lambda]) => [w.slice(), lambda.slice()],
  run([w, lambda, dy], [dw, dLambda], { minLambdaSquared: m2 }) {
    const g = dy[0];
    const h = dy[1];
    for (let i = 0; i < w.length; i++) {
      const v = w[i];
      const l = lambda[i];
      const r = 1 / (l * l + m2);
      const gr = g * r;
      // fround, then + 0: +0 (not −0) where w or λ is 0 or a tiny negative rounds to 0 in float32.
      dw[i] = Math.fround(v > 0 ? gr : v < 0 ? -gr : 0) + 0;
      dLambda[i] = Math.fround(-2 * gr * r * Math.abs(v) * l + (l > 0 ? h : l < 0 ? -h : 0)) + 0;
    }
  },
  composite: ([w, lambda, dy], { minLambdaSquared }) => {
    const r = inverseSquare(lambda, minLambdaSquared);
    const [g, h] = tf.unstack(dy);
    const zero = tf.scalar(0);
    return [
      tf.add(tf.mul(tf.mul(tf.sign(w), r), g), zero),
      tf.add(tf.add(tf.mul(tf.mul(tf.mul(tf.abs(w), lambda), tf.square(r)), tf.mul(g, tf.scalar(-2))), tf.mul(tf.sign(lambda), h)), zero),
    ];
  },
  simd: {
    code: KERNELS_WASM,
    call: (e, [w, lambda, dy], [dw, dLambda], [shape], { minLambdaSquared }) =>
      e.haloGradients(w, lambda, tf.util.sizeFromShape(shape), minLambdaSquared, dy, dw, dLambda),
  },
};
