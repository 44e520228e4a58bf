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

/** HALO's term: ξ·W + ψ·R(L − p), R = |·| ('l1') or (·)² ('l2'), with W = Σ|w|·r and L = Σ|λ|. */
interface TermAttrs extends Attrs {
  xi: number;
  psi: number;
  /** p, the budget of Σ|λ|. */
  budget: number;
  l1: boolean;
}

/** [value, slope] from W and L (float64): the term and ψ·R'(L − p), R' = sign (0 at 0) or 2(L − p). */
function termFromSums(weighted: number, lambdaL1: number, { xi, psi, budget, l1 }: TermAttrs): [number, number] {
  const excess = lambdaL1 - budget;
  return [xi * weighted + psi * (l1 ? Math.abs(excess) : excess * excess), psi * (l1 ? Math.sign(excess) : 2 * excess)];
}

/**
 * HALO's term over all tensors w₁…wₙ and their λ's (inputs [w₁…wₙ, λ₁…λₙ]): outputs [value, slope],
 * value = ξ·W + ψ·R(L − p) and slope = ψ·R'(L − p) (`HALO_GRADIENTS`' h, up to dy). One pass per tensor
 * for W and L, each tensor's sums added in float64, then the scalar arithmetic in float64 too: one op,
 * where the same arithmetic as tfjs ops was about ten (a scalar tfjs op costs ≈ 30 µs on wasm, measured
 * alone).
 */
export const HALO_TERM: LoopKernel<TermAttrs> = {
  name: 'SparsifyHaloTerm',
  outputShapes: () => [[], []],
  run(inputs, [value, slope], attrs) {
    const [ws, lambdas] = split(inputs, inputs.length / 2);
    let weighted = 0;
    let lambdaL1 = 0;
    ws.forEach((w, j) => {
      const lambda = lambdas[j];
      for (let i = 0; i < w.length; i++) {
        const l = lambda[i];
        weighted += Math.abs(w[i]) / (l * l + attrs.minLambdaSquared);
        lambdaL1 += Math.abs(l);
      }
    });
    [value[0], slope[0]] = termFromSums(weighted, lambdaL1, attrs);
  },
  composite: (inputs, { minLambdaSquared, xi, psi, budget, l1 }) => {
    const [ws, lambdas] = split(inputs, inputs.length / 2);
    const weighted = tf.addN(ws.map((w, j) => tf.sum(tf.mul(tf.abs(w), inverseSquare(lambdas[j], minLambdaSquared)))));
    const excess = tf.sub(tf.addN(lambdas.map((l) => tf.sum(tf.abs(l)))), tf.scalar(budget));
    const value = tf.add(tf.mul(tf.scalar(xi), weighted), tf.mul(tf.scalar(psi), l1 ? tf.abs(excess) : tf.square(excess)));
    return [value, tf.mul(tf.scalar(psi), l1 ? tf.sign(excess) : tf.mul(excess, tf.scalar(2)))];
  },
  simd: {
    code: KERNELS_WASM,
    call: (e, inputs, [value, slope], shapes, attrs, memory) => {
      const n = inputs.length / 2;
      const [v, s] = [new Float32Array(memory.buffer, value, 1), new Float32Array(memory.buffer, slope, 1)];
      let [weighted, lambdaL1] = [0, 0];
      for (let j = 0; j < n; j++) {
        e.haloSums(inputs[j], inputs[n + j], tf.util.sizeFromShape(shapes[j]), attrs.minLambdaSquared, value, slope);
        weighted += v[0];
        lambdaL1 += s[0];
      }
      [v[0], s[0]] = termFromSums(weighted, lambdaL1, attrs);
    },
  },
};

/** g = dy·ξ and h = dy·slope, each rounded to float32 as a tfjs Mul rounds it. */
function upstream(dy: number, slope: number, xi: number): [number, number] {
  return [Math.fround(dy * Math.fround(xi)), Math.fround(dy * slope)];
}

/**
 * The gradients of HALO_TERM for upstream dy (inputs [w₁…wₙ, λ₁…λₙ, dy, slope], slope from HALO_TERM):
 * outputs [dw₁…dwₙ, dλ₁…dλₙ] with dw = g·sign(w)·r and dλ = −2·g·|w|·λ·r² + h·sign(λ), g = dy·ξ and
 * h = dy·slope.
 */
export const HALO_GRADIENTS: LoopKernel<Attrs & { xi: number }> = {
  name: 'SparsifyHaloGradients',
  outputShapes: (shapes) => shapes.slice(0, -2).map((shape) => shape.slice()),
  run(inputs, outputs, { minLambdaSquared: m2, xi }) {
    const n = (inputs.length - 2) / 2;
    const [ws, lambdas] = split(inputs, n);
    const [dws, dLambdas] = split(outputs, n);
    const [g, h] = upstream(inputs[2 * n][0], inputs[2 * n + 1][0], xi);
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
  composite: (inputs, { minLambdaSquared, xi }) => {
    const n = (inputs.length - 2) / 2;
    const [ws, lambdas] = split(inputs, n);
    const [g, h] = [tf.mul(inputs[2 * n], tf.scalar(xi)), tf.mul(inputs[2 * n], inputs[2 * n + 1])];
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
    call: (e, inputs, outputs, shapes, { minLambdaSquared, xi }, memory) => {
      const n = (inputs.length - 2) / 2;
      const read = (at: number) => new Float32Array(memory.buffer, at, 1)[0];
      const [g, h] = upstream(read(inputs[2 * n]), read(inputs[2 * n + 1]), xi);
      for (let j = 0; j < n; j++) {
        e.haloGradients(inputs[j], inputs[n + j], tf.util.sizeFromShape(shapes[j]), minLambdaSquared, g, h, outputs[j], outputs[n + j]);
      }
    },
  },
};
