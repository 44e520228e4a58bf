import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { disposeOptimizer, measureSparsity, selectParams } from '@sparsify/core';
import { constantSparsity, oneShot, polynomialDecay } from '@sparsify/schedules';
import {
  globalUnstructured,
  isPruned,
  l1Unstructured,
  prune,
  pruneLowMagnitude,
  prunerOf,
  randomUnstructured,
  removePruning,
  stripPruning,
  updatePruningStep,
} from '@sparsify/layers';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { tfmotStyle } from '../examples/tfmot-style.js';
import { torchStyle } from '../examples/torch-style.js';
import { classes, compiledMlp, kernels, useCpu } from './helpers.js';

beforeAll(useCpu);

const zerosOf = (a: ArrayLike<number>) => Array.from(a).filter((v) => v === 0).length;

/** Checks after every batch that each pruned kernel is 0 wherever its mask is. */
function maskWatcher(model: tf.LayersModel): { callback: tf.CustomCallback; state: { violations: number; batches: number } } {
  const state = { violations: 0, batches: 0 };
  const callback = new tf.CustomCallback({
    onBatchEnd: async () => {
      state.batches++;
      for (const m of prunerOf(model)?.masks() ?? []) {
        const w = m.variable.dataSync();
        const mask = m.mask.dataSync();
        for (let i = 0; i < w.length; i++) if (mask[i] === 0 && w[i] !== 0) state.violations++;
      }
    },
  });
  return { callback, state };
}

