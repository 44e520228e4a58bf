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

let counter = 0;
/** A Param around a fresh variable (the caller disposes `variable`). */
export function makeParam(values: ArrayLike<number>, shape: number[], layout: ParamLayout = 'dense'): Param {
  const name = `al_test_${++counter}/kernel`;
  const variable = tf.tidy(() => tf.variable(tf.tensor(Array.from(values), shape, 'float32'), true, name));
  return { name, layerName: name.split('/')[0], layerClass: layout === 'conv2d' ? 'Conv2D' : 'Dense', role: 'kernel', layout, shape, size: variable.size, variable };
}

/** Value and gradients of `f` with respect to `variables`, as float64 arrays (zeros where no gradient). */
export function gradsOf(f: () => tf.Scalar, variables: readonly tf.Variable[]): { value: number; grads: Float64Array[] } {
  let out: { value: number; grads: Float64Array[] } | undefined;
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(f, variables as tf.Variable[]);
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

/** Float64 copy of a tensor's (float32) values. */
export function host(t: tf.Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/** Float32-rounded values in ±[lo, hi] with random signs, and some exact zeros when `zeros`. */
export function values(n: number, seed: number, lo: number, hi: number, zeros = 0): Float32Array {
  const u = seeded(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = lo + (hi - lo) * u();
    out[i] = u() < 0.5 ? -m : m;
  }
  for (let i = 0; i < zeros; i++) out[Math.floor(u() * n)] = 0;
  return out;
}

