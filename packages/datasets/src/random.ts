import { checkInteger, checkSeed } from './errors.js';

/**
 * mulberry32: a tiny, fast 32-bit PRNG with a 2^32 period (Tommy Ettinger's constants). Returns a
 * function giving uniform floats in [0, 1). Identical sequences on every platform for a given seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One 32-bit avalanche round (murmur3's fmix32). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit seed derived from a base seed and any number of integer salts (epoch, batch index, a stream
 * name's code): different salts give unrelated streams, the same inputs always the same seed.
 */
export function deriveSeed(seed: number, ...salts: number[]): number {
  // Fold the high bits of safe integers in, so seeds above 2^32 still differ.
  let h = fmix32((seed >>> 0) ^ fmix32(Math.floor(seed / 4294967296) >>> 0) ^ 0x9e3779b9);
  for (const s of salts) {
    h = fmix32(h ^ fmix32((s >>> 0) + 0x7f4a7c15) ^ Math.floor(s / 4294967296));
  }
  return h;
}

/** Seeded generator with the few draws the datasets need. */
export class Rng {
  private readonly next: () => number;
  private spare: number | null = null;

  constructor(seed: number) {
    checkSeed('seed', seed);
    this.next = mulberry32(deriveSeed(seed));
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}

/** A seeded permutation of 0..n-1 (Fisher–Yates with mulberry32). */
export function permutation(n: number, seed: number): Int32Array {
  checkInteger('n', n);
  checkSeed('seed', seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return new Rng(seed).shuffle(p);
}