describe('the README examples (tfmot and torch idioms)', () => {
  for (const [file, name] of [
    ['examples/tfmot-style.ts', 'tfmot'],
    ['examples/torch-style.ts', 'torch'],
  ] as const) {
    const example = readmeExample(import.meta.url, file);
    it(`${name}: is in the README verbatim and type-checks`, () => {
      expect(example.readme).toContain(example.code);
      expect(example.typeErrors()).toEqual([]);
    });
  }

  it('tfmot: pruneLowMagnitude + model.fit + updatePruningStep reaches 80%, strips to a plain model, no tensors left', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const before = tf.memory().numTensors;
    try {
      const r = await tfmotStyle();
      expect(r.prunedBefore).toBe(false);
      expect(r.prunedAfter).toBe(false); // the stripped model is plain
      expect(r.same).toBe(true);
      expect(r.sparsity).toBeCloseTo(0.8, 2);
      expect(r.accuracy).toBeGreaterThan(0.8);
      expect(log).toHaveBeenCalledTimes(10); // one pruningSummaries line per epoch
      expect(String(log.mock.calls[9][0])).toMatch(
        /^epoch 10: sparsity 80\.\d% \(target 80\.0%\); dense_\w+ \d+\.\d%, dense_\w+ \d+\.\d%$/,
      );
    } finally {
      log.mockRestore();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('torch: globalUnstructured + fine-tune + remove keeps 10% of the weights, no tensors left', async () => {
    const before = tf.memory().numTensors;
    const r = await torchStyle();
    expect(r.wasPruned).toBe(true);
    expect(r.sparsity).toBeCloseTo(0.9, 3);
    expect(r.dense).toBeGreaterThan(0.85);
    expect(r.finetuned).toBeGreaterThan(r.pruned - 1e-6);
    expect(r.finetuned).toBeGreaterThan(0.8);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('pruneLowMagnitude (tfmot idiom)', () => {
  it('masks hold through fit, sparsity reaches the schedule target, strip gives equal predictions, isPruned before/after', async () => {
    const before = tf.memory().numTensors;
    const optimizer = tf.train.momentum(0.05, 0.9);
    const model = compiledMlp(3, [16, 32, 4], optimizer);
    const { x, y } = classes(4, 256);
    expect(isPruned(model)).toBe(false);
    expect(pruneLowMagnitude(model, { pruningSchedule: constantSparsity({ targetSparsity: 0.75, beginStep: 0, frequency: 8 }) })).toBe(
      model,
    );
    expect(isPruned(model)).toBe(true);
    const watcher = maskWatcher(model);
    await model.fit(x, y, { epochs: 3, batchSize: 32, verbose: 0, callbacks: [updatePruningStep(), watcher.callback] });
    expect(watcher.state.batches).toBe(24);
    expect(watcher.state.violations).toBe(0);
    const summary = prunerOf(model)!.summary();
    // the default (docs/defaults.md): one global ranking, strict quantile, ⌊sN⌋ + 1 zeros
    expect(summary.zeros).toBe(Math.floor(0.75 * summary.total) + 1);
    expect(summary.layers[0].sparsity).not.toBeCloseTo(summary.layers[1].sparsity, 2);
    const stripped = await stripPruning(model);
    expect(isPruned(stripped)).toBe(false);
    expect(stripped.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
    const [a, b] = [model.predict(x) as tf.Tensor, stripped.predict(x) as tf.Tensor];
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])).toBe(0);
    tf.dispose([a, b]);
    stripped.dispose();
    removePruning(model);
    expect(isPruned(model)).toBe(false);
    tf.dispose([x, y]);
    model.dispose();
    disposeOptimizer(optimizer);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('takes every pruning method: structured, N:M, block and custom scores', async () => {
    const cases = [
      { kind: 'lnStructured', axis: 'output' },
      { kind: 'block', blockSize: [4, 4] },
      { kind: 'mByN', mByN: [2, 4] },
    ] as const;
    for (const method of cases) {
      const model = compiledMlp(5, [16, 32, 4]);
      const { x, y } = classes(6, 64);
      pruneLowMagnitude(model, { pruningSchedule: oneShot({ sparsity: 0.5, atStep: 0 }), method, layers: [model.layers[0].name] });
      await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0, callbacks: [updatePruningStep()] });
      const k = kernels(model)[0];
      expect(zerosOf(k) / k.length, method.kind).toBeGreaterThanOrEqual(0.5);
      expect(zerosOf(kernels(model)[1]), `${method.kind}: unselected layer`).toBe(0);
      if (method.kind === 'lnStructured') {
        // whole output neurons: every column of the [16, 32] kernel is all zero or all non-zero
        for (let j = 0; j < 32; j++) {
          const col = Array.from({ length: 16 }, (_, i) => k[i * 32 + j]);
          expect([0, 16]).toContain(zerosOf(col));
        }
      }
      removePruning(model);
      tf.dispose([x, y]);
      model.dispose();
    }
    // custom scores: keep the smallest |w| instead
    const model = compiledMlp(7, [16, 32, 4]);
    const w0 = kernels(model)[0].slice();
    pruneLowMagnitude(model, {
      pruningSchedule: oneShot({ sparsity: 0.5, atStep: 0 }),
      importance: (w) => tf.neg(tf.abs(w)),
      method: { kind: 'magnitude', scope: 'layer', rule: 'exactCount' },
    });
    prunerOf(model)!.onStep();
    const k = kernels(model)[0];
    const keptMax = Math.max(
      ...Array.from(w0)
        .filter((_, i) => k[i] !== 0)
        .map(Math.abs),
    );
    const cutMin = Math.min(
      ...Array.from(w0)
        .filter((_, i) => k[i] === 0)
        .map(Math.abs),
    );
    expect(keptMax).toBeLessThanOrEqual(cutMin);
    removePruning(model);
    model.dispose();
  });

  it('rejects bad input with errors naming the value', () => {
    const model = compiledMlp(8, [16, 32, 4]);
    expect(() => pruneLowMagnitude(model, {} as never)).toThrow(/pruningSchedule/);
    expect(() => pruneLowMagnitude(model, { pruningSchedule: oneShot({ sparsity: 1, atStep: 0 }) })).toThrow(
      /sparsity must be a fraction in \[0, 1\); got 1/,
    );
    expect(() => polynomialDecay({ initialSparsity: 0, finalSparsity: -0.1, beginStep: 0, endStep: 10 })).toThrow(/-0\.1/);
    expect(() => pruneLowMagnitude(model, { pruningSchedule: oneShot({ sparsity: 0.5, atStep: 0 }), layers: ['nope'] })).toThrow(
      /has no layer "nope"; its prunable layers are "dense_\w+", "dense_\w+"/,
    );
    expect(() => l1Unstructured(model, { amount: 1 })).toThrow(/l1Unstructured amount.*1/);
    expect(() => l1Unstructured(model, { amount: Number.NaN })).toThrow(/amount/);
    expect(() => prune.lnStructured(model, { amount: 0.5, axis: 'rows' as never })).toThrow(/axis.*rows/);
    expect(() => removePruning(model)).toThrow(/is not pruned/);
    expect(() => pruneLowMagnitude({} as never, { pruningSchedule: oneShot({ sparsity: 0.5, atStep: 0 }) })).toThrow(/tf\.LayersModel/);
    l1Unstructured(model, { amount: 0.5 });
    expect(() => globalUnstructured(model, { amount: 0.5 })).toThrow(/already pruned; call removePruning/);
    removePruning(model);
    expect(isPruned(model)).toBe(false);
    model.dispose();
  });

  it('updatePruningStep() on a model that is not pruned says what to do', async () => {
    const model = compiledMlp(9, [16, 32, 4]);
    const { x, y } = classes(10, 32);
    await expect(model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [updatePruningStep()] })).rejects.toThrow(
      /is not pruned; call pruneLowMagnitude/,
    );
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('torch-style one-shot pruning', () => {
  it('l1Unstructured prunes each layer to the exact count, randomUnstructured too (seeded), globalUnstructured over all', () => {
    const model = compiledMlp(11, [16, 32, 4]);
    const before = tf.memory().numTensors;
    l1Unstructured(model, { amount: 0.3 });
    expect(isPruned(model)).toBe(true);
    const [k0, k1] = kernels(model);
    expect(zerosOf(k0)).toBe(Math.round(512 * 0.3));
    expect(zerosOf(k1)).toBe(Math.round(128 * 0.3));
    removePruning(model); // permanent
    expect(isPruned(model)).toBe(false);
    expect(zerosOf(kernels(model)[0])).toBe(Math.round(512 * 0.3));
    expect(tf.memory().numTensors).toBe(before);

    const a = compiledMlp(12, [16, 32, 4]);
    const b = compiledMlp(12, [16, 32, 4]);
    randomUnstructured(a, { amount: 0.5, seed: 1 });
    randomUnstructured(b, { amount: 0.5, seed: 1 });
    expect(zerosOf(kernels(a)[0])).toBe(256);
    expect(kernels(a)[0]).toEqual(kernels(b)[0]);
    const l1 = compiledMlp(12, [16, 32, 4]);
    prune.l1Unstructured(l1, { amount: 0.5 });
    expect(kernels(a)[0]).not.toEqual(kernels(l1)[0]); // random, not by magnitude

    const g = compiledMlp(13, [16, 32, 4]);
    globalUnstructured(g, { amount: 0.9 });
    const params = selectParams(g);
    expect(measureSparsity(params).zeros).toBe(Math.round(640 * 0.9));
    const perLayer = measureSparsity(params).layers.map((l) => l.sparsity);
    expect(perLayer[0]).not.toBeCloseTo(perLayer[1], 3); // one ranking: layers end up unequal
    for (const m of [a, b, l1, g]) prune.remove(m).dispose();
    model.dispose();
  });

  it('the prune namespace is torch.nn.utils.prune', () => {
    expect(Object.keys(prune).sort()).toEqual([
      'globalUnstructured',
      'isPruned',
      'l1Unstructured',
      'lnStructured',
      'randomUnstructured',
      'remove',
    ]);
  });
});
