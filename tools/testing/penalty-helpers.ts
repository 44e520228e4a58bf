// Shared by the penalty packages' tests: seeded data, Params around fresh variables, float64
// gradients and error measures for comparisons with host (float64) references.
import * as tf from '@tensorflow/tfjs';
import type { Param, ParamLayout } from '@sparsify/core';
import { seededRandom } from '@sparsify/conformance';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Deterministic uniform [0, 1) (mulberry32). */
export const seeded = seededRandom;

/** Standard normal samples (Box–Muller), rounded to float32 so host references see the same values. */
export function gaussian(n: number, seed: number, scale = 1): Float32Array {
  const u = seeded(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
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

let counter = 0;
/** A Param around a fresh variable (the caller disposes `variable`). */
export function makeParam(data: ArrayLike<number>, shape: number[], layout: ParamLayout = 'dense', role: Param['role'] = 'kernel'): Param {
  const name = `penalty_test_${++counter}/${role}`;
  const variable = tf.tidy(() => tf.variable(tf.tensor(Array.from(data), shape, 'float32'), true, name));
  const layerClass = layout === 'conv2d' ? 'Conv2D' : layout === 'depthwiseConv2d' ? 'DepthwiseConv2D' : 'Dense';
  return { name, layerName: name.split('/')[0], layerClass, role, layout, shape, size: variable.size, variable };
}

/** Value and gradients of `f` with respect to params or variables, as float64 arrays (zeros where none). */
export function gradsOf(f: () => tf.Scalar, of: readonly (Param | tf.Variable)[]): { value: number; grads: Float64Array[] } {
  const variables = of.map((x) => ('variable' in x && 'role' in x ? x.variable : (x as tf.Variable)));
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

/** Float64 copy of a tensor's (float32) values. */
export function host(t: tf.Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Index along `axis` of flat element `i`. */
export function coord(i: number, shape: readonly number[], axis: number): number {
  return Math.floor(i / strides(shape)[axis]) % shape[axis];
}

/**
 * A seeded task with a sparse ground truth: 32 inputs of which 8 are informative, 4 classes from a
 * random linear teacher on those 8 (ties impossible), 1536 training and 1024 test samples.
 */
export function sparseTask(seed = 7): { xTrain: tf.Tensor; yTrain: tf.Tensor; xTest: tf.Tensor; yTest: tf.Tensor } {
  const dim = 32;
  const informative = 8;
  const classes = 4;
  const teacher = gaussian(informative * classes, seed);
  const make = (n: number, s: number) => {
    const x = gaussian(n * dim, s);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = -Infinity;
      for (let c = 0; c < classes; c++) {
        let z = 0;
        for (let j = 0; j < informative; j++) z += x[i * dim + j * 4] * teacher[j * classes + c];
        if (z > best) {
          best = z;
          y[i] = c;
        }
      }
    }
    return [tf.tensor2d(x, [n, dim]), tf.tensor1d(y, 'int32')] as const;
  };
  const [xTrain, yTrain] = make(1536, seed + 1);
  const [xTest, yTest] = make(1024, seed + 2);
  return { xTrain, yTrain, xTest, yTest };
}

export function mlp(seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [32], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}
