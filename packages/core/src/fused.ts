import * as tf from '@tensorflow/tfjs';
import { FUSED_WASM } from './fused.wasm.js';
import { floatToKey, keyToFloat, kthFromBands, requestMagnitudeBands } from './magnitude-band.js';
import { loopKernelImplementation, runLoopKernel, type LoopKernel } from './loop-kernels.js';
import { check, checkInteger } from './errors.js';
import { kthSmallest, readMagnitudes } from './magnitude.js';

/**
 * The full-size passes that the built-in penalties share, each one loop over the tensor
 * (see loop-kernels.ts). None records a gradient: they are the forward and backward halves of the
 * penalties' `tf.customGrad` ops.
 */

/**
 * A kernel's layout for `groupSquareSums` and `groupScale`, as [K, I, O]: I indexes input groups (axis
 * rank−2), O output groups (axis rank−1), K the rest (a conv's spatial positions).
 */
export function groupLayout(shape: readonly number[]): [K: number, I: number, O: number] {
  const r = shape.length;
  const I = shape[r - 2];
  const O = shape[r - 1];
  return [tf.util.sizeFromShape(shape.slice(0, r - 2)), I, O];
}

const ABS_AND_SQUARE_SUMS: LoopKernel = {
  name: 'SparsifyAbsAndSquareSums',
  outputShapes: () => [[], []],
  run([x], [outA, outQ]) {
    let a = 0;
    let q = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      a += Math.abs(v);
      q += v * v;
    }
    outA[0] = a;
    outQ[0] = q;
  },
  composite: ([x]) => [tf.sum(tf.abs(x)), tf.sum(tf.square(x))],
  simd: { code: FUSED_WASM, call: (e, [x], [a, q], [shape]) => e.absAndSquareSums(x, tf.util.sizeFromShape(shape), a, q) },
};

/**
 * Sums the fused momentum update computed for the values it wrote, by data id (a tensor's data never
 * changes; `assign` gives a variable a new id), so that a penalty's next `absAndSquareSums` of the
 * variable needs no pass over weights that are no longer in cache. Host numbers: nothing to dispose.
 */
const cachedSums = new WeakMap<object, readonly [number, number]>();
/** Variables whose sums a penalty reads: the update computes them for these only. */
const sumsWanted = new WeakSet<tf.Variable>();

/** Whether `applyGradients` should have the momentum pass sum the new values of `variable`. */
export function wantsAbsAndSquareSums(variable: tf.Variable): boolean {
  return sumsWanted.has(variable);
}

/** Records [Σ|x|, Σx²] of the data `dataId`, as `absAndSquareSums` would compute them. */
export function cacheAbsAndSquareSums(dataId: object, sums: readonly [number, number]): void {
  cachedSums.set(dataId, sums);
}

/**
 * [Σ|x|, Σx²] as two scalars, in one pass (the JS loop sums in float64; the SIMD one in float32 lanes
 * per block of 1024 values, float64 across blocks). For a variable the fused momentum update has just
 * written, the sums it computed on the way (the same numbers).
 */
export function absAndSquareSums(x: tf.Tensor): [sumAbs: tf.Scalar, sumSquares: tf.Scalar] {
  if (x instanceof tf.Variable && loopKernelImplementation(ABS_AND_SQUARE_SUMS) !== 'composite') {
    sumsWanted.add(x);
    const cached = cachedSums.get(x.dataId);
    if (cached) return [tf.scalar(cached[0]), tf.scalar(cached[1])];
  }
  const [a, q] = runLoopKernel(ABS_AND_SQUARE_SUMS, [x], {});
  return [a as tf.Scalar, q as tf.Scalar];
}

/**
 * a·sign(v) + b·v for one value, in float32 as signLinear's SIMD loop and tfjs's ops compute it: b·v
 * rounded before the add (Mul, then Add); + 0 gives +0 (not −0) at v = 0 and where a tiny negative rounds
 * to 0. Also the fused momentum update's JS loop for this gradient form.
 */
export function signLinearAt(v: number, a: number, b: number): number {
  return Math.fround((v > 0 ? a : v < 0 ? -a : 0) + Math.fround(b * v)) + 0;
}

const SIGN_LINEAR: LoopKernel = {
  name: 'SparsifySignLinear',
  outputShapes: ([shape]) => [shape.slice()],
  run([x, aTensor, bTensor, cTensor], [out]) {
    // c·a and c·b rounded to float32, as the SIMD loop and a tfjs Mul round them
    const a = Math.fround(cTensor[0] * aTensor[0]);
    const b = Math.fround(cTensor[0] * bTensor[0]);
    for (let i = 0; i < x.length; i++) out[i] = signLinearAt(x[i], a, b);
  },
  composite: ([x, a, b, c]) => [tf.add(tf.mul(tf.add(tf.mul(tf.sign(x), a), tf.mul(x, b)), c), tf.scalar(0))],
  simd: { code: FUSED_WASM, call: (e, [x, a, b, c], [out], [shape]) => e.signLinear(x, tf.util.sizeFromShape(shape), a, b, c, out) },
};

