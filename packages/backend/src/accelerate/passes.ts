import * as tf from '@tensorflow/tfjs';
import { groupLayout, MOMENTUM_UPDATE_KERNEL, PASS_KERNELS } from '@sparsify/core';
import {
  BAND_HEADER,
  floatToKey,
  keyToFloat,
  kthFromBands,
  readBand,
  requestMagnitudeBands,
  takeMagnitudeBandRequest,
} from './magnitude-band.js';
import type { LoopContext, LoopKernel } from './loop-kernels.js';
import { PASSES_WASM } from './passes.wasm.js';

/**
 * Kernels for the ops of `@sparsify/core` (its `passes.ts` and `momentumUpdate`): each one loop over
 * its tensors. The JS loops sum in float64; the SIMD ones in float32 lanes over blocks of 1024 values,
 * float64 across blocks (passes.wat).
 *
 * Two caches keyed by data id (a tensor's data never changes; `assign` gives a variable a new id) let
 * the momentum pass, which writes every weight anyway, do work a penalty asks for next step while the
 * values are in cache: the sums `absAndSquareSums` reads, and the magnitude band `kthSmallestMagnitude`
 * reads (magnitude-band.ts). Both give the numbers the pass itself would give.
 */

/** [Σ|x|, Σx²] of data ids, as absAndSquareSums computes them; and the ids whose successor's sums are wanted. */
const cachedSums = new WeakMap<tf.DataId, readonly [number, number]>();
const sumsWanted = new WeakSet<tf.DataId>();

let sumsFromCache = 0;

/** How many absAndSquareSums and absSum calls were answered from the momentum pass's sums (for tests). */
export function sumsCacheHits(): number {
  return sumsFromCache;
}

/** [Σ|x|, Σx²] of x (float64 sums). */
function sumsOf(x: Float32Array): [number, number] {
  let a = 0;
  let q = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    a += Math.abs(v);
    q += v * v;
  }
  return [a, q];
}

/** The cached sums of the data `id`, else undefined; either way a pass that replaces it will sum. */
function cached(id: tf.DataId): readonly [number, number] | undefined {
  sumsWanted.add(id);
  const sums = cachedSums.get(id);
  if (sums) sumsFromCache++;
  return sums;
}

export const ABS_AND_SQUARE_SUMS: LoopKernel = {
  name: PASS_KERNELS.absAndSquareSums,
  outputShapes: () => [[], []],
  run([x], [a, q], _attrs, { inputIds }) {
    [a[0], q[0]] = cached(inputIds[0]) ?? sumsOf(x);
  },
  simd: {
    code: PASSES_WASM,
    call: (e, [x], [a, q], [shape], _attrs, { inputIds, memory }) => {
      const sums = cached(inputIds[0]);
      if (sums) [new Float32Array(memory!.buffer, a, 1)[0], new Float32Array(memory!.buffer, q, 1)[0]] = sums;
      else e.absAndSquareSums(x, tf.util.sizeFromShape(shape), a, q);
    },
  },
};

/** Σ|x|, exactly as ABS_AND_SQUARE_SUMS computes it (and from the same cache). */
export const ABS_SUM: LoopKernel = {
  name: PASS_KERNELS.absSum,
  outputShapes: () => [[]],
  run([x], [a], _attrs, { inputIds }) {
    a[0] = (cached(inputIds[0]) ?? sumsOf(x))[0];
  },
  simd: {
    code: PASSES_WASM,
    call: (e, [x], [a], [shape], _attrs, context) => {
      const sums = cached(context.inputIds[0]);
      if (sums) new Float32Array(context.memory!.buffer, a, 1)[0] = sums[0];
      else e.absAndSquareSums(x, tf.util.sizeFromShape(shape), a, context.scratch(1) as number);
    },
  },
};

/**
 * a·sign(v) + b·v for one value, in float32 as the SIMD loop and tfjs's ops compute it: b·v rounded
 * before the add (Mul, then Add); + 0 gives +0 (not −0) at v = 0 and where a tiny negative rounds to 0.
 */
export function signLinearAt(v: number, a: number, b: number): number {
  return Math.fround((v > 0 ? a : v < 0 ? -a : 0) + Math.fround(b * v)) + 0;
}

