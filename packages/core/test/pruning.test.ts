import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SparsifyConfigError,
  applyMasks,
  blockMasks,
  checkMByN,
  computePruningMasks,
  DEFAULT_PRUNING,
  DEFAULT_PRUNING_METHOD,
  LN_STRUCTURED_PRUNING,
  pruningMethodConfig,
  resolvePruningDefaults,
  countZeroGroups,
  createTrainStep,
  customFromMask,
  disposeMasks,
  disposeOptimizer,
  groupScores,
  lnStructured,
  mByNMasks,
  poolBlocks,
  selectParams,
  type Param,
} from '../src/index.js';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { TestL1, tinyBatch, tinyModel } from './helpers.js';

beforeAll(() => useTestBackend());

/** A Param over a fresh variable with seeded values. */
function param(name: string, shape: number[], layout: Param['layout'], seed = 1, values?: number[]): Param {
  const variable = tf.variable(values ? tf.tensor(values, shape) : tf.randomNormal(shape, 0, 1, 'float32', seed), true, name);
  return {
    name,
    layerName: name,
    layerClass: 'Test',
    role: layout === 'vector' ? 'bias' : 'kernel',
    layout,
    shape,
    size: variable.size,
    variable,
  };
}

function host(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

function free(...ps: Param[]): void {
  for (const p of ps) p.variable.dispose();
}

/** L2 norm per dense column (output group) or row (input group), by hand. */
function denseNorms(w: number[], rows: number, cols: number, axis: 'input' | 'output', order = 2): number[] {
  const n = axis === 'output' ? cols : rows;
  return Array.from({ length: n }, (_, g) => {
    const vals =
      axis === 'output' ? Array.from({ length: rows }, (_, r) => w[r * cols + g]) : Array.from({ length: cols }, (_, c) => w[g * cols + c]);
    if (order === Infinity) return Math.max(...vals.map(Math.abs));
    return vals.reduce((s, v) => s + Math.abs(v) ** order, 0) ** (1 / order);
  });
}

describe('lnStructured', () => {
  it('zeroes whole output columns of a dense kernel: the round(s·G) with the smallest L2 norm', () => {
    const p = param('d', [8, 16], 'dense', 3);
    const { masks } = lnStructured([p], { sparsity: 0.5, axis: 'output' });
    const m = host(masks[0].mask);
    const norms = denseNorms(host(p.variable), 8, 16, 'output');
    const sorted = norms.slice().sort((a, b) => a - b);
    for (let c = 0; c < 16; c++) {
      const col = Array.from({ length: 8 }, (_, r) => m[r * 16 + c]);
      expect(new Set(col).size).toBe(1); // kept or removed whole
      expect(col[0]).toBe(norms[c] >= sorted[8] ? 1 : 0);
    }
    expect(m.filter((v) => v === 0).length).toBe(8 * 8);
    applyMasks(masks);
    const [groups] = countZeroGroups([p]);
    expect(groups).toMatchObject({ outputGroups: 16, zeroOutputGroups: 8, inputGroups: 8, zeroInputGroups: 0 });
    disposeMasks(masks);
    free(p);
  });

  it('zeroes whole input channels of a conv2d kernel [kh, kw, in, out]', () => {
    const p = param('c', [3, 3, 4, 6], 'conv2d', 5);
    const { masks } = lnStructured([p], { sparsity: 0.5, axis: 'input' });
    applyMasks(masks);
    const w = host(p.variable);
    const channelZero = [0, 1, 2, 3].map((ch) => w.every((v, idx) => Math.floor(idx / 6) % 4 !== ch || v === 0));
    expect(channelZero.filter(Boolean).length).toBe(2);
    // every entry of a surviving channel is non-zero (random normal weights)
    w.forEach((v, idx) => {
      if (!channelZero[Math.floor(idx / 6) % 4]) expect(v).not.toBe(0);
    });
    expect(countZeroGroups([p])[0]).toMatchObject({ zeroInputGroups: 2, zeroOutputGroups: 0 });
    disposeMasks(masks);
    free(p);
  });

  it('ranks by the chosen norm order (L1 and L∞ disagree here)', () => {
    // column 0: [3, 0] (L1 3, L∞ 3); column 1: [2, 2] (L1 4, L∞ 2)
    const p = param('d', [2, 2], 'dense', 1, [3, 2, 0, 2]);
    const l1 = lnStructured([p], { sparsity: 0.5, axis: 'output', n: 1 });
    const linf = lnStructured([p], { sparsity: 0.5, axis: 'output', n: Infinity });
    expect(host(l1.masks[0].mask)).toEqual([0, 1, 0, 1]);
    expect(host(linf.masks[0].mask)).toEqual([1, 0, 1, 0]);
    expect(Array.from(groupScores([p], 'output', 1)[0])).toEqual([3, 4]);
    expect(Array.from(groupScores([p], 'input', Infinity)[0])).toEqual([3, 2]);
    const norms = denseNorms([3, 2, 0, 2], 2, 2, 'output', 3);
    Array.from(groupScores([p], 'output', 3)[0]).forEach((v, i) => expect(v).toBeCloseTo(norms[i], 5));
    disposeMasks([...l1.masks, ...linf.masks]);
    free(p);
  });

  it('ranks all layers together with scope global', () => {
    const small = param('small', [4, 4], 'dense', 1, Array(16).fill(0.01));
    const big = param('big', [4, 4], 'dense', 1, Array(16).fill(1));
    const { masks } = lnStructured([small, big], { sparsity: 0.5, axis: 'output', scope: 'global' });
    expect(host(masks[0].mask).every((v) => v === 0)).toBe(true);
    expect(host(masks[1].mask).every((v) => v === 1)).toBe(true);
    disposeMasks(masks);
    free(small, big);
  });

  it('prunes nothing at sparsity 0 and rejects bad options naming the value', () => {
    const p = param('d', [4, 4], 'dense');
    const b = param('b', [4], 'vector');
    const { masks } = lnStructured([p], { sparsity: 0, axis: 'input' });
    expect(host(masks[0].mask).every((v) => v === 1)).toBe(true);
    disposeMasks(masks);
    expect(() => lnStructured([p], { sparsity: 1, axis: 'input' })).toThrow(/sparsity must be a fraction in \[0, 1\); got 1/);
    expect(() => lnStructured([p], { sparsity: 0.5, axis: 'rows' as never })).toThrow(/axis must be one of "input", "output"; got "rows"/);
    expect(() => lnStructured([p], { sparsity: 0.5, axis: 'input', n: 0 })).toThrow(/norm order.*got 0/);
    expect(() => lnStructured([b], { sparsity: 0.5, axis: 'input' })).toThrow(SparsifyConfigError);
    expect(() => lnStructured([b], { sparsity: 0.5, axis: 'input' })).toThrow(/param "b" layout must be "dense".*got "vector"/);
    free(p, b);
  });
});

describe('blockMasks', () => {
  it('pools |w| per block (avg over in-bounds entries at the edges, or max)', () => {
    // 3×3 with 2×2 blocks: the edge blocks are 2×1, 1×2 and 1×1.
    const s = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(poolBlocks(s, 3, 3, [2, 2], 'avg').pooled)).toEqual([3, 4.5, 7.5, 9]);
    expect(Array.from(poolBlocks(s, 3, 3, [2, 2], 'max').pooled)).toEqual([5, 6, 8, 9]);
  });

  it('zeroes whole blocks, the smallest round(s·B) pooled scores', () => {
    // 4×6 kernel, 2×3 blocks → 2×2 blocks; block scores by avg |w|: 1, 4, 2, 3
    const vals = [
      [1, 1, 1, 4, 4, 4],
      [1, 1, 1, 4, 4, 4],
      [2, 2, 2, 3, 3, 3],
      [2, 2, 2, 3, 3, 3],
    ].flat();
    const p = param(
      'd',
      [4, 6],
      'dense',
      1,
      vals.map((v, i) => (i % 2 ? -v : v)),
    );
    const { masks, thresholds } = blockMasks([p], { sparsity: 0.5, blockSize: [2, 3], scope: 'layer', rule: 'exactCount' });
    expect(host(masks[0].mask)).toEqual(vals.map((v) => (v >= 3 ? 1 : 0)));
    expect(thresholds[0]).toEqual({ value: 3, inclusive: true });
    disposeMasks(masks);
    // the default (DEFAULT_PRUNING: strict quantile) prunes ⌊s·B⌋ + 1 = 3 of the 4 blocks
    const byDefault = blockMasks([p], { sparsity: 0.5, blockSize: [2, 3] });
    expect(host(byDefault.masks[0].mask)).toEqual(vals.map((v) => (v === 4 ? 1 : 0)));
    expect(byDefault.thresholds[0]).toEqual({ value: 3, inclusive: false });
    disposeMasks(byDefault.masks);
    // max pooling differs from avg when one entry dominates a block
    const q = param('q', [2, 4], 'dense', 1, [0.1, 0.1, 1, 1, 9, 0.1, 1, 1]);
    const exact = { scope: 'layer', rule: 'exactCount' } as const;
    const avg = blockMasks([q], { sparsity: 0.5, blockSize: [2, 2], blockPooling: 'avg', ...exact });
    const max = blockMasks([q], { sparsity: 0.5, blockSize: [2, 2], blockPooling: 'max', ...exact });
    expect(host(avg.masks[0].mask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]); // avg 2.325 vs 1
    expect(host(max.masks[0].mask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]); // max 9 vs 1
    const q2 = param('q2', [2, 4], 'dense', 1, [0.1, 0.1, 1, 1, 3, 0.1, 1, 1]);
    const avg2 = blockMasks([q2], { sparsity: 0.5, blockSize: [2, 2], blockPooling: 'avg', ...exact });
    const max2 = blockMasks([q2], { sparsity: 0.5, blockSize: [2, 2], blockPooling: 'max', ...exact });
    expect(host(avg2.masks[0].mask)).toEqual([0, 0, 1, 1, 0, 0, 1, 1]); // avg 0.825 < 1
    expect(host(max2.masks[0].mask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]); // max 3 > 1
    disposeMasks([...avg.masks, ...max.masks, ...avg2.masks, ...max2.masks]);
    free(p, q, q2);
  });

  it('rejects non-rank-2 weights and bad block sizes', () => {
    const c = param('c', [3, 3, 2, 2], 'conv2d');
    const d = param('d', [4, 4], 'dense');
    expect(() => blockMasks([c], { sparsity: 0.5, blockSize: [2, 2] })).toThrow(/rank of param "c" must be 2.*got 4/);
    expect(() => blockMasks([d], { sparsity: 0.5, blockSize: [0, 2] as never })).toThrow(/blockSize must be a pair.*got \[0,2\]/);
    expect(() => blockMasks([d], { sparsity: 0.5, blockSize: [2, 2], blockPooling: 'sum' as never })).toThrow(
      /blockPooling must be one of "avg", "max"; got "sum"/,
    );
    free(c, d);
  });
});

