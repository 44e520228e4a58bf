import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { VARIANTS, measureInference } from '../src/inference.js';
import type { Workload } from '../src/models.js';

const tiny: Workload = {
  name: 'lenet-300-100',
  label: 'tiny MLP',
  batch: 4,
  inputShape: [12],
  build: (seed) => {
    const init = (s: number) => ({ kernelInitializer: tf.initializers.glorotNormal({ seed: s }), biasInitializer: 'ones' as const });
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 16, activation: 'relu', inputShape: [12], ...init(seed) }));
    m.add(tf.layers.dense({ units: 8, activation: 'relu', ...init(seed + 1) }));
    m.add(tf.layers.dense({ units: 3, ...init(seed + 2) }));
    return m;
  },
};

/** The inference section: five variants per case, the shrunk twin as small as the unstructured model, nothing left behind. */
describe('measureInference', () => {
  it('times dense, dense plan, sparse, shrunk and shrunk plain predict side by side, and shrinks the structured twin to the same weight count', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const { rows, notes } = await measureInference({
      workloads: [{ workload: tiny, batches: [1, 2] }],
      sparsities: [0.75],
      backends: ['cpu'],
      trained: [],
      budgetMs: 20,
      log: () => {},
    });
    expect(notes).toEqual([]);
    expect(rows.map((r) => `${r.batch} ${r.variant}`)).toEqual([1, 2].flatMap((b) => VARIANTS.map((v) => `${b} ${v}`)));
    for (const r of rows) expect(r.minMs).toBeGreaterThan(0);
    const [dense, , sparse, shrunk] = rows;
    // 12·16 + 16·8 + 8·3 kernel weights, 75% of each layer's zeroed: the shrunk twin keeps at most the rest.
    const zeros = Math.floor(0.75 * 192) + Math.floor(0.75 * 128) + Math.floor(0.75 * 24);
    expect(dense.parameters).toBe(192 + 128 + 24 + 16 + 8 + 3);
    expect(sparse.parameters).toBe(344 - zeros);
    expect(shrunk.parameters).toBeLessThanOrEqual(dense.parameters - zeros);
    expect(shrunk.parameters).toBeGreaterThan(0);
    expect(shrunk.kept).toMatch(/^\S+ \d+\/16, \S+ \d+\/8, \S+ 3\/3$/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
