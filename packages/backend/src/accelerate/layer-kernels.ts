import * as tf from '@tensorflow/tfjs';
import { LAYER_KERNELS } from '@sparsify/core';
import { LAYERS_WASM } from './layers.wasm.js';
import type { LoopContext, LoopKernel, WasmKernelExports } from './loop-kernels.js';

/**
 * Loop kernels for core's layer ops (`batchNormTraining`, its gradient, ReLU's gradient): one pass per
 * statistic and one for the output, where tfjs-layers runs ≈ 30 ops, several of them full-size
 * broadcasts. Tensors are [rows, C], channels last. Per-channel sums are float64 in the JS loops and
 * float32 lanes over blocks of 64 rows added in float64 in the SIMD ones (layers.wat); the per-channel
 * arithmetic runs in float64 on the host.
 */

interface EpsilonAttrs {
  epsilon: number;
}

/** Per channel of x [rows, C]: [Σ(x − center), Σ(x − center)²] in float64. */
function centeredSums(x: Float32Array, C: number, center: ArrayLike<number>): [Float64Array, Float64Array] {
  const s = new Float64Array(C);
  const q = new Float64Array(C);
  for (let i = 0; i < x.length; ) {
    for (let c = 0; c < C; c++, i++) {
      const d = x[i] - center[c];
      s[c] += d;
      q[c] += d * d;
    }
  }
  return [s, q];
}

/** Per channel: [Σdy, Σdy·(x − center)] in float64. */
function gradSums(dy: Float32Array, x: Float32Array, C: number, center: ArrayLike<number>): [Float64Array, Float64Array] {
  const s = new Float64Array(C);
  const q = new Float64Array(C);
  for (let i = 0; i < x.length; ) {
    for (let c = 0; c < C; c++, i++) {
      s[c] += dy[i];
      q[c] += dy[i] * (x[i] - center[c]);
    }
  }
  return [s, q];
}

/**
 * The statistics from the sums of the two passes: mean from Σx, then the variance from the sums centred
 * on that (float32) mean, corrected for its rounding: (Σd² − (Σd)²/n)/n.
 */
function meanOf(sums: Float64Array, n: number, mean: Float32Array): void {
  for (let c = 0; c < mean.length; c++) mean[c] = sums[c] / n;
}

function varianceOf(s: Float64Array, q: Float64Array, n: number, variance: Float32Array): void {
  for (let c = 0; c < variance.length; c++) variance[c] = Math.max(0, (q[c] - (s[c] * s[c]) / n) / n);
}

