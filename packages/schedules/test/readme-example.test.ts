import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { gradualPruning } from '../examples/gradual-pruning.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('the README gradual-pruning example', () => {
  const example = readmeExample(import.meta.url, 'examples/gradual-pruning.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: prunes to 90% on schedule, keeps accuracy, leaves no tensors', () => {
    const before = tf.memory().numTensors;
    const { sparsity, accuracy, state } = gradualPruning();
    expect(sparsity).toBeCloseTo(0.9, 2);
    expect(accuracy).toBeGreaterThan(0.8);
    expect(JSON.parse(state)).toMatchObject({ step: 160, lastPruneStep: 120 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