describe('N:M (mByN)', () => {
  it('leaves exactly m zeros in every n consecutive inputs per output unit, the m smallest |w|', () => {
    const p = param('d', [8, 5], 'dense', 11);
    const w = host(p.variable);
    const [mask] = mByNMasks([p], { mByN: [2, 4] });
    const m = host(mask.mask);
    for (let col = 0; col < 5; col++) {
      for (let g = 0; g < 8; g += 4) {
        const idx = [0, 1, 2, 3].map((k) => (g + k) * 5 + col);
        expect(idx.filter((i) => m[i] === 0).length).toBe(2);
        const kept = idx.filter((i) => m[i] === 1).map((i) => Math.abs(w[i]));
        const dropped = idx.filter((i) => m[i] === 0).map((i) => Math.abs(w[i]));
        expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped));
      }
    }
    expect(checkMByN([p], [2, 4]).ok).toBe(false);
    applyMasks([mask]);
    const report = checkMByN([p], [2, 4]);
    expect(report.ok).toBe(true);
    expect(report.params[0]).toMatchObject({ applicable: true, groups: 10, violatingGroups: 0 });
    expect(checkMByN([p], [3, 4]).params[0].violatingGroups).toBe(10);
    disposeMasks([mask]);
    free(p);
  });

  it('runs along the input channels of conv2d kernels, for each kernel position and filter', () => {
    const p = param('c', [2, 2, 8, 3], 'conv2d', 4);
    const masks = mByNMasks([p], { mByN: [1, 2] });
    applyMasks(masks);
    const w = host(p.variable);
    for (let pos = 0; pos < 4; pos++) {
      for (let f = 0; f < 3; f++) {
        for (let ch = 0; ch < 8; ch += 2) {
          const pair = [ch, ch + 1].map((c) => w[(pos * 8 + c) * 3 + f]);
          expect(pair.filter((v) => v === 0).length).toBe(1);
        }
      }
    }
    expect(checkMByN([p], [1, 2]).ok).toBe(true);
    disposeMasks(masks);
    free(p);
  });

  it('checks a model and reports layers that cannot hold the pattern', () => {
    const model = tinyModel(); // kernels [8, 16] and [16, 4]
    const params = selectParams(model);
    const masks = mByNMasks(params, { mByN: [2, 4] });
    applyMasks(masks);
    expect(checkMByN(model, [2, 4]).ok).toBe(true);
    const odd = param('odd', [6, 2], 'dense');
    const bias = param('bias', [4], 'vector');
    const report = checkMByN([odd, bias], [2, 4]);
    expect(report.ok).toBe(false);
    expect(report.params.map((r) => r.applicable)).toEqual([false, false]);
    expect(report.params[0].reason).toMatch(/6 is not a multiple of 4/);
    expect(() => mByNMasks([odd], { mByN: [2, 4] })).toThrow(/input dimension of param "odd".*must be a multiple of n = 4; got 6/);
    expect(() => mByNMasks([odd], { mByN: [4, 4] })).toThrow(/mByN must be a pair \[m, n\].*got \[4,4\]/);
    disposeMasks(masks);
    model.dispose();
    free(odd, bias);
  });
});