/** γ/√(σ² + ε) per channel: the output's scale. */
function scales(gamma: Float32Array, variance: Float32Array, epsilon: number, out: Float32Array): void {
  for (let c = 0; c < out.length; c++) out[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
}

/** dγ, dβ and dx's coefficients (dx = a·dy + b·(x − μ) + k) from Σdy and Σdy·(x − μ). */
function gradCoefficients(
  sDy: Float64Array,
  sDyX: Float64Array,
  gamma: Float32Array,
  variance: Float32Array,
  epsilon: number,
  n: number,
  [dGamma, dBeta, a, b, k]: Float32Array[],
): void {
  for (let c = 0; c < gamma.length; c++) {
    const r = 1 / Math.sqrt(variance[c] + epsilon);
    const gr = gamma[c] * r;
    dBeta[c] = sDy[c];
    dGamma[c] = sDyX[c] * r;
    a[c] = gr;
    b[c] = (-gr * r * r * sDyX[c]) / n;
    k[c] = (-gr * sDy[c]) / n;
  }
}

/** The float32 and float64 views a SIMD call needs, carved from one scratch allocation. */
function scratchViews(
  context: LoopContext,
  C: number,
  f64: number,
  f32: number,
): { base: number; f64: Float64Array[]; f32: Float32Array[] } {
  const base = context.scratch(2 * C * f64 + C * f32) as number; // f64 parts first: 8-byte aligned
  const buffer = context.memory!.buffer;
  return {
    base,
    f64: Array.from({ length: f64 }, (_, i) => new Float64Array(buffer, base + 8 * C * i, C)),
    f32: Array.from({ length: f32 }, (_, i) => new Float32Array(buffer, base + 8 * C * f64 + 4 * C * i, C)),
  };
}

const offsetOf = (views: { f32: Float32Array[] }, i: number) => views.f32[i].byteOffset;

/** SIMD needs whole vectors of channels; other widths run the JS loop over heap views. */
function viewsOf(context: LoopContext, offsets: readonly number[], sizes: readonly number[]): Float32Array[] {
  return offsets.map((o, i) => new Float32Array(context.memory!.buffer, o, sizes[i]));
}

/** inputs [x, γ, β] → [y, mean, variance]: y = (x − μ)·γ/√(σ² + ε) + β with the batch's μ, σ² over all axes but the last. */
export const BATCH_NORM_TRAINING: LoopKernel<EpsilonAttrs> = {
  name: LAYER_KERNELS.batchNormTraining,
  outputShapes: ([x]) => [x.slice(), [x[x.length - 1]], [x[x.length - 1]]],
  run([x, gamma, beta], [y, mean, variance], { epsilon }) {
    const C = gamma.length;
    const n = x.length / C;
    meanOf(centeredSums(x, C, new Float32Array(C))[0], n, mean);
    const [s, q] = centeredSums(x, C, mean);
    varianceOf(s, q, n, variance);
    const k = new Float32Array(C);
    scales(gamma, variance, epsilon, k);
    for (let i = 0; i < x.length; ) for (let c = 0; c < C; c++, i++) y[i] = (x[i] - mean[c]) * k[c] + beta[c];
  },
  simd: {
    code: LAYERS_WASM,
    call(e: WasmKernelExports, [x, gamma, beta], [y, mean, variance], [shape], attrs, context) {
      const C = shape[shape.length - 1];
      const size = tf.util.sizeFromShape(shape);
      const n = size / C;
      if (C % 4 !== 0 || n === 0) {
        const ins = viewsOf(context, [x, gamma, beta], [size, C, C]);
        BATCH_NORM_TRAINING.run(ins, viewsOf(context, [y, mean, variance], [size, C, C]), attrs, context);
        return;
      }
      // f64: s, q; f32: s32, q32, zeros then the scale
      const v = scratchViews(context, C, 2, 4);
      const [meanV, varianceV, gammaV] = viewsOf(context, [mean, variance, gamma], [C, C, C]);
      const [s64, q64] = v.f64;
      const [zeros, scale] = [v.f32[2], v.f32[3]];
      zeros.fill(0);
      e.centeredSums(x, n, C, zeros.byteOffset, offsetOf(v, 0), offsetOf(v, 1), s64.byteOffset, q64.byteOffset);
      meanOf(s64, n, meanV);
      e.centeredSums(x, n, C, mean, offsetOf(v, 0), offsetOf(v, 1), s64.byteOffset, q64.byteOffset);
      varianceOf(s64, q64, n, varianceV);
      scales(gammaV, varianceV, attrs.epsilon, scale);
      e.affine(x, n, C, mean, scale.byteOffset, beta, y);
    },
  },
};

/** inputs [dy, x, γ, mean, variance] → [dx, dγ, dβ]: the gradient of BATCH_NORM_TRAINING's y (core's plainBatchNormGrad). */
export const BATCH_NORM_TRAINING_GRAD: LoopKernel<EpsilonAttrs> = {
  name: LAYER_KERNELS.batchNormTrainingGrad,
  outputShapes: ([, x]) => [x.slice(), [x[x.length - 1]], [x[x.length - 1]]],
  run([dy, x, gamma, mean, variance], [dx, dGamma, dBeta], { epsilon }) {
    const C = gamma.length;
    const n = x.length / C;
    const [sDy, sDyX] = gradSums(dy, x, C, mean);
    const [a, b, k] = [new Float32Array(C), new Float32Array(C), new Float32Array(C)];
    gradCoefficients(sDy, sDyX, gamma, variance, epsilon, n, [dGamma, dBeta, a, b, k]);
    for (let i = 0; i < x.length; ) for (let c = 0; c < C; c++, i++) dx[i] = a[c] * dy[i] + b[c] * (x[i] - mean[c]) + k[c];
  },
  simd: {
    code: LAYERS_WASM,
    call(e, [dy, x, gamma, mean, variance], [dx, dGamma, dBeta], [, shape], attrs, context) {
      const C = shape[shape.length - 1];
      const size = tf.util.sizeFromShape(shape);
      const n = size / C;
      if (C % 4 !== 0 || n === 0) {
        const ins = viewsOf(context, [dy, x, gamma, mean, variance], [size, size, C, C, C]);
        BATCH_NORM_TRAINING_GRAD.run(ins, viewsOf(context, [dx, dGamma, dBeta], [size, C, C]), attrs, context);
        return;
      }
      // f64: Σdy, Σdy·(x − μ); f32: their block sums, then a, b, k
      const v = scratchViews(context, C, 2, 5);
      const [s64, q64] = v.f64;
      e.gradSums(dy, x, n, C, mean, offsetOf(v, 0), offsetOf(v, 1), s64.byteOffset, q64.byteOffset);
      const [gammaV, varianceV, dGammaV, dBetaV] = viewsOf(context, [gamma, variance, dGamma, dBeta], [C, C, C, C]);
      gradCoefficients(s64, q64, gammaV, varianceV, attrs.epsilon, n, [dGammaV, dBetaV, v.f32[2], v.f32[3], v.f32[4]]);
      e.gradCombine(dy, x, n, C, mean, offsetOf(v, 2), offsetOf(v, 3), offsetOf(v, 4), dx);
    },
  },
};

/** inputs [dy, y] → [dy·[y > 0]]: ReLU's gradient from its output. */
export const RELU_GRAD: LoopKernel = {
  name: LAYER_KERNELS.reluGrad,
  outputShapes: ([dy]) => [dy.slice()],
  run([dy, y], [out]) {
    for (let i = 0; i < y.length; i++) out[i] = dy[i] * (y[i] > 0 ? 1 : 0);
  },
  simd: {
    code: LAYERS_WASM,
    call: (e, [dy, y], [out], [shape]) => void e.reluGrad(dy, y, tf.util.sizeFromShape(shape), out),
  },
};

/**
 * inputs [x] → [max(x, 0)], as the cpu backend's Relu (Math.max(0, x)). On wasm a SIMD loop: the stock
 * kernel takes 2.5× the time of an Add over the same activation.
 */
export const RELU: LoopKernel = {
  name: LAYER_KERNELS.relu,
  outputShapes: ([x]) => [x.slice()],
  run([x], [out]) {
    for (let i = 0; i < x.length; i++) out[i] = Math.max(0, x[i]);
  },
  simd: {
    code: LAYERS_WASM,
    call: (e, [x], [out], [shape]) => void e.relu(x, tf.util.sizeFromShape(shape), out),
  },
};

export const LAYER_LOOP_KERNELS: readonly LoopKernel<object>[] = [
  BATCH_NORM_TRAINING as LoopKernel<object>,
  BATCH_NORM_TRAINING_GRAD as LoopKernel<object>,
  RELU as LoopKernel<object>,
  RELU_GRAD as LoopKernel<object>,
];