/** inputs [x, a] or [x, a, b] or [x, a, b, c]: c·(a·sign(x) + b·x), b = 0 and c = 1 where left out. */
export const SIGN_LINEAR: LoopKernel = {
  name: PASS_KERNELS.signLinear,
  outputShapes: ([shape]) => [shape.slice()],
  run([x, aTensor, bTensor, cTensor], [out]) {
    // c·a and c·b rounded to float32, as the SIMD loop and a tfjs Mul round them
    const c = cTensor?.[0] ?? 1;
    const a = Math.fround(c * aTensor[0]);
    const b = Math.fround(c * (bTensor?.[0] ?? 0));
    for (let i = 0; i < x.length; i++) out[i] = signLinearAt(x[i], a, b);
  },
  simd: {
    code: PASSES_WASM,
    call: (e, [x, a, b, c], [out], [shape], _attrs, context) => {
      let [pb, pc] = [b, c];
      if (pc === undefined) {
        // b = 0 and c = 1 where left out, read from scratch as the loop reads its scalars
        const k = context.scratch(2) as number;
        new Float32Array(context.memory!.buffer, k, 2).set([0, 1]);
        [pb, pc] = [pb ?? k, k + 4];
      }
      e.signLinear(x, tf.util.sizeFromShape(shape), a, pb, pc, out);
    },
  },
};

export const GROUP_SQUARE_SUMS: LoopKernel = {
  name: PASS_KERNELS.groupSquareSums,
  outputShapes: ([shape]) => {
    const [, I, O] = groupLayout(shape);
    return [[I], [O]];
  },
  run([x], [rows, cols]) {
    groupSquareSumsLoop(x, rows, cols);
  },
  simd: { code: PASSES_WASM, call: (e, [x], [rows, cols], [shape]) => e.groupSquareSums(x, ...groupLayout(shape), rows, cols) },
};

/** Σx² per input group (rows) and per output group (cols) of x laid out [K, I, O]. */
export function groupSquareSumsLoop(x: Float32Array, rows: Float32Array, cols: Float32Array): void {
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
}

export const GROUP_SCALE: LoopKernel = {
  name: PASS_KERNELS.groupScale,
  outputShapes: ([shape]) => [shape.slice()],
  run([x, rows, cols], [out]) {
    const O = cols.length;
    const I = rows.length;
    for (let base = 0; base < x.length; base += I * O) {
      for (let i = 0, p = base; i < I; i++) {
        const row = rows[i];
        // x·(row + col), the sum rounded before the product (Add, then Mul); + 0 gives +0 at x = 0
        for (let o = 0; o < O; o++, p++) out[p] = Math.fround(x[p] * Math.fround(row + cols[o])) + 0;
      }
    }
  },
  simd: { code: PASSES_WASM, call: (e, [x, rows, cols], [out], [shape]) => e.groupScale(x, ...groupLayout(shape), rows, cols, out) },
};

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

/**
 * The k-th smallest |x| over all inputs, without concatenating, copying or reading them back: three
 * counting passes of a radix select over the tensors in place. With `near` (the last answer), from the
 * bands the momentum pass collected around it when it wrote these tensors, if the answer lies there: no
 * pass at all; and a band around this answer is asked for, for the next call.
 */
export const KTH_SMALLEST_MAGNITUDE: LoopKernel<KthAttrs> = {
  name: PASS_KERNELS.kthSmallestMagnitude,
  outputShapes: () => [[]],
  run(inputs, [out], attrs, context) {
    out[0] = withBands(
      attrs,
      context,
      inputs.map((x) => x.length),
      () => {
        const keys = inputs.map((x) => new Int32Array(x.buffer, x.byteOffset, x.length));
        const scratch = context.scratch(2048) as Float32Array;
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
        return keyToFloat(radixSelectKey(attrs.k, histogram, count, nearKeyOf(attrs.near), countBelow));
      },
    );
  },
  simd: {
    code: PASSES_WASM,
    call: (e, inputs, [out], shapes, attrs, context) => {
      const sizes = shapes.map((shape) => tf.util.sizeFromShape(shape));
      const value = withBands(attrs, context, sizes, () => {
        const scratch = context.scratch(2048) as number;
        const histogram = new Int32Array(context.memory!.buffer, scratch, 2048);
        const key = radixSelectKey(
          attrs.k,
          histogram,
          (shift, mask, prefixShift, prefix) =>
            inputs.forEach((x, i) => e.magnitudeHistogram(x, sizes[i], scratch, shift, mask, prefixShift, prefix)),
          nearKeyOf(attrs.near),
          ([b0, b1, b2, b3]) => inputs.forEach((x, i) => e.magnitudeCountBelow(x, sizes[i], b0, b1, b2, b3, scratch)),
        );
        return keyToFloat(key);
      });
      new Float32Array(context.memory!.buffer, out, 1)[0] = value;
    },
  },
};

let bandAnswers = 0;

/** How many kthSmallestMagnitude calls were answered from the bands the momentum pass collected (for tests). */
export function bandHits(): number {
  return bandAnswers;
}

/** The answer from the inputs' bands if it lies there, else `select()`; with a hint, bands asked for next. */
function withBands({ k, near }: KthAttrs, { inputIds }: LoopContext, sizes: readonly number[], select: () => number): number {
  if (near < 0) return select();
  const fromBands = kthFromBands(inputIds, k);
  if (typeof fromBands === 'number') bandAnswers++;
  const value = typeof fromBands === 'number' ? fromBands : select();
  requestMagnitudeBands(inputIds, sizes, value, typeof fromBands === 'string' ? fromBands : undefined);
  return value;
}

