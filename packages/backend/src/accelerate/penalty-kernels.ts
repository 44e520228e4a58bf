import * as tf from '@tensorflow/tfjs';
import { groupLayout } from '@sparsify/core';
import { HALO_WASM } from './halo.wasm.js';
import { HYPERSPARSE_WASM } from './hypersparse.wasm.js';
import type { LoopKernel } from './loop-kernels.js';
import { groupSquareSumsLoop } from './passes.js';
import { PASSES_WASM } from './passes.wasm.js';

/** The kernel names the built-in penalty packages give their ops. */
export const PENALTY_KERNEL_NAMES = {
  hoyerRatioStep: 'SparsifyHoyerRatioStep',
  groupHoyerSquareStep: 'SparsifyGroupHoyerSquareStep',
  haloTerm: 'SparsifyHaloTerm',
  haloGradients: 'SparsifyHaloGradients',
  hyperSparseGradients: 'SparsifyHyperSparseGradients',
} as const;

/**
 * Loop kernels for the ops of the built-in penalty packages, by the kernel names those packages give
 * their ops (`HOYER_KERNELS`, `HALO_KERNELS`, `HYPERSPARSE_KERNEL`; the tests check the names match).
 * Each equals the op's plain tfjs version in the penalty package to float32 rounding; the scalar and
 * group-vector arithmetic runs in float64 on the host, where as tfjs ops each number cost a kernel call.
 */

// ---------------------------------------------------------------------------------------------------
// Hoyer, Hoyer-Square, Group-Hoyer-Square (@sparsify/hoyer, ops.ts)

interface RatioAttrs {
  square: boolean;
  delta: number;
}

/** From A = Σ|w| and Q = Σw²: [value, c0, c1] with ∂value/∂w = c0·sign(w) + c1·w (0 where the floor is active). */
function ratio(A: number, Q: number, square: boolean, delta: number): [number, number, number] {
  const D = square ? Q : Math.sqrt(Q);
  const d = Math.max(D, delta);
  const live = D >= delta ? 1 : 0;
  const r = A / d;
  return [square ? A * r : r, (square ? 2 * r : 1 / d) * live, -(square ? 2 * r * r : r / d / d) * live];
}

/** inputs [A₁, Q₁, …, Aₙ, Qₙ, dy] → [value, a₁, b₁, …]: the value summed in float32 in order (as tf.addN), a = dy·c0, b = dy·c1. */
const HOYER_RATIO_STEP: LoopKernel<RatioAttrs> = {
  name: PENALTY_KERNEL_NAMES.hoyerRatioStep,
  outputShapes: (shapes) => shapes.map(() => []),
  run(inputs, [value, ...ab], { square, delta }) {
    const n = (inputs.length - 1) / 2;
    const dy = inputs[2 * n][0];
    let total = 0;
    for (let j = 0; j < n; j++) {
      const [v, c0, c1] = ratio(inputs[2 * j][0], inputs[2 * j + 1][0], square, delta);
      // The value and the c's are float32 in the op (a tfjs scalar each); dy·c rounds once, as a Mul.
      total = j === 0 ? Math.fround(v) : Math.fround(total + Math.fround(v));
      ab[2 * j][0] = dy * Math.fround(c0);
      ab[2 * j + 1][0] = dy * Math.fround(c1);
    }
    value[0] = total;
  },
};

interface GroupAttrs {
  rhoIn: number;
  rhoOut: number;
  delta: number;
}

/**
 * One kernel's Group-HS from its group sums of squares, which are overwritten with its gradient's
 * factors at upstream dy; returns the value. The norms and [N, d, live, S_in, S_out] are rounded to
 * float32 on the way, as the op's tensors hold them.
 */
function groupValueAndFactors(rows: Float32Array, cols: Float32Array, dy: number, { rhoIn, rhoOut, delta }: GroupAttrs): number {
  const [nIn, nOut] = [new Float32Array(rows.length), new Float32Array(cols.length)];
  let [Q, sIn, sOut] = [0, 0, 0];
  for (let i = 0; i < rows.length; i++) {
    Q += rows[i];
    sIn += nIn[i] = Math.sqrt(rows[i]);
  }
  for (let o = 0; o < cols.length; o++) sOut += nOut[o] = Math.sqrt(cols[o]);
  const N0 = rhoIn * sIn * sIn + rhoOut * sOut * sOut;
  const d0 = Math.max(Q, delta);
  const value = N0 / d0;
  const [N, d, live, SIn, SOut] = Float32Array.of(N0, d0, Q >= delta ? 1 : 0, sIn, sOut);
  const scale = dy * live;
  const offset = (2 * N) / d / d;
  const a = (2 * rhoIn * SIn) / d;
  const b = (2 * rhoOut * SOut) / d;
  for (let i = 0; i < rows.length; i++) rows[i] = ((nIn[i] > 0 ? a / nIn[i] : 0) - offset) * scale;
  for (let o = 0; o < cols.length; o++) cols[o] = (nOut[o] > 0 ? b / nOut[o] : 0) * scale;
  return value;
}

