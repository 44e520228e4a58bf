import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { createPenalty, registerPlugin, selectParams } from '../src/index.js';
import { customLoop } from '../examples/custom-loop.js';
import { ElasticNet, plugin } from '../examples/elastic-net.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

describe('the README custom-loop example', () => {
  const example = readmeExample(import.meta.url, 'examples/custom-loop.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: trains, prunes to ≥ 90% and keeps accuracy', () => {
    const before = tf.memory().numTensors;
    const { sparsity, accuracy } = customLoop();
    expect(sparsity).toBeGreaterThanOrEqual(0.9);
    expect(accuracy).toBeGreaterThan(0.8); // 3 linearly separable classes, 64 hidden units, 10% kept
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the README penalty example (elastic net)', () => {
  const example = readmeExample(import.meta.url, 'examples/elastic-net.ts');

  it('is the README code verbatim, and type-checks against the workspace sources', () => {
    expect(example.readme).toContain(example.code);
    expect(example.typeErrors()).toEqual([]);
  });

  it('validates its options, and its closed form equals the tape', () => {
    expect(() => new ElasticNet({ strength: 1, l1Ratio: 2 })).toThrow('elasticNet l1Ratio must be a finite number in [0, 1]; got 2');
    registerPlugin(plugin);
    const penalty = createPenalty('elastic-net', { strength: 0.3, l1Ratio: 0.25 });
    expect(penalty.getConfig()).toEqual({
      name: 'elastic-net',
      package: 'my-elastic-net',
      options: { strength: { kind: 'constant', value: 0.3 }, l1Ratio: 0.25 },
    });
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [5], units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) })],
    });
    const params = selectParams(model);
    penalty.bind(params);
    const ctx = { step: 0, epoch: 0 };
    tf.tidy(() => {
      const tape = tf.variableGrads(
        () => penalty.loss(ctx),
        params.map((p) => p.variable),
      );
      const closed = penalty.gradients!(ctx)!;
      expect(closed.value.dataSync()[0]).toBeCloseTo(tape.value.dataSync()[0], 6);
      for (const p of params) {
        const [a, b] = [closed.grads[p.name].dataSync(), tape.grads[p.name].dataSync()];
        a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 6));
      }
    });
    penalty.dispose();
    model.dispose();
  });
});
