import * as tf from '@tensorflow/tfjs';
import { check, checkInteger } from './errors.js';
import { kthSmallest, readMagnitudes } from './magnitude.js';

/**
 * Ops that meet their kernels by name, as tfjs's own ops do: `runOp` runs the kernel registered under
 * `name` for the active backend, if any (an accelerator such as `@sparsify/backend` registers fast ones
 * for the backends it knows), and otherwise `plain`, the same computation written with tfjs ops. The
 * plain version is the definition: a kernel must equal it to float32 rounding (the conformance kit and
 * the accelerator's tests check that). No gradient is recorded: ops are the halves of `tf.customGrad`s.
 */
export type PlainOp<A extends object> = (inputs: tf.Tensor[], attrs: A) => tf.Tensor[];

/** Runs the kernel `name` where one is registered for the active backend, else `plain`. Inputs must be float32. */
export function runOp<A extends object>(name: string, inputs: readonly tf.Tensor[], attrs: A, plain: PlainOp<A>): tf.Tensor[] {
  if (tf.getKernel(name, tf.getBackend()) === undefined || inputs.some((t) => t.dtype !== 'float32')) {
    return tf.tidy(() => plain(inputs.slice(), attrs));
  }
  const named: tf.NamedTensorMap = {};
  inputs.forEach((t, i) => (named[`x${i}`] = t));
  const out = tf.engine().runKernel(name, named, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

/** Whether `runOp(name, …)` runs a registered kernel on the active backend (for tests and benchmarks). */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * The full-size passes the built-in penalties share, by kernel name. Each is one loop over its tensors
 * where a kernel is registered.
 */
export const PASS_KERNELS = {
  absAndSquareSums: 'SparsifyAbsAndSquareSums',
  absSum: 'SparsifyAbsSum',
  signLinear: 'SparsifySignLinear',
  groupSquareSums: 'SparsifyGroupSquareSums',
  groupScale: 'SparsifyGroupScale',
  kthSmallestMagnitude: 'SparsifyKthSmallestMagnitude',
} as const;

/**
 * A kernel's layout for `groupSquareSums` and `groupScale`, as [K, I, O]: I indexes input groups (axis
 * rank−2), O output groups (axis rank−1), K the rest (a conv's spatial positions).
 */
export function groupLayout(shape: readonly number[]): [K: number, I: number, O: number] {
  const r = shape.length;
  return [tf.util.sizeFromShape(shape.slice(0, r - 2)), shape[r - 2], shape[r - 1]];
}

/** [Σ|x|, Σx²] as two scalars, in one pass. */
export function absAndSquareSums(x: tf.Tensor): [sumAbs: tf.Scalar, sumSquares: tf.Scalar] {
  const [a, q] = runOp(PASS_KERNELS.absAndSquareSums, [x], {}, ([v]) => [tf.sum(tf.abs(v)), tf.sum(tf.square(v))]);
  return [a as tf.Scalar, q as tf.Scalar];
}

/** Σ|x| as a scalar, in one pass. */
export function absSum(x: tf.Tensor): tf.Scalar {
  return runOp(PASS_KERNELS.absSum, [x], {}, ([v]) => [tf.sum(tf.abs(v))])[0] as tf.Scalar;
}

/**
 * c·(a·sign(x) + b·x) for scalar tensors a, b (default 0) and c (default 1), with sign(0) = 0 and +0
 * (not −0) at x = 0: the gradient of every L1/L2 combination, c being the upstream gradient. Left out,
 * b and c cost nothing.
 */
export function signLinear(x: tf.Tensor, a: tf.Tensor, b?: tf.Tensor, c?: tf.Tensor): tf.Tensor {
  const inputs = [x, a, ...(b || c ? [b ?? tf.scalar(0)] : []), ...(c ? [c] : [])];
  return runOp(PASS_KERNELS.signLinear, inputs, {}, ([v, av, bv, cv]) => {
    let y = tf.mul(tf.sign(v), av);
    if (bv) y = tf.add(y, tf.mul(v, bv));
    if (cv) y = tf.mul(y, cv);
    return [tf.add(y, tf.scalar(0))];
  })[0];
}

/**
 * Sums of squares per input group and per output group of a kernel of rank ≥ 2 whose last two axes
 * index inputs and outputs (dense [in, out], conv2d [h, w, in, out]): `[rows [in], cols [out]]`.
 */
export function groupSquareSums(x: tf.Tensor): [rows: tf.Tensor1D, cols: tf.Tensor1D] {
  const [rows, cols] = runOp(PASS_KERNELS.groupSquareSums, [x], {}, ([v]) => {
    const squares = tf.reshape(tf.square(v), groupLayout(v.shape));
    return [tf.sum(squares, [0, 2]), tf.sum(squares, [0, 1])];
  });
  return [rows as tf.Tensor1D, cols as tf.Tensor1D];
}

/** x·(rows[i] + cols[o]) for a kernel laid out as in `groupSquareSums`, with +0 at x = 0. */
export function groupScale(x: tf.Tensor, rows: tf.Tensor1D, cols: tf.Tensor1D): tf.Tensor {
  return runOp(PASS_KERNELS.groupScale, [x, rows, cols], {}, ([v, r, c]) => {
    const [K, I, O] = groupLayout(v.shape);
    const factor = tf.add(tf.reshape(r, [1, I, 1]), tf.reshape(c, [1, 1, O]));
    return [tf.reshape(tf.add(tf.mul(tf.reshape(v, [K, I, O]), factor), tf.scalar(0)), v.shape)];
  })[0];
}

/**
 * The k-th smallest |w| (0-based) over all `tensors` together, as `kthSmallest(readMagnitudes(tensors), k)`.
 * `near`, a magnitude close to the answer (e.g. the previous step's), may make a kernel faster; the
 * result never depends on it.
 */
export function kthSmallestMagnitude(tensors: readonly tf.Tensor[], k: number, near?: number): number {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  checkInteger('kthSmallestMagnitude k', k, 0);
  check(k < total, 'kthSmallestMagnitude k', k, `< the number of values (${total})`);
  if (near !== undefined) check(Number.isFinite(near) && near >= 0, 'kthSmallestMagnitude near', near, 'a finite magnitude ≥ 0');
  return tf.tidy(() => {
    const [value] = runOp(PASS_KERNELS.kthSmallestMagnitude, tensors, { k, near: near ?? -1 }, (ts, { k: index }) => [
      tf.scalar(kthSmallest(readMagnitudes(ts), index)),
    ]);
    return value.dataSync()[0];
  });
}
