import * as tf from '@tensorflow/tfjs';
import type { Param, ParamLayout } from '@sparsify/core';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Deterministic uniform [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller), rounded to float32 so host references see the same values. */
export function gaussian(n: number, seed: number, scale = 1): Float32Array {
  const u = seeded(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

let counter = 0;
/** A Param around a fresh variable (the caller disposes `variable`). */
export function makeParam(values: ArrayLike<number>, shape: number[], layout: ParamLayout, role: Param['role'] = 'kernel'): Param {
  const name = `hypersparse_test_${++counter}/${role}`;
  const variable = tf.variable(tf.tensor(Array.from(values), shape, 'float32'), true, name);
  const layerClass = layout === 'conv2d' ? 'Conv2D' : layout === 'depthwiseConv2d' ? 'DepthwiseConv2D' : 'Dense';
  return { name, layerName: name.split('/')[0], layerClass, role, layout, shape, size: variable.size, variable };
}

/** Gradients of `f` with respect to the params' variables, as float64 arrays. */
export function gradsOf(f: () => tf.Scalar, params: readonly Param[]): { value: number; grads: Float64Array[] } {
  const variables = params.map((p) => p.variable);
  let out: { value: number; grads: Float64Array[] } | undefined;
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(f, variables);
    out = {
      value: value.dataSync()[0],
      grads: variables.map((v) => Float64Array.from(grads[v.name] ? grads[v.name].dataSync() : new Float32Array(v.size))),
    };
  });
  return out!;
}

export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-300);
}

/** Row-major index helpers for the host references. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Index along `axis` of flat element `i`. */
export function coord(i: number, shape: readonly number[], axis: number): number {
  return Math.floor(i / strides(shape)[axis]) % shape[axis];
}

/** HyperSparse in float64 on the host (penalties.md §6.1–6.2), over all tensors as one vector. */
export function hyperSparseRef(tensors: readonly ArrayLike<number>[], kappa: number, alpha = 1, C = 0.6585) {
  const all = tensors.flatMap((w) => Array.from(w));
  const sorted = all.map(Math.abs).sort((a, b) => a - b);
  const t = sorted[Math.floor(kappa * all.length)];
  const s = C / t;
  const A = all.reduce((acc, v) => acc + Math.abs(v), 0);
  const T = all.reduce((acc, v) => acc + Math.tanh(s * Math.abs(v)), 0);
  const c = (s * A) / T;
  const sech2 = (x: number) => {
    const u = Math.exp(-2 * x);
    return (4 * u) / (1 + u) ** 2;
  };
  const grads = tensors.map((w) => Array.from(w, (v) => alpha * Math.sign(v) * c * sech2(s * Math.abs(v))));
  /** The surrogate A·T/sg(T) − A with t, s and sg(T) frozen here, at any point. */
  const surrogate = (xs: readonly ArrayLike<number>[]) => {
    const flat = xs.flatMap((w) => Array.from(w));
    const a = flat.reduce((acc, v) => acc + Math.abs(v), 0);
    const tt = flat.reduce((acc, v) => acc + Math.tanh(s * Math.abs(v)), 0);
    return alpha * ((a * tt) / T - a);
  };
  return { t, s, A, T, c, grads, surrogate };
}
