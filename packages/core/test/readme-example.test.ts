import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { customLoop } from '../examples/custom-loop.js';
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
