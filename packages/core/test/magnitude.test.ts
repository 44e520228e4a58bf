import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  globalMagnitudeThreshold,
  kthSmallest,
  layerMagnitudeThresholds,
  magnitudeMasks,
  measureSparsity,
  pruneByMagnitude,
  selectParams,
  thresholdForSparsity,
} from '../src/index.js';
import { tinyModel, useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

function seeded(n: number, seed: number): Float32Array {
  let a = seed;
  return Float32Array.from({ length: n }, () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

const countPruned = (values: Float32Array, s: number, rule?: 'quantile' | 'quantileNonZero' | 'exactCount') => {
  const t = thresholdForSparsity(values.map(Math.abs), s, rule);
  return Array.from(values).filter((v) => (t.inclusive ? !(Math.abs(v) >= t.value) : !(Math.abs(v) > t.value))).length;
};

describe('kthSmallest', () => {
  it('agrees with a sort on random, sorted, reversed and constant inputs', () => {
    const inputs = [
      seeded(1001, 1),
      Float32Array.from({ length: 500 }, (_, i) => i),
      Float32Array.from({ length: 500 }, (_, i) => -i),
      new Float32Array(300).fill(2),
    ];
    for (const input of inputs) {
      const sorted = Array.from(input).sort((a, b) => a - b);
      for (const k of [0, 1, Math.floor(input.length / 2), input.length - 1]) {
        expect(kthSmallest(input.slice(), k)).toBe(sorted[k]);
      }
    }
  });
  it('agrees with a sort on large Float32Arrays (the radix-select path): negatives, ties, ±0, ±∞, denormals', () => {
    const n = 40_000;
    const random = seeded(n, 7);
    const ties = Float32Array.from(random, (v) => Math.round(v * 4) / 4); // a few dozen distinct values
    const pruned = Float32Array.from(random, (v, i) => (i % 10 === 0 ? Math.abs(v) : i % 3 ? 0 : -0)); // 90% zeros
    const special = Float32Array.from(random, (v, i) => [Infinity, -Infinity, 1e-45, -1e-45, 3.4e38][i % 50] ?? v);
    for (const input of [random, ties, pruned, special]) {
      const sorted = Array.from(input).sort((a, b) => a - b);
      for (const k of [0, 1, 9_000, Math.floor(n * 0.9), n - 2, n - 1]) {
        expect(kthSmallest(input, k) + 0, `k = ${k}`).toBe(sorted[k] + 0); // + 0: −0 and +0 are the same value here
      }
    }
  });
  it('rejects an empty array and an out-of-range k', () => {
    expect(() => kthSmallest(new Float32Array(0), 0)).toThrow(/empty/);
    expect(() => kthSmallest(new Float32Array(3), 3)).toThrow('kthSmallest k must be < the number of values (3); got 3');
  });
});

describe('magnitude thresholds (docs/conventions.md)', () => {
  const values = seeded(1000, 7);

  it('quantile, strict >: prunes ⌊sN⌋+1 weights', () => {
    for (const s of [0.1, 0.5, 0.9, 0.95, 0.999]) expect(countPruned(values, s)).toBe(Math.floor(s * 1000) + 1);
  });
  it('exactCount keeps max(round(N(1−s)), 1) weights', () => {
    for (const s of [0.1, 0.5, 0.95, 0.9999])
      expect(1000 - countPruned(values, s, 'exactCount')).toBe(Math.max(Math.round(1000 * (1 - s)), 1));
  });
  it('ties: strict > prunes every tie at the threshold; exactCount keeps them', () => {
    const tied = Float32Array.from([0.1, 0.2, 0.2, 0.2, 0.5, 0.6]);
    expect(countPruned(tied, 0.3)).toBe(4); // t = a(1) = 0.2: 0.1 and all three 0.2s go
    expect(6 - countPruned(tied, 0.5, 'exactCount')).toBe(5); // τ = a(3) = 0.2, ties kept
  });
  it('quantileNonZero prunes the fraction s of the non-zero weights', () => {
    const withZeros = Float32Array.from([0, 0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    const t = thresholdForSparsity(withZeros.slice(), 0.5, 'quantileNonZero');
    expect(t.value).toBeCloseTo(0.4); // a(4 + ⌊6·0.5⌋) = a(7)
  });
  it('exactCount never keeps zeros through a threshold of 0', () => {
    const t = thresholdForSparsity(Float32Array.from([0, 0, 0, 1]), 0.5, 'exactCount');
    expect(t).toEqual({ value: 0, inclusive: false });
  });
  it('s = 0 prunes nothing; s outside [0, 1) and empty sets are errors', () => {
    expect(countPruned(values, 0)).toBe(0);
    expect(() => thresholdForSparsity(values.slice(), 1)).toThrow('sparsity must be a fraction in [0, 1); got 1');
    expect(() => thresholdForSparsity(values.slice(), -0.1)).toThrow(/got -0.1/);
    expect(() => thresholdForSparsity(values.slice(), Number.NaN)).toThrow(/got NaN/);
    expect(() => globalMagnitudeThreshold([], 0.5)).toThrow(/at least one tensor/);
  });
  it('global ranks all tensors together; layer-wise ranks each', () => {
    const small = tf.tensor1d([0.01, 0.02, 0.03, 0.04]);
    const large = tf.tensor1d([1, 2, 3, 4]);
    const global = globalMagnitudeThreshold([small, large], 0.5);
    expect(global.value).toBeCloseTo(1); // a(4) over the union
    const layer = layerMagnitudeThresholds([small, large], 0.5);
    expect(layer.map((t) => t.value)).toEqual([Math.fround(0.03), 3]);
  });
});

describe('masks and sparsity', () => {
  it('global pruning achieves ≥ s, reports achieved per layer, and masks are 0/1', () => {
    const model = tinyModel(11);
    const params = selectParams(model);
    const { masks, thresholds } = magnitudeMasks(params, { sparsity: 0.8 });
    expect(new Set(thresholds.map((t) => t.value)).size).toBe(1);
    expect(new Set(Array.from(masks[0].mask.dataSync()))).toEqual(new Set([0, 1]));
    masks.forEach((m) => m.mask.dispose());
    pruneByMagnitude(params, { sparsity: 0.8 }).forEach((m) => m.mask.dispose());
    const report = measureSparsity(params);
    const total = params.reduce((s, p) => s + p.size, 0);
    expect(report.total).toBe(total);
    expect(report.zeros).toBe(Math.floor(0.8 * total) + 1);
    expect(report.global).toBeGreaterThanOrEqual(0.8);
    expect(report.layers.map((l) => l.total)).toEqual([128, 64]);
    expect(report.compression).toBeCloseTo(total / (total - report.zeros));
  });
  it('layer scope prunes each param to the same sparsity', () => {
    const params = selectParams(tinyModel(12));
    pruneByMagnitude(params, { sparsity: 0.5, scope: 'layer', rule: 'exactCount' }).forEach((m) => m.mask.dispose());
    expect(measureSparsity(params).layers.map((l) => l.sparsity)).toEqual([0.5, 0.5]);
  });
  it('importance scores replace |w| (here: keep the most negative weights)', () => {
    const params = selectParams(tinyModel(13));
    const before = params.map((p) => Array.from(p.variable.dataSync()));
    pruneByMagnitude(params, { sparsity: 0.5, scope: 'layer', rule: 'exactCount', importance: (w) => tf.neg(w) }).forEach((m) =>
      m.mask.dispose(),
    );
    params.forEach((p, i) => {
      const kept = before[i].filter((_, j) => p.variable.dataSync()[j] !== 0);
      const sorted = before[i].slice().sort((a, b) => a - b);
      expect(Math.max(...kept)).toBeLessThanOrEqual(sorted[kept.length - 1]);
    });
  });
});
