import type * as tf from '@tensorflow/tfjs';
import { kthSmallest } from './magnitude.js';

/**
 * The k-th smallest magnitude without a pass over the weights, for thresholds recomputed every step
 * (HyperSparse). `kthSmallestMagnitude` with a hint asks, per variable, for the magnitudes in a narrow
 * band [lo, hi) around the threshold it found; the fused momentum update, which writes every weight
 * anyway, counts the new magnitudes below lo and collects those in the band while they are in cache.
 * If the next k-th smallest falls in the band, it is selected among those few. Keys are float32 bits
 * of |w| (sign cleared), whose integer order is the magnitudes' order.
 */

/** Keys in [lo, hi) are collected, at most `capacity` of them. */
export interface MagnitudeBandRequest {
  readonly lo: number;
  readonly hi: number;
  readonly capacity: number;
  /** The band's relative half-width around the threshold. */
  readonly width: number;
  /** capacity = room · width · size (at least 256). */
  readonly room: number;
}

/** What the update found in a request's band for the values it wrote. */
export interface MagnitudeBand {
  readonly lo: number;
  readonly hi: number;
  /** #{key < lo}. */
  readonly below: number;
  /** #{lo ≤ key < hi}. */
  readonly count: number;
  /** The first min(count, capacity) keys in the band, in no order. */
  readonly keys: Int32Array;
}

/** Each variable's last request (its width and room carry over to the next), and those not yet served. */
const requests = new WeakMap<tf.Variable, MagnitudeBandRequest>();
const unserved = new WeakSet<tf.Variable>();
const bands = new WeakMap<object, MagnitudeBand>();

/**
 * ±1/256 of the threshold: LeNet-300-100's threshold (90%) moves less than that per step. Doubled
 * after the answer fell outside, up to ±1/4.
 */
const FIRST_WIDTH = 1 / 256;
const MAX_WIDTH = 1 / 4;
/** A Gaussian holds ≈ 0.7·width·N values in the band at its 90% quantile; 3·width·N leaves room. */
const FIRST_ROOM = 3;

// One 4-byte scratch seen as both types: a conversion allocates nothing (it runs every step).
const scratchFloat = new Float32Array(1);
const scratchInt = new Int32Array(scratchFloat.buffer);

export const floatToKey = (x: number): number => {
  scratchFloat[0] = x;
  return scratchInt[0] & 0x7fffffff;
};
export const keyToFloat = (key: number): number => {
  scratchInt[0] = key;
  return scratchFloat[0];
};

/**
 * The bands' keys gathered for the select, reused from step to step: allocating them each step took
 * longer than selecting among them.
 */
let gathered = new Int32Array(0);

/**
 * The band the update should collect for `variable`'s new values, if any. Taken once: the update
 * after that (no new threshold since, e.g. the penalty is gone) collects nothing.
 */
export function takeMagnitudeBandRequest(variable: tf.Variable): MagnitudeBandRequest | undefined {
  if (!unserved.delete(variable)) return undefined;
  return requests.get(variable);
}

/** Records the band found in the data `dataId` (freed with it: a weak map). */
export function cacheMagnitudeBand(dataId: object, band: MagnitudeBand): void {
  bands.set(dataId, band);
}

/**
 * The k-th smallest magnitude over `tensors` from their cached bands, or why not: 'overflow' when a
 * band held more keys than its capacity, 'outside' when the answer lies outside the band, undefined
 * when not every tensor has a band from one request.
 */
export function kthFromBands(tensors: readonly tf.Tensor[], k: number): number | 'overflow' | 'outside' | undefined {
  const found = tensors.map((t) => bands.get(t.dataId));
  const first = found[0];
  if (!first || found.some((b) => !b || b.lo !== first.lo || b.hi !== first.hi)) return undefined;
  let below = 0;
  let count = 0;
  for (const b of found as MagnitudeBand[]) {
    if (b.count > b.keys.length) return 'overflow';
    below += b.below;
    count += b.count;
  }
  if (k < below || k >= below + count) return 'outside';
  if (gathered.length < count) gathered = new Int32Array(Math.max(count, 2 * gathered.length));
  let at = 0;
  for (const b of found as MagnitudeBand[]) {
    gathered.set(b.keys, at);
    at += b.keys.length;
  }
  // The keys are the magnitudes' float32 bits: select among a few hundred values instead of N.
  return kthSmallest(new Float32Array(gathered.buffer, 0, count), k - below);
}

/**
 * Asks the update to collect, for each variable among `tensors`, the band around `threshold` for the
 * next call: twice as wide after the answer fell outside, twice the capacity after an overflow.
 * Nothing for a threshold of 0 (no band around it).
 */
export function requestMagnitudeBands(tensors: readonly tf.Tensor[], threshold: number, missed?: 'overflow' | 'outside'): void {
  if (!(threshold > 0)) return;
  const last = tensors[0] && requests.get(tensors[0] as tf.Variable);
  const width = Math.min(MAX_WIDTH, (last?.width ?? FIRST_WIDTH) * (missed === 'outside' ? 2 : 1));
  const room = (last?.room ?? FIRST_ROOM) * (missed === 'overflow' ? 2 : 1);
  const lo = floatToKey(threshold * (1 - width));
  const hi = floatToKey(threshold * (1 + width)) + 1;
  for (const t of tensors) {
    requests.set(t as tf.Variable, { lo, hi, width, room, capacity: Math.max(256, Math.ceil(room * width * t.size)) });
    unserved.add(t as tf.Variable);
  }
}
