import * as tf from '@tensorflow/tfjs';
import { check, checkInteger, checkSparsity, SparsifyConfigError } from './errors.js';

/**
 * How a target sparsity s becomes a threshold over sorted magnitudes a(0) ≤ … ≤ a(N−1)
 * (see docs/conventions.md, "Magnitude thresholds"):
 * - `quantile` (reference default): t = a(⌊sN⌋), keep |w| > t. Prunes ⌊sN⌋+1 weights plus ties.
 * - `quantileNonZero`: with z exact zeros, t = a(z + ⌊(N−z)s⌋), keep |w| > t.
 * - `exactCount` (tfmot): keep k = max(round(N(1−s)), 1), τ = a(N−k), keep |w| ≥ τ (ties kept),
 *   except that zeros are never kept by a τ of 0.
 */
export type ThresholdRule = 'quantile' | 'quantileNonZero' | 'exactCount';
export const THRESHOLD_RULES: readonly ThresholdRule[] = ['quantile', 'quantileNonZero', 'exactCount'];

/** Keep |w| > value, or |w| ≥ value when `inclusive`. `value` is −∞ when nothing is pruned. */
export interface MagnitudeThreshold {
  readonly value: number;
  readonly inclusive: boolean;
}

export const KEEP_ALL: MagnitudeThreshold = Object.freeze({ value: -Infinity, inclusive: false });

/**
 * The k-th smallest value (0-based) of `values`, in O(N). A large Float32Array (the weights read back
 * for a threshold, every step for HyperSparse) goes through a radix select on its bits, two counting
 * passes with no reordering, faster than quickselect there (docs/performance.md);
 * anything else through quickselect, which reorders `values` in place: pass a copy if the order matters.
 */
export function kthSmallest(values: Float32Array | number[], k: number): number {
  const n = values.length;
  if (n === 0) throw new SparsifyConfigError('kthSmallest needs at least one value; got an empty array');
  checkInteger('kthSmallest k', k, 0);
  check(k < n, 'kthSmallest k', k, `< the number of values (${n})`);
  if (values instanceof Float32Array && n >= RADIX_SELECT_MIN) return radixSelect(values, k);
  return quickselect(values, k);
}

const RADIX_SELECT_MIN = 1 << 14;

/**
 * Float32 bits as a uint32 key with the same order as the values: negative floats have every bit
 * flipped, others only the sign bit (−0 sorts just below +0; NaN above +∞, or below −∞ if negative).
 */
function orderedKey(bits: number): number {
  return (bits ^ ((bits >> 31) | 0x80000000)) >>> 0;
}

/** Index of the bucket holding the k-th smallest, and how many keys lie in the buckets below it. */
function bucketOf(histogram: Uint32Array, k: number): [bucket: number, below: number] {
  let below = 0;
  for (let bucket = 0; ; bucket++) {
    if (below + histogram[bucket] > k) return [bucket, below];
    below += histogram[bucket];
  }
}

/** Most-significant-digit radix select over the keys: the high 16 bits, then the low 16 of that bucket. */
function radixSelect(values: Float32Array, k: number): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const histogram = new Uint32Array(1 << 16);
  for (let i = 0; i < bits.length; i++) histogram[orderedKey(bits[i]) >>> 16]++;
  const [high, belowHigh] = bucketOf(histogram, k);
  histogram.fill(0);
  for (let i = 0; i < bits.length; i++) {
    const key = orderedKey(bits[i]);
    if (key >>> 16 === high) histogram[key & 0xffff]++;
  }
  const [low] = bucketOf(histogram, k - belowHigh);
  const key = ((high << 16) | low) >>> 0;
  const result = new Uint32Array([key & 0x80000000 ? key ^ 0x80000000 : ~key >>> 0]);
  return new Float32Array(result.buffer)[0];
}