/**
 * c·(a·sign(x) + b·x) for scalar tensors a, b and c (default 1), with sign(0) = 0 and +0 at x = 0:
 * the gradient of every L1/L2 combination, c being the upstream gradient.
 */
export function signLinear(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c?: tf.Tensor): tf.Tensor {
  return runLoopKernel(SIGN_LINEAR, [x, a, b, c ?? tf.scalar(1)], {})[0];
}

const GROUP_SQUARE_SUMS: LoopKernel = {
  name: 'SparsifyGroupSquareSums',
  outputShapes: ([shape]) => {
    const [, I, O] = groupLayout(shape);
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
    const [K, I, O] = groupLayout(x.shape);
    const squares = tf.reshape(tf.square(x), [K, I, O]);
    return [tf.sum(squares, [0, 2]), tf.sum(squares, [0, 1])];
  },
  simd: { code: FUSED_WASM, call: (e, [x], [rows, cols], [shape]) => e.groupSquareSums(x, ...groupLayout(shape), rows, cols) },
};

/**
 * Sums of squares per input group and per output group of a kernel of rank ≥ 2 whose last two axes
 * index inputs and outputs (dense [in, out], conv2d [h, w, in, out]): `[rows [in], cols [out]]`.
 */
export function groupSquareSums(x: tf.Tensor): [rows: tf.Tensor1D, cols: tf.Tensor1D] {
  const [rows, cols] = runLoopKernel(GROUP_SQUARE_SUMS, [x], {});
  return [rows as tf.Tensor1D, cols as tf.Tensor1D];
}

/**
 * x·(row + col) for one value, in float32 as groupScale's SIMD loop and tfjs's ops compute it: the sum
 * rounded before the product (Add, then Mul); + 0 gives +0 at x = 0. Also the fused momentum update's JS
 * loop for this gradient form.
 */
export function groupScaleAt(x: number, row: number, col: number): number {
  return Math.fround(x * Math.fround(row + col)) + 0;
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
        for (let o = 0; o < O; o++, p++) out[p] = groupScaleAt(x[p], row, cols[o]);
      }
    }
  },
  composite: ([x, rows, cols]) => {
    const [K, I, O] = groupLayout(x.shape);
    const factor = tf.add(tf.reshape(rows, [1, I, 1]), tf.reshape(cols, [1, 1, O]));
    return [tf.reshape(tf.add(tf.mul(tf.reshape(x, [K, I, O]), factor), tf.scalar(0)), x.shape)];
  },
  simd: { code: FUSED_WASM, call: (e, [x, rows, cols], [out], [shape]) => e.groupScale(x, ...groupLayout(shape), rows, cols, out) },
};

/** x·(rows[i] + cols[o]) for a kernel laid out as in `groupSquareSums`, with +0 at x = 0. */
export function groupScale(x: tf.Tensor, rows: tf.Tensor1D, cols: tf.Tensor1D): tf.Tensor {
  return runLoopKernel(GROUP_SCALE, [x, rows, cols], {})[0];
}

/**
 * The radix select's passes over magnitude keys (float32 bits with the sign cleared, which order as
 * the magnitudes do): the top 11 bits, the next 11 among keys with the first pass's prefix, the last 9.
 * Counting only, so nothing is copied, reordered or read back.
 */
const RADIX_PASSES = [
  { shift: 20, mask: 2047, prefixShift: 31 },
  { shift: 9, mask: 2047, prefixShift: 20 },
  { shift: 0, mask: 511, prefixShift: 9 },
] as const;

type CountPass = (shift: number, mask: number, prefixShift: number, prefix: number) => void;
/** Adds #{key < bounds[j]} to `counts[j]`, j = 0..3. */
type CountBelow = (bounds: readonly number[]) => void;

/**
 * The k-th smallest key, given a function that adds one pass's counts to `histogram`. With `nearKey`
 * (a key close to the answer, e.g. the previous step's), one compare-and-count pass finds whether the
 * answer shares the prefix of the first pass, or of the first two, with it; the passes it shares are
 * skipped (the first is the slow one: every key is counted into the histogram there). The result is
 * the same either way.
 */
function radixSelectKey(k: number, histogram: Int32Array, count: CountPass, nearKey?: number, countBelow?: CountBelow): number {
  let prefix = 0;
  let done = 0;
  if (nearKey !== undefined && countBelow) {
    // The key ranges that share the hint's prefix after passes 1 and 2: [lo, hi) for each.
    const ranges = RADIX_PASSES.slice(0, 2).map(({ shift }) => nearKey >>> shift);
    const bounds = ranges.flatMap((p, i) => [p << RADIX_PASSES[i].shift, (p + 1) << RADIX_PASSES[i].shift]);
    histogram.fill(0, 0, 4);
    countBelow(bounds);
    for (const pass of [1, 0]) {
      const [below, belowEnd] = [histogram[2 * pass], histogram[2 * pass + 1]];
      if (below <= k && k < belowEnd) {
        k -= below;
        prefix = ranges[pass];
        done = pass + 1;
        break;
      }
    }
  }
  for (const { shift, mask, prefixShift } of RADIX_PASSES.slice(done)) {
    histogram.fill(0);
    count(shift, mask, prefixShift, prefix);
    let bucket = 0;
    while (k >= histogram[bucket]) k -= histogram[bucket++];
    prefix = (prefix << (prefixShift - shift)) | bucket;
  }
  return prefix;
}