interface MomentumAttrs {
  nesterov: boolean;
  /** Coupled weight decay: g + decay·value (0: none). */
  decay: number;
}

/**
 * tfjs's momentum step as one pass (`momentumUpdate` in core): inputs [value, acc, g, m, c] or
 * [value, acc, g₁, m, c, g₂] (g = g₁ + g₂), plus decay·value with `decay`; outputs [value', acc']. Every product and sum is rounded to
 * float32 as tfjs's separate ops round them, so the result is the same, bit for bit. Where a penalty
 * read the sums of `value` (absAndSquareSums), or asked for a band around a threshold of it
 * (kthSmallestMagnitude), the pass computes them for value' on the way.
 */
export const MOMENTUM_UPDATE: LoopKernel<MomentumAttrs> = {
  name: MOMENTUM_UPDATE_KERNEL,
  outputShapes: ([value]) => [value.slice(), value.slice()],
  run([value, accumulation, gradient, mTensor, cTensor, addend], [newValue, newAccumulation], { nesterov, decay }, context) {
    const f = Math.fround;
    const m = mTensor[0];
    const c = cTensor[0];
    const d = f(decay);
    let [a1, q1] = [0, 0];
    for (let i = 0; i < value.length; i++) {
      let g = addend ? f(gradient[i] + addend[i]) : gradient[i];
      if (d !== 0) g = f(g + f(value[i] * d));
      const a = f(f(m * accumulation[i]) + g);
      newAccumulation[i] = a;
      newValue[i] = f(c * (nesterov ? f(g + f(a * m)) : a)) + value[i];
      // The stored (rounded) value, summed as absAndSquareSums sums it.
      const v = newValue[i];
      a1 += Math.abs(v);
      q1 += v * v;
    }
    const [valueId, newId] = [context.inputIds[0], context.outputIds[0]];
    if (sumsWanted.has(valueId)) cacheSums(newId, [a1, q1]);
    const request = takeMagnitudeBandRequest(valueId);
    if (request) {
      const header = new Int32Array(BAND_HEADER + request.capacity);
      collectBand(newValue, request, header);
      readBand(newId, header, request);
    }
  },
  simd: {
    code: PASSES_WASM,
    call: (e, [value, accumulation, gradient, m, c, addend], [newValue, newAccumulation], [shape], { nesterov, decay }, context) => {
      const [valueId, newId] = [context.inputIds[0], context.outputIds[0]];
      const wantSums = sumsWanted.has(valueId);
      const request = takeMagnitudeBandRequest(valueId);
      const sums = wantSums ? (context.scratch(2) as number) : 0;
      const band = request ? (context.scratch(BAND_HEADER + request.capacity) as number) : 0;
      // The band's header: its bounds and capacity in, the two counts (zeroed) out.
      if (request) new Int32Array(context.memory!.buffer, band, BAND_HEADER).set([request.lo, request.hi, request.capacity, 0, 0]);
      e.momentumUpdate(
        value,
        accumulation,
        gradient,
        addend ?? 0,
        m,
        c,
        tf.util.sizeFromShape(shape),
        nesterov ? 1 : 0,
        decay,
        newValue,
        newAccumulation,
        sums,
        band,
      );
      const buffer = context.memory!.buffer;
      if (wantSums) {
        const [a, q] = new Float32Array(buffer, sums, 2);
        cacheSums(newId, [a, q]);
      }
      if (request) readBand(newId, new Int32Array(buffer, band, BAND_HEADER + request.capacity), request);
    },
  },
};

function cacheSums(id: tf.DataId, sums: readonly [number, number]): void {
  cachedSums.set(id, sums);
  sumsWanted.add(id);
}

/** The band [lo, hi) of `values`' magnitude keys with its header, as momentumUpdate's $magnitudeBand writes it. */
function collectBand(values: Float32Array, { lo, hi, capacity }: { lo: number; hi: number; capacity: number }, out: Int32Array): void {
  const keys = new Int32Array(values.buffer, values.byteOffset, values.length);
  let [below, count] = [0, 0];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] & 0x7fffffff;
    if (key < lo) below++;
    else if (key < hi) {
      if (count < capacity) out[BAND_HEADER + count] = key;
      count++;
    }
  }
  out.set([lo, hi, capacity, below, count]);
}

/** The kernels for core's ops. */
export const PASS_LOOP_KERNELS: readonly LoopKernel<object>[] = [
  ABS_AND_SQUARE_SUMS,
  ABS_SUM,
  SIGN_LINEAR,
  GROUP_SQUARE_SUMS,
  GROUP_SCALE,
  KTH_SMALLEST_MAGNITUDE,
  MOMENTUM_UPDATE,
] as unknown as LoopKernel<object>[];
