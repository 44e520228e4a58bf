import * as tf from '@tensorflow/tfjs';
import type { LoopKernel } from '@sparsify/core';
import { KERNELS_WASM } from './kernels.wasm.js';

/** r = 1/(λ² + m²), the guarded inverse square (m = minLambda). */
interface Attrs {
  minLambdaSquared: number;
}

/** 1/(λ² + m²) as tfjs ops: the guarded inverse square (the composites here, and SWS). */
export const inverseSquare = (lambda: tf.Tensor, m2: number) => tf.reciprocal(tf.add(tf.square(lambda), tf.scalar(m2)));

/** The weights w₁…wₙ and their λ's, from inputs [w₁…wₙ, λ₁…λₙ, …]. */
function split<T>(inputs: readonly T[], n: number): [T[], T[]] {
  return [inputs.slice(0, n), inputs.slice(n, 2 * n)];
}

/**
 * [Σ|w|·r, Σ|λ|] over all tensors w₁…wₙ and their λ's (inputs [w₁…wₙ, λ₁…λₙ]): one pass per tensor,
 * each tensor's sums added in float64.
 */
export const HALO_SUMS: LoopKernel<Attrs> = {
  name: 'SparsifyHaloSums',
  outputShapes: () => [[2]],
  run(inputs, [out], { minLambdaSquared: m2 }) {
    const [ws, lambdas] = split(inputs, inputs.length / 2);
    let weighted = 0;
    let lambdaL1 = 0;
    ws.forEach((w, j) => {
      const lambda = lambdas[j];
      for (let i = 0; i < w.length; i++) {
        const l = lambda[i];
        weighted += Math.abs(w[i]) / (l * l + m2);
        lambdaL1 += Math.abs(l);
      }
    });
    out[0] = weighted;
    out[1] = lambdaL1;
  },
  composite: (inputs, { minLambdaSquared }) => {
    const [ws, lambdas] = split(inputs, inputs.length / 2);
    return [
      tf.stack([
        tf.addN(ws.map((w, j) => tf.sum(tf.mul(tf.abs(w), inverseSquare(lambdas[j], minLambdaSquared))))),
        tf.addN(lambdas.map((l) => tf.sum(tf.abs(l)))),
      ]),
    ];
  },
  simd: {
    code: KERNELS_WASM,
    call: (e, inputs, [out], shapes, { minLambdaSquared }, memory) => {
      const n = inputs.length / 2;
      const sums = new Float32Array(memory.buffer, out, 2);
      let [weighted, lambdaL1] = [0, 0];
      for (let j = 0; j < n; j++) {
        e.haloSums(inputs[j], inputs[n + j], tf.util.sizeFromShape(shapes[j]), minLambdaSquared, out);
        weighted += sums[0];
        lambdaL1 += sums[1];
      }
      [sums[0], sums[1]] = [weighted, lambdaL1];
    },
  },
};

/**
 * The gradients of HALO_SUMS for upstream [dy₀, dy₁] (inputs [w₁…wₙ, λ₁…λₙ, dy]): outputs
 * [dw₁…dwₙ, dλ₁…dλₙ] with dw = dy₀·sign(w)·r and dλ = −2·dy₀·|w|·λ·r² + dy₁·sign(λ).
 */
export const HALO_GRADIENTS: LoopKernel<Attrs> = {
  name: 'SparsifyHaloGradients',
  outputShapes: (shapes) => shapes.slice(0, -1).map((shape) => shape.slice()),
  run(inputs, outputs, { minLambdaSquared: m2 }) {
    const n = (inputs.length - 1) / 2;
    const [ws, lambdas] = split(inputs, n);
    const [dws, dLambdas] = split(outputs, n);
    const [g, h] = inputs[2 * n];
    ws.forEach((w, j) => {
      const [lambda, dw, dLambda] = [lambdas[j], dws[j], dLambdas[j]];
      for (let i = 0; i < w.length; i++) {
        const v = w[i];
        const l = lambda[i];
        const r = 1 / (l * l + m2);
        const gr = g * r;
        // fround, then + 0: +0 (not −0) where w or λ is 0 or a tiny negative rounds to 0 in float32.
        dw[i] = Math.fround(v > 0 ? gr : v < 0 ? -gr : 0) + 0;
        dLambda[i] = Math.fround(-2 * gr * r * Math.abs(v) * l + (l > 0 ? h : l < 0 ? -h : 0)) + 0;
      }
    });
  },
  composite: (inputs, { minLambdaSquared }) => {
    const n = (inputs.length - 1) / 2;
    const [ws, lambdas] = split(inputs, n);
    const [g, h] = tf.unstack(inputs[2 * n]);
    const zero = tf.scalar(0);
    const dws = ws.map((w, j) => tf.add(tf.mul(tf.mul(tf.sign(w), inverseSquare(lambdas[j], minLambdaSquared)), g), zero));
    const dLambdas = ws.map((w, j) => {
      const [lambda, r] = [lambdas[j], inverseSquare(lambdas[j], minLambdaSquared)];
      return tf.add(tf.add(tf.mul(tf.mul(tf.mul(tf.abs(w), lambda), tf.square(r)), tf.mul(g, tf.scalar(-2))), tf.mul(tf.sign(lambda), h)), zero);
    });
    return [...dws, ...dLambdas];
  },
  simd: {
    code: KERNELS_WASM,
    call: (e, inputs, outputs, shapes, { minLambdaSquared }) => {
      const n = (inputs.length - 1) / 2;
      for (let j = 0; j < n; j++) {
        e.haloGradients(inputs[j], inputs[n + j], tf.util.sizeFromShape(shapes[j]), minLambdaSquared, inputs[2 * n], outputs[j], outputs[n + j]);
      }
    },
  },
};
