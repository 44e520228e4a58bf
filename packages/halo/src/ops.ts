import * as tf from '@tensorflow/tfjs';
import { runOp } from '@sparsify/core';

/**
 * HALO's two ops, written with tfjs ops (the definition; an accelerator may register a kernel under
 * the same name). r = 1/(λ² + m²) is the guarded inverse square, m = minLambda. See the README.
 */
export const HALO_KERNELS = {
  term: 'SparsifyHaloTerm',
  gradients: 'SparsifyHaloGradients',
} as const;

/** 1/(λ² + m²). */
export const inverseSquare = (lambda: tf.Tensor, m2: number) => tf.reciprocal(tf.add(tf.square(lambda), tf.scalar(m2)));

/** The weights w₁…wₙ and their λ's, from inputs [w₁…wₙ, λ₁…λₙ, …]. */
function split<T>(inputs: readonly T[], n: number): [T[], T[]] {
  return [inputs.slice(0, n), inputs.slice(n, 2 * n)];
}

export interface HaloTermAttrs {
  minLambdaSquared: number;
  xi: number;
  psi: number;
  /** p, the budget of Σ|λ|. */
  budget: number;
  /** R = |·| (else (·)²). */
  l1: boolean;
}

/**
 * HALO's term over all weights w₁…wₙ and their λ's: [value, slope] with W = Σ|w|·r, L = Σ|λ|,
 * value = ξ·W + ψ·R(L − p) and slope = ψ·R'(L − p), R' = sign (0 at 0) for 'l1', 2(L − p) for 'l2'.
 */
export function haloTerm(
  weights: readonly tf.Tensor[],
  lambdas: readonly tf.Tensor[],
  attrs: HaloTermAttrs,
): [value: tf.Scalar, slope: tf.Scalar] {
  const [value, slope] = runOp(HALO_KERNELS.term, [...weights, ...lambdas], attrs, (inputs, { minLambdaSquared, xi, psi, budget, l1 }) => {
    const [ws, ls] = split(inputs, inputs.length / 2);
    const weighted = tf.addN(ws.map((w, j) => tf.sum(tf.mul(tf.abs(w), inverseSquare(ls[j], minLambdaSquared)))));
    const excess = tf.sub(tf.addN(ls.map((l) => tf.sum(tf.abs(l)))), tf.scalar(budget));
    const term = tf.add(tf.mul(tf.scalar(xi), weighted), tf.mul(tf.scalar(psi), l1 ? tf.abs(excess) : tf.square(excess)));
    return [term, tf.mul(tf.scalar(psi), l1 ? tf.sign(excess) : tf.mul(excess, tf.scalar(2)))];
  });
  return [value as tf.Scalar, slope as tf.Scalar];
}

export interface HaloGradientAttrs {
  minLambdaSquared: number;
  xi: number;
}

/**
 * The gradients of `haloTerm` at upstream dy, given its slope: [dw₁…dwₙ, dλ₁…dλₙ] with g = dy·ξ,
 * h = dy·slope, dw = g·sign(w)·r and dλ = −2g·|w|·λ·r² + h·sign(λ) (+0, not −0, at zeros).
 */
export function haloGradients(
  weights: readonly tf.Tensor[],
  lambdas: readonly tf.Tensor[],
  dy: tf.Tensor,
  slope: tf.Tensor,
  attrs: HaloGradientAttrs,
): tf.Tensor[] {
  return runOp(HALO_KERNELS.gradients, [...weights, ...lambdas, dy, slope], attrs, (inputs, { minLambdaSquared, xi }) => {
    const n = (inputs.length - 2) / 2;
    const [ws, ls] = split(inputs, n);
    const [g, h] = [tf.mul(inputs[2 * n], tf.scalar(xi)), tf.mul(inputs[2 * n], inputs[2 * n + 1])];
    const zero = tf.scalar(0);
    const dws = ws.map((w, j) => tf.add(tf.mul(tf.mul(tf.sign(w), inverseSquare(ls[j], minLambdaSquared)), g), zero));
    const dls = ws.map((w, j) => {
      const [lambda, r] = [ls[j], inverseSquare(ls[j], minLambdaSquared)];
      return tf.add(
        tf.add(tf.mul(tf.mul(tf.mul(tf.abs(w), lambda), tf.square(r)), tf.mul(g, tf.scalar(-2))), tf.mul(tf.sign(lambda), h)),
        zero,
      );
    });
    return [...dws, ...dls];
  });
}
