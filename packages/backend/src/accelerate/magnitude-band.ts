import type * as tf from '@tensorflow/tfjs';
import { kthSmallest } from '@sparsify/core';

/**
 * The k-th smallest magnitude without a pass over the weights, for thresholds recomputed every step
 * (HyperSparse). `kthSmallestMagnitude` with a hint asks, per input, for the magnitudes in a narrow
 * band [lo, hi) around the threshold it found; the momentum pass, which writes every weight anyway,
 * counts the new magnitudes below lo and collects those in the band while they are in cache. If the
 * next k-th smallest falls in the band, it is selected among those few. Keys are float32 bits of |w|
 * (sign cleared), whose integer order is the magnitudes' order. Requests and bands are keyed by data
 * id: a request for the data a variable holds is served when the momentum pass replaces that data.
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

/** What the pass found in a request's band for the values it wrote. */
interface MagnitudeBand {
  readonly request: MagnitudeBandRequest;
  /** #{key < lo}. */
  readonly below: number;
  /** #{lo ≤ key < hi}. */
  readonly count: number;
  /** The first min(count, capacity) keys in the band, in no order. */
  readonly keys: Int32Array;
}

/** The i32 header a pass writes before the keys: [lo, hi, capacity, below, count]. */
export const BAND_HEADER = 5;

const requests = new WeakMap<tf.DataId, MagnitudeBandRequest>();
const bands = new WeakMap<tf.DataId, MagnitudeBand>();

/**
 * ±1/256 of the threshold, more than a trained network's threshold usually moves in one step
 * (docs/performance.md). Doubled after the answer fell outside, up to ±1/4.
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

/** The bands' keys gathered for the select, reused from step to step (allocating them cost more than selecting). */
let gathered = new Int32Array(0);

/** Asks the pass that replaces the data `id` to collect `request`'s band. */
export function requestBand(id: tf.DataId, request: MagnitudeBandRequest): void {
  requests.set(id, request);
}

/** What a pass found for the data `id` it produced: [below, count, keys], or undefined. */
export function bandFor(id: tf.DataId): { below: number; count: number; keys: Int32Array } | undefined {
  return bands.get(id);
}

/** The band to collect when the data `id` is replaced, if one was asked for. Taken once. */
export function takeMagnitudeBandRequest(id: tf.DataId): MagnitudeBandRequest | undefined {
  const request = requests.get(id);
  requests.delete(id);
  return request;
}

/**
 * Records the band a pass wrote (`header`: [lo, hi, capacity, below, count, keys…]) for the data `id`
 * it produced. The keys are copied: the header may be scratch memory.
 */
export function readBand(id: tf.DataId, header: Int32Array, request: MagnitudeBandRequest): void {
  const [, , capacity, below, count] = header;
  const keys = header.slice(BAND_HEADER, BAND_HEADER + Math.min(count, capacity));
  bands.set(id, { request, below, count, keys });
}

/**
 * The k-th smallest magnitude over the data `ids` from their bands, or why not: 'overflow' when a
 * band held more keys than its capacity, 'outside' when the answer lies outside the band, undefined
 * when not every input has a band from one request.
 */
export function kthFromBands(ids: readonly tf.DataId[], k: number): number | 'overflow' | 'outside' | undefined {
  const found = ids.map((id) => bands.get(id));
  const first = found[0];
  if (!first || found.some((b) => !b || b.request.lo !== first.request.lo || b.request.hi !== first.request.hi)) return undefined;
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
 * Asks the pass that next replaces each of `ids` (of `sizes` values) for the band around `threshold`:
 * twice as wide as the last after the answer fell outside, twice the capacity after an overflow.
 * Nothing for a threshold of 0 (no band around it).
 */
export function requestMagnitudeBands(
  ids: readonly tf.DataId[],
  sizes: readonly number[],
  threshold: number,
  missed?: 'overflow' | 'outside',
): void {
  if (!(threshold > 0)) return;
  const last = ids[0] && bands.get(ids[0])?.request;
  const width = Math.min(MAX_WIDTH, (last?.width ?? FIRST_WIDTH) * (missed === 'outside' ? 2 : 1));
  const room = (last?.room ?? FIRST_ROOM) * (missed === 'overflow' ? 2 : 1);
  const lo = floatToKey(threshold * (1 - width));
  const hi = floatToKey(threshold * (1 + width)) + 1;
  ids.forEach((id, j) => requestBand(id, { lo, hi, width, room, capacity: Math.max(256, Math.ceil(room * width * sizes[j])) }));
}
