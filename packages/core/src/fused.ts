import * as tf from '@tensorflow/tfjs';
import { FUSED_WASM } from './fused.wasm.js';
import { runLoopKernel, type LoopKernel } from './loop-kernels.js';

/**
 * The full-size passes that the built-in penalties share, each one loop over the tensor
 * (see loop-kernels.ts). None records a gradient: they are the forward and backward halves of the
 * penalties' `tf.customGrad` ops.
 */

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A kernel's layout as [K, I, O]: I indexes input groups (axis rank−2), O output groups (axis rank−1). */
function kio(shape: readonly number[]): [number, number, number] {
  const r = shape.length;
  const I = shape[r - 2];
  const O = shape[r - 1];
  return [shape.slice(0, r - 2).reduce((a, b) => a * b, 1), I, O];
}

const ABS_AND_SQUARE_SUMS: LoopKernel = {
  name: 'SparsifyAbsAndSquareSums',
  outputShapes: () => [[2]],
  run([x], [out]) {
    let a = 0;
    let q = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      a += Math.abs(v);
      q += v * v;
    }
    out[0] = a;
    out[1] = q;
  },
  composite: ([x]) => [tf.stack([tf.sum(tf.abs(x)), tf.sum(tf.square(x))])],
  simd: { code: FUSED_WASM, call: (e, [x], [out], [shape]) => e.absAndSquareSums(x, size(shape), out) },
};

/** [Σ|x|, Σx²] in one pass (summed in float64 by the loop kernels). */
export function absAndSquareSums(x: tf.Tensor): tf.Tensor1D {
  return runLoopKernel(ABS_AND_SQUARE_SUMS, [x], {})[0] as tf.Tensor1D;
}

const SIGN_LINEAR: LoopKernel = {
  name: 'SparsifySignLinear',
  outputShapes: ([shape]) => [shape.slice()],
  run([x, aTensor, bTensor], [out]) {
    const a = aTensor[0];
    const b = bTensor[0];
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      // fround, then + 0: +0 (not −0) at v = 0 and where a tiny negative rounds to 0 in float32.
      out[i] = Math.fround((v > 0 ? a : v < 0 ? -a : 0) + b * v) + 0;
    }
  },
  composite: ([x, a, b]) => [tf.add(tf.add(tf.mul(tf.sign(x), a), tf.mul(x, b)), tf.scalar(0))],
  simd: { code: FUSED_WASM, call: (e, [x, a, b], [out], [shape]) => e.signLinear(x, size(shape), a, b, out) },
};

/** a·sign(x) + b·x for scalar tensors a and b, with sign(0) = 0 and +0 at x = 0. */
export function signLinear(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return runLoopKernel(SIGN_LINEAR, [x, a, b], {})[0];
}

const GROUP_SQUARE_SUMS: LoopKernel = {
  name: 'SparsifyGroupSquareSums',
  outputShapes: ([shape]) => {
    const [, I, O] = kio(shape);
    return [[I], [O]];
  },
  run([x], [rows, cols]) {
    rows.fill(0);
    cols.fill(0);
    const O = cols.length;
    const I = rows.length;
    for (let base = 0; base < x.length; base += I * O) {
      for (let i = 0, p = base; i < I; i++) {
        let row = 0;
        for (let o = 0; o < O; o++, p++) {
          const q = x[p] * x[p];
          row += q;
          cols[o] += q;
        }
        rows[i] += row;
      }
    }
  },
  composite: ([x]) => {
    const [K, I, O] = kio(x.shape);
    const squares = tf.reshape(tf.square(x), [K, I, O]);
    return [tf.sum(squares, [0, 2]), tf.sum(squares, [0, 1])];
  },
  simd: { code: FUSED_WASM, call: (e, [x], [rows, cols], [shape]) => e.groupSquareSums(x, ...kio(shape), rows, cols) },
};

/**
 * Sums of squares per input group and per output group of a kernel of rank ≥ 2 whose last two axes
 * index inputs and outputs (dense [in, out], conv2d [h, w, in, out]): `[rows [in], cols [out]]`.
 */
export function groupSquareSums(x: tf.Tensor): [rows: tf.Tensor1D, cols: tf.Tensor1D] {
  const [rows, cols] = runLoopKernel(GROUP_SQUARE_SUMS, [x], {});
  return [rows as tf.Tensor1D, cols as tf.Tensor1D];
}

const GROUP_SCALE: LoopKernel = {
  name: 'SparsifyGroupScale',
  outputShapes: ([shape]) => [shape.slice()],
  run([x, rows, cols], [out]) {
    const O = cols.length;
    const I = rows.length;
    for (let base = 0; base < x.length; base += I * O) {
      for (let i = 0, p = base; i < I; i++) {
        const row = rows[i];
        for (let o = 0; o < O; o++, p++) out[p] = Math.fround(x[p] * (row + cols[o])) + 0;
      }
    }
  },
  composite: ([x, rows, cols]) => {
    const [K, I, O] = kio(x.shape);
    const factor = tf.add(tf.reshape(rows, [1, I, 1]), tf.reshape(cols, [1, 1, O]));
    return [tf.reshape(tf.add(tf.mul(tf.reshape(x, [K, I, O]), factor), tf.scalar(0)), x.shape)];
  },
  simd: { code: FUSED_WASM, call: (e, [x, rows, cols], [out], [shape]) => e.groupScale(x, ...kio(shape), rows, cols, out) },
};

/** x·(rows[i] + cols[o]) for a kernel laid out as in `groupSquareSums`, with +0 at x = 0. */
export function groupScale(x: tf.Tensor, rows: tf.Tensor1D, cols: tf.Tensor1D): tf.Tensor {
  return runLoopKernel(GROUP_SCALE, [x, rows, cols], {})[0];
}

/** The kernels above, for `loopKernelImplementation` and for tests. */
export const FUSED_KERNELS = {
  absAndSquareSums: ABS_AND_SQUARE_SUMS,
  signLinear: SIGN_LINEAR,
  groupSquareSums: GROUP_SQUARE_SUMS,
  groupScale: GROUP_SCALE,
} as const;