describe('customFromMask and computePruningMasks', () => {
  it('builds a mask from user values and validates them', () => {
    const p = param('d', [2, 3], 'dense');
    const m = customFromMask(p, [1, 0, 1, 0, 1, 1]);
    expect(m.mask.shape).toEqual([2, 3]);
    expect(host(m.mask)).toEqual([1, 0, 1, 0, 1, 1]);
    expect(() => customFromMask(p, [1, 0])).toThrow(/number of mask entries for "d" must be 6.*got 2/);
    expect(() => customFromMask(p, [1, 0, 1, 0, 1, 0.5])).toThrow(/mask entry 5 for "d" must be 0 or 1; got 0.5/);
    const wrong = tf.ones([3, 2]);
    expect(() => customFromMask(p.variable, wrong)).toThrow(/mask shape for "d" must be \[2,3\]; got \[3,2\]/);
    wrong.dispose();
    disposeMasks([m]);
    free(p);
  });

  it('defaults to DEFAULT_PRUNING (global, strict quantile); tfmot is layer-wise exact count, ties kept', () => {
    expect(DEFAULT_PRUNING).toEqual({ scope: 'global', rule: 'quantile' });
    expect(DEFAULT_PRUNING_METHOD).toEqual({ kind: 'magnitude', ...DEFAULT_PRUNING });
    const a = param('a', [10], 'other', 1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const b = param('b', [10], 'other', 1, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    const tfmot = { kind: 'magnitude', scope: 'layer', rule: 'exactCount' } as const;
    const { masks } = computePruningMasks([a, b], 0.3, tfmot);
    expect(host(masks[0].mask)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    expect(host(masks[1].mask)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    disposeMasks(masks);
    // default: one ranking over the 20, t = a(⌊0.3·20⌋) = a(6) = 7, keep |w| > 7: a loses 1…7
    const byDefault = computePruningMasks([a, b], 0.3);
    expect(host(byDefault.masks[0].mask)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(host(byDefault.masks[1].mask).every((v) => v === 1)).toBe(true);
    disposeMasks(byDefault.masks);
    // the same masks as pruneByMagnitude's default, and the same described config
    expect(pruningMethodConfig({ kind: 'magnitude' })).toEqual({ kind: 'magnitude', scope: 'global', rule: 'quantile' });
    expect(pruningMethodConfig({ kind: 'lnStructured', axis: 'input' })).toEqual({
      kind: 'lnStructured',
      axis: 'input',
      ...LN_STRUCTURED_PRUNING,
    });
    const global = computePruningMasks([a, b], 0.5, { kind: 'magnitude', scope: 'global', rule: 'exactCount' });
    // N = 20, keep 10: τ = a(10) = 10 and the tie (a's 10 and b's 10) is kept, so 9 are pruned
    expect(host(global.masks[0].mask)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(host(global.masks[1].mask).every((v) => v === 1)).toBe(true);
    disposeMasks(global.masks);
    free(a, b);
  });

  it('passes importance scores and gradients to every method', () => {
    const p = param('d', [4, 2], 'dense', 1, [1, 1, 2, 2, 3, 3, 4, 4]);
    const g = tf.tensor([
      [4, 4],
      [3, 3],
      [0.1, 0.1],
      [0.1, 0.1],
    ]);
    const taylor = (w: tf.Tensor, grad?: tf.Tensor) => tf.abs(tf.mul(w, grad!));
    const byW = computePruningMasks([p], 0.5, { kind: 'lnStructured', axis: 'input' });
    const byTaylor = computePruningMasks([p], 0.5, { kind: 'lnStructured', axis: 'input' }, { importance: taylor, gradients: [g] });
    expect(host(byW.masks[0].mask)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(host(byTaylor.masks[0].mask)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(() => computePruningMasks([p], 0.5, { kind: 'block', blockSize: [2, 2] }, { gradients: [] })).toThrow(
      /gradients.length must be 1/,
    );
    disposeMasks([...byW.masks, ...byTaylor.masks]);
    g.dispose();
    free(p);
  });

  it('validates the method and a custom method result', () => {
    const p = param('d', [4, 4], 'dense');
    expect(() => computePruningMasks([p], 0.5, { kind: 'random' } as never)).toThrow(/pruning method kind must be one of .*got "random"/);
    expect(() => computePruningMasks([p], 0.5, { kind: 'magnitude', scope: 'everywhere' } as never)).toThrow(
      /scope must be one of "layer", "global"; got "everywhere"/,
    );
    const bad = { kind: 'custom' as const, name: 'none', computeMasks: () => [] };
    expect(() => computePruningMasks([p], 0.5, bad)).toThrow(/custom pruning method "none" result/);
    const keepFirstRow = {
      kind: 'custom' as const,
      name: 'first-row',
      computeMasks: (ps: readonly Param[]) => ps.map((q) => customFromMask(q, [1, 1, 1, 1, ...Array(12).fill(0)])),
    };
    const { masks, thresholds } = computePruningMasks([p], 0.5, keepFirstRow);
    expect(host(masks[0].mask).slice(0, 5)).toEqual([1, 1, 1, 1, 0]);
    expect(thresholds).toEqual([null]);
    disposeMasks(masks);
    free(p);
  });

  it('creates no stray tensors', () => {
    const p = param('d', [8, 8], 'dense');
    const before = tf.memory().numTensors;
    for (const method of [
      { kind: 'magnitude' },
      { kind: 'lnStructured', axis: 'output', n: 3 },
      { kind: 'block', blockSize: [2, 2], blockPooling: 'max' },
      { kind: 'mByN', mByN: [2, 4] },
    ] as const) {
      disposeMasks(computePruningMasks([p], 0.5, method).masks);
    }
    expect(tf.memory().numTensors).toBe(before);
    free(p);
  });
});

describe('fine-tuning with fixed masks (docs/conventions.md)', () => {
  it('keeps pruned weights exactly 0 under momentum + weight decay after an optimizer reset', () => {
    const model = tinyModel(7);
    const params = selectParams(model);
    const { x, y } = tinyBatch(9);
    // Phase 1: dense training with a penalty, so momentum holds non-zero state for every weight.
    const first = tf.train.momentum(0.05, 0.9);
    const step = createTrainStep({ model, optimizer: first, weightDecay: 5e-4, penalties: [new TestL1({ strength: 1e-3 })] });
    for (let i = 0; i < 20; i++) step.run(x, y);
    // Prune whole output neurons of the first layer and 2:4 of the second.
    const structured = lnStructured([params[0]], { sparsity: 0.5, axis: 'output' }).masks;
    const nm = mByNMasks([params[1]], { mByN: [2, 4] });
    const masks = [...structured, ...nm];
    const pruned = masks.map((m) => host(m.mask).map((v) => v === 0));
    // Phase 2: penalty off, fresh optimizer, weight decay on, masks fixed.
    step.dispose();
    disposeOptimizer(first);
    const fresh = tf.train.momentum(0.05, 0.9);
    const fine = createTrainStep({ model, optimizer: tf.train.sgd(0.1), weightDecay: 5e-4 });
    fine.setOptimizer(fresh);
    fine.setMasks(masks);
    let firstLoss = 0;
    let lastLoss = 0;
    for (let i = 0; i < 100; i++) {
      const r = fine.run(x, y);
      if (i === 0) firstLoss = r.taskLoss;
      lastLoss = r.taskLoss;
    }
    expect(lastLoss).toBeLessThan(firstLoss);
    params.forEach((p, i) => {
      const w = host(p.variable);
      pruned[i].forEach((isPruned, j) => {
        if (isPruned) expect(w[j] === 0).toBe(true);
        else expect(w[j]).not.toBe(0);
      });
    });
    expect(countZeroGroups(params)[0].zeroOutputGroups).toBe(8);
    expect(checkMByN([params[1]], [2, 4]).ok).toBe(true);
    fine.dispose();
    disposeOptimizer(fresh);
    disposeMasks(masks);
    model.dispose();
    x.dispose();
    y.dispose();
  });
});

describe('resolvePruningDefaults: one default, methods state their own', () => {
  it('takes DEFAULT_PRUNING, then what the penalties state, then the explicit values', () => {
    expect(resolvePruningDefaults([])).toEqual(DEFAULT_PRUNING);
    const halo = { name: 'halo', pruning: { rule: 'quantileNonZero' } } as const;
    const plain = { name: 'lasso' };
    expect(resolvePruningDefaults([plain, halo])).toEqual({ scope: 'global', rule: 'quantileNonZero' });
    expect(resolvePruningDefaults([halo], { rule: 'exactCount' })).toEqual({ scope: 'global', rule: 'exactCount' });
    expect(resolvePruningDefaults([halo], { scope: 'layer', rule: undefined })).toEqual({ scope: 'layer', rule: 'quantileNonZero' });
    expect(() => resolvePruningDefaults([halo, { name: 'other', pruning: { rule: 'exactCount' } }])).toThrow(
      /penalties "halo" and "other" state different pruning rules \("quantileNonZero", "exactCount"\)/,
    );
  });
});
