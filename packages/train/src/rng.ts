/**
 * Seeded randomness for the loop. Every epoch's shuffle seed is derived from (run seed, epoch), so
 * resuming at an epoch boundary reproduces the exact batch order without carrying a generator's
 * internal state around.
 */

/** splitmix32-style hash of a list of integers to one uint32. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = (h + (part | 0) + 0x9e3779b9) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** mulberry32: a small, fast, seeded uint32 generator; `next()` is uniform in [0, 1). */
export class SeededRandom {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** The generator's whole state: `new SeededRandom(r.state)` continues the same sequence. */
  get state(): number {
    return this.s;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** A seeded Fisher–Yates permutation of 0…n−1. */
export function shuffledIndices(n: number, seed: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const rng = new SeededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}