/** inputs [x₁, …, xₙ, dy] → [value, rows₁, cols₁, …] (each pair holding the group sums on the way). */
const GROUP_HOYER_SQUARE_STEP: LoopKernel<GroupAttrs> = {
  name: PENALTY_KERNEL_NAMES.groupHoyerSquareStep,
  outputShapes: (shapes) => [
    [],
    ...shapes.slice(0, -1).flatMap((shape) =>
      groupLayout(shape)
        .slice(1)
        .map((count) => [count]),
    ),
  ],
  run(inputs, [value, ...factors], attrs) {
    const n = inputs.length - 1;
    const dy = inputs[n][0];
    let total = 0;
    for (let j = 0; j < n; j++) {
      const [rows, cols] = [factors[2 * j], factors[2 * j + 1]];
      groupSquareSumsLoop(inputs[j], rows, cols);
      const v = Math.fround(groupValueAndFactors(rows, cols, dy, attrs));
      total = j === 0 ? v : Math.fround(total + v);
    }
    value[0] = total;
  },
  simd: {
    code: PASSES_WASM,
    call: (e, inputs, [value, ...factors], shapes, attrs, { memory }) => {
      const n = inputs.length - 1;
      const buffer = memory!.buffer;
      const dy = new Float32Array(buffer, inputs[n], 1)[0];
      let total = 0;
      for (let j = 0; j < n; j++) {
        const [K, I, O] = groupLayout(shapes[j]);
        const [rows, cols] = [factors[2 * j], factors[2 * j + 1]];
        e.groupSquareSums(inputs[j], K, I, O, rows, cols);
        const v = Math.fround(groupValueAndFactors(new Float32Array(buffer, rows, I), new Float32Array(buffer, cols, O), dy, attrs));
        total = j === 0 ? v : Math.fround(total + v);
      }
      new Float32Array(buffer, value, 1)[0] = total;
    },
  },
};

// ---------------------------------------------------------------------------------------------------
// HALO (@sparsify/halo, ops.ts): r = 1/(λ² + m²), m = minLambda

interface HaloTermAttrs {
  minLambdaSquared: number;
  xi: number;
  psi: number;
  budget: number;
  l1: boolean;
}

/** [value, slope] from W = Σ|w|·r and L = Σ|λ| (float64): ξ·W + ψ·R(L − p) and ψ·R'(L − p). */
function haloFromSums(weighted: number, lambdaL1: number, { xi, psi, budget, l1 }: HaloTermAttrs): [number, number] {
  const excess = lambdaL1 - budget;
  return [xi * weighted + psi * (l1 ? Math.abs(excess) : excess * excess), psi * (l1 ? Math.sign(excess) : 2 * excess)];
}

/** inputs [w₁…wₙ, λ₁…λₙ] → [value, slope]: one pass per tensor for W and L, added in float64. */
const HALO_TERM: LoopKernel<HaloTermAttrs> = {
  name: PENALTY_KERNEL_NAMES.haloTerm,
  outputShapes: () => [[], []],
  run(inputs, [value, slope], attrs) {
    const n = inputs.length / 2;
    let [weighted, lambdaL1] = [0, 0];
    for (let j = 0; j < n; j++) {
      const [w, lambda] = [inputs[j], inputs[n + j]];
      for (let i = 0; i < w.length; i++) {
        const l = lambda[i];
        weighted += Math.abs(w[i]) / (l * l + attrs.minLambdaSquared);
        lambdaL1 += Math.abs(l);
      }
    }
    [value[0], slope[0]] = haloFromSums(weighted, lambdaL1, attrs);
  },
  simd: {
    code: HALO_WASM,
    call: (e, inputs, [value, slope], shapes, attrs, { memory }) => {
      const n = inputs.length / 2;
      const [v, s] = [new Float32Array(memory!.buffer, value, 1), new Float32Array(memory!.buffer, slope, 1)];
      let [weighted, lambdaL1] = [0, 0];
      for (let j = 0; j < n; j++) {
        e.haloSums(inputs[j], inputs[n + j], tf.util.sizeFromShape(shapes[j]), attrs.minLambdaSquared, value, slope);
        weighted += v[0];
        lambdaL1 += s[0];
      }
      [v[0], s[0]] = haloFromSums(weighted, lambdaL1, attrs);
    },
  },
};

interface HaloGradientAttrs {
  minLambdaSquared: number;
  xi: number;
}

/** g = dy·ξ and h = dy·slope, each rounded to float32 as a tfjs Mul rounds it. */
function upstream(dy: number, slope: number, xi: number): [number, number] {
  return [Math.fround(dy * Math.fround(xi)), Math.fround(dy * slope)];
}