interface KthAttrs {
  k: number;
  /** A magnitude near the answer, or −1 for none (see radixSelectKey). */
  near: number;
}

const nearKeyOf = (near: number) => (near >= 0 ? floatToKey(near) : undefined);

const KTH_SMALLEST_MAGNITUDE: LoopKernel<KthAttrs> = {
  name: 'SparsifyKthSmallestMagnitude',
  // The k-th smallest |x| over all inputs, and the histogram the passes count into (scratch).
  outputShapes: () => [[], [2048]],
  run(inputs, [out, scratch], { k, near }) {
    const keys = inputs.map((x) => new Int32Array(x.buffer, x.byteOffset, x.length));
    const histogram = new Int32Array(scratch.buffer, scratch.byteOffset, scratch.length);
    const countBelow: CountBelow = (bounds) => {
      for (const bits of keys) {
        for (let i = 0; i < bits.length; i++) {
          const key = bits[i] & 0x7fffffff;
          for (let j = 0; j < 4; j++) histogram[j] += key < bounds[j] ? 1 : 0;
        }
      }
    };
    const count: CountPass = (shift, mask, prefixShift, prefix) => {
      for (const bits of keys) {
        for (let i = 0; i < bits.length; i++) {
          const key = bits[i] & 0x7fffffff;
          if (key >>> prefixShift === prefix) histogram[(key >>> shift) & mask]++;
        }
      }
    };
    out[0] = keyToFloat(radixSelectKey(k, histogram, count, nearKeyOf(near), countBelow));
  },
  composite: (inputs, { k }) => [tf.scalar(kthSmallest(readMagnitudes(inputs), k)), tf.zeros([2048])],
  simd: {
    code: FUSED_WASM,
    call: (e, inputs, [out, scratch], shapes, { k, near }, memory) => {
      const histogram = new Int32Array(memory.buffer, scratch, 2048);
      const sizes = shapes.map((shape) => tf.util.sizeFromShape(shape));
      const key = radixSelectKey(
        k,
        histogram,
        (shift, mask, prefixShift, prefix) =>
          inputs.forEach((x, i) => e.magnitudeHistogram(x, sizes[i], scratch, shift, mask, prefixShift, prefix)),
        nearKeyOf(near),
        ([b0, b1, b2, b3]) => inputs.forEach((x, i) => e.magnitudeCountBelow(x, sizes[i], b0, b1, b2, b3, scratch)),
      );
      new Float32Array(memory.buffer, out, 1)[0] = keyToFloat(key);
    },
  },
};

/**
 * The k-th smallest |w| (0-based) over all `tensors` together, as `kthSmallest(readMagnitudes(tensors), k)`
 * but, on cpu and wasm, without concatenating, copying or reading the weights back: three counting
 * passes of a radix select over the tensors in place (WebAssembly SIMD on wasm). HyperSparse needs it
 * every step.
 *
 * `near`, a magnitude close to the answer (the previous step's threshold), makes it faster when the
 * answer is near it: the first pass (the slowest), or the first two, become one compare-and-count
 * pass. Where `tensors` are variables updated by `applyGradients`' fused momentum pass, that pass
 * also collects the magnitudes in a narrow band around this call's answer (magnitude-band.ts), and
 * the next call selects among those when its answer lies in the band: no pass at all. The result
 * never depends on `near`.
 */
export function kthSmallestMagnitude(tensors: readonly tf.Tensor[], k: number, near?: number): number {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  checkInteger('kthSmallestMagnitude k', k, 0);
  check(k < total, 'kthSmallestMagnitude k', k, `< the number of values (${total})`);
  if (near !== undefined) check(Number.isFinite(near) && near >= 0, 'kthSmallestMagnitude near', near, 'a finite magnitude ≥ 0');
  // With a hint, variables that the fused momentum update writes bring the band around the last answer.
  const tracked =
    near !== undefined && tensors.every((t) => t instanceof tf.Variable) && loopKernelImplementation(KTH_SMALLEST_MAGNITUDE) !== 'composite';
  const fromBands = tracked ? kthFromBands(tensors, k) : undefined;
  const value =
    typeof fromBands === 'number'
      ? fromBands
      : tf.tidy(() => runLoopKernel(KTH_SMALLEST_MAGNITUDE, tensors, { k, near: near ?? -1 })[0].dataSync()[0]);
  if (tracked) requestMagnitudeBands(tensors, value, typeof fromBands === 'string' ? fromBands : undefined);
  return value;
}

/** The kernels above, for `loopKernelImplementation` and for tests. */
export const FUSED_KERNELS = {
  absAndSquareSums: ABS_AND_SQUARE_SUMS,
  signLinear: SIGN_LINEAR,
  groupSquareSums: GROUP_SQUARE_SUMS,
  groupScale: GROUP_SCALE,
  kthSmallestMagnitude: KTH_SMALLEST_MAGNITUDE,
} as const;