function quickselect(values: Float32Array | number[], k: number): number {
  const n = values.length;
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // Median of three as the pivot: robust against sorted and constant inputs.
    const mid = (lo + hi) >>> 1;
    const a = values[lo];
    const b = values[mid];
    const c = values[hi];
    const pivot = a < b ? (b < c ? b : Math.max(a, c)) : a < c ? a : Math.max(b, c);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

/** Threshold for `sparsity` over magnitudes (non-negative values). Reorders `magnitudes` in place. */
export function thresholdForSparsity(magnitudes: Float32Array, sparsity: number, rule: ThresholdRule = 'quantile'): MagnitudeThreshold {
  checkSparsity('sparsity', sparsity);
  check(THRESHOLD_RULES.includes(rule), 'threshold rule', rule, THRESHOLD_RULES.join(' | '));
  const n = magnitudes.length;
  if (n === 0) throw new SparsifyConfigError('cannot compute a magnitude threshold over an empty set of weights');
  if (sparsity === 0) return KEEP_ALL; // s = 0 means no pruning, whatever the rule
  switch (rule) {
    case 'quantile':
      return { value: kthSmallest(magnitudes, Math.floor(sparsity * n)), inclusive: false };
    case 'quantileNonZero': {
      let zeros = 0;
      for (let i = 0; i < n; i++) if (magnitudes[i] === 0) zeros++;
      const index = Math.min(n - 1, zeros + Math.floor((n - zeros) * sparsity));
      return { value: kthSmallest(magnitudes, index), inclusive: false };
    }
    case 'exactCount': {
      const keep = Math.max(Math.round(n * (1 - sparsity)), 1);
      const tau = kthSmallest(magnitudes, n - keep);
      return tau === 0 ? { value: 0, inclusive: false } : { value: tau, inclusive: true };
    }
  }
}

/**
 * |x| of every tensor, concatenated into one Float32Array with a single device-to-host read (a sync
 * per tensor would stall GPU backends; see docs/conventions.md, "Numerical pitfalls", read-backs).
 */
export function readMagnitudes(tensors: readonly tf.Tensor[]): Float32Array {
  const flat = tf.tidy(() =>
    tensors.length === 1 ? tf.abs(tf.reshape(tensors[0], [-1])) : tf.abs(tf.concat(tensors.map((t) => tf.reshape(t, [-1])))),
  );
  try {
    // No copy: `flat` is this function's own tensor and is freed below, so the array can be handed
    // out (and reordered by the caller) whether the backend returned a copy or its own storage.
    return flat.dataSync() as Float32Array;
  } finally {
    flat.dispose();
  }
}

export interface ThresholdOptions {
  rule?: ThresholdRule;
}

/** One threshold over all tensors together (a global ranking). */
export function globalMagnitudeThreshold(
  tensors: readonly tf.Tensor[],
  sparsity: number,
  options: ThresholdOptions = {},
): MagnitudeThreshold {
  checkSparsity('sparsity', sparsity);
  if (tensors.length === 0) throw new SparsifyConfigError('globalMagnitudeThreshold needs at least one tensor; got none');
  return thresholdForSparsity(readMagnitudes(tensors), sparsity, options.rule);
}

/** One threshold per tensor (layer-wise ranking), each at the same sparsity. */
export function layerMagnitudeThresholds(
  tensors: readonly tf.Tensor[],
  sparsity: number,
  options: ThresholdOptions = {},
): MagnitudeThreshold[] {
  checkSparsity('sparsity', sparsity);
  if (tensors.length === 0) throw new SparsifyConfigError('layerMagnitudeThresholds needs at least one tensor; got none');
  return tensors.map((t) => thresholdForSparsity(readMagnitudes([t]), sparsity, options.rule));
}

/** 0/1 float mask of the entries of `scores` (magnitudes or importance scores) that the threshold keeps. */
export function maskFromThreshold(scores: tf.Tensor, threshold: MagnitudeThreshold): tf.Tensor {
  return tf.tidy(() => {
    if (threshold.value === -Infinity) return tf.onesLike(scores);
    const t = tf.scalar(threshold.value);
    const keep = threshold.inclusive ? tf.greaterEqual(scores, t) : tf.greater(scores, t);
    return tf.cast(keep, 'float32');
  });
}
