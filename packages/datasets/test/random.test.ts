import { describe, expect, it } from 'vitest';
import { deriveSeed, mulberry32, permutation, Rng } from '../src/index.node.js';

describe('seeded randomness', () => {
  it('mulberry32 is a fixed sequence in [0, 1) for a seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    // Same values as the widely copied one-liner (which lets its state grow as a double).
    const canonical = (seed: number) => () => {
      let t = (seed += 0x6d2b79f5);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const ref = canonical(42);
    expect(xs).toEqual(Array.from({ length: 1000 }, () => ref()));
    expect(xs[0]).toBeCloseTo(0.6011037519201636, 15);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.03);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });
  it('deriveSeed separates streams and is stable', () => {
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    const seeds = new Set<number>();
    for (let s = 0; s < 10; s++) for (let e = 0; e < 10; e++) seeds.add(deriveSeed(s, e));
    expect(seeds.size).toBe(100);
    expect(deriveSeed(2 ** 40)).not.toBe(deriveSeed(0));
  });
  it('permutation: a deterministic permutation that depends on the seed', () => {
    const p = permutation(1000, 7);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(permutation(1000, 7)).toEqual(p);
    expect(permutation(1000, 8)).not.toEqual(p);
    expect(() => permutation(-1, 0)).toThrow(/n must be an integer ≥ 0; got -1/);
    expect(() => permutation(3, 0.5)).toThrow(/seed must be an integer/);
  });
  it('Rng normals have mean 0 and std 1', () => {
    const r = new Rng(3);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
  });
});