/** inputs [w₁…wₙ, λ₁…λₙ, dy, slope] → [dw₁…dwₙ, dλ₁…dλₙ]: dw = g·sign(w)·r, dλ = −2g·|w|·λ·r² + h·sign(λ). */
const HALO_GRADIENTS: LoopKernel<HaloGradientAttrs> = {
  name: PENALTY_KERNEL_NAMES.haloGradients,
  outputShapes: (shapes) => shapes.slice(0, -2).map((shape) => shape.slice()),
  run(inputs, outputs, { minLambdaSquared: m2, xi }) {
    const n = (inputs.length - 2) / 2;
    const [g, h] = upstream(inputs[2 * n][0], inputs[2 * n + 1][0], xi);
    for (let j = 0; j < n; j++) {
      const [w, lambda, dw, dLambda] = [inputs[j], inputs[n + j], outputs[j], outputs[n + j]];
      for (let i = 0; i < w.length; i++) {
        const v = w[i];
        const l = lambda[i];
        const r = 1 / (l * l + m2);
        const gr = g * r;
        // fround, then + 0: +0 (not −0) where w or λ is 0 or a tiny negative rounds to 0 in float32.
        dw[i] = Math.fround(v > 0 ? gr : v < 0 ? -gr : 0) + 0;
        dLambda[i] = Math.fround(-2 * gr * r * Math.abs(v) * l + (l > 0 ? h : l < 0 ? -h : 0)) + 0;
      }
    }
  },
  simd: {
    code: HALO_WASM,
    call: (e, inputs, outputs, shapes, { minLambdaSquared, xi }, { memory }) => {
      const n = (inputs.length - 2) / 2;
      const read = (at: number) => new Float32Array(memory!.buffer, at, 1)[0];
      const [g, h] = upstream(read(inputs[2 * n]), read(inputs[2 * n + 1]), xi);
      for (let j = 0; j < n; j++) {
        e.haloGradients(inputs[j], inputs[n + j], tf.util.sizeFromShape(shapes[j]), minLambdaSquared, g, h, outputs[j], outputs[n + j]);
      }
    },
  },
};

// ---------------------------------------------------------------------------------------------------
// HyperSparse (@sparsify/hypersparse, ops.ts)

interface HyperSparseAttrs {
  s: number;
  alpha: number;
}

/**
 * inputs [w₁…wₙ] → [[c, α·c], g₁…gₙ]: c = s·A/T (A = Σ|w|, T = Σ tanh(s|w|), in float64), α·c (a float32
 * product), gⱼ = (α·c)·sign(wⱼ)·sech²(s|wⱼ|), each product rounded to float32. One exponential per
 * weight: u = e^(−2s|w|), tanh = (1 − u)/(1 + u), sech² = 4u/(1 + u)². The SIMD calls read nothing
 * back, so the pass runs on the helper thread where there is one (during the forward and backward passes).
 */
const HYPERSPARSE_GRADIENTS: LoopKernel<HyperSparseAttrs> = {
  name: PENALTY_KERNEL_NAMES.hyperSparseGradients,
  outputShapes: (shapes) => [[2], ...shapes.map((shape) => shape.slice())],
  run(weights, [stats, ...gs], { s, alpha }) {
    let [a, t] = [0, 0];
    weights.forEach((w, j) => {
      const g = gs[j];
      for (let i = 0; i < w.length; i++) {
        const m = Math.abs(w[i]);
        const u = Math.exp(-2 * s * m);
        const d = 1 + u;
        a += m;
        t += (1 - u) / d;
        const sech2 = (4 * u) / (d * d);
        // fround, then + 0: +0 (not −0) where w = 0 or sech² underflows in float32.
        g[i] = Math.fround(w[i] > 0 ? sech2 : w[i] < 0 ? -sech2 : 0) + 0;
      }
    });
    stats[0] = (s * a) / t;
    // The product of two float32 values is exact in float64: storing it rounds once, as f32 Mul does.
    stats[1] = Math.fround(alpha) * stats[0];
    const k = stats[1];
    for (const g of gs) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i] * k);
  },
  simd: {
    code: HYPERSPARSE_WASM,
    offThread: true,
    call: (e, weights, [stats, ...gs], shapes, { s, alpha }) => {
      const sizes = shapes.map((shape) => tf.util.sizeFromShape(shape));
      weights.forEach((w, j) => e.hyperSparsePass(w, sizes[j], s, gs[j]));
      e.hyperSparseScale(s, alpha, stats, stats + 4);
      gs.forEach((g, j) => e.scaleInPlace(g, sizes[j], stats + 4));
    },
  },
};

/** The kernels for the built-in penalty packages' ops. */
export const PENALTY_LOOP_KERNELS: readonly LoopKernel<object>[] = [
  HOYER_RATIO_STEP,
  GROUP_HOYER_SQUARE_STEP,
  HALO_TERM,
  HALO_GRADIENTS,
  HYPERSPARSE_GRADIENTS,
] as unknown as LoopKernel<object>[];
