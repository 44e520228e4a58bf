import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { epochLoop } from '../examples/epoch-loop.js';
import { useCpu } from './helpers.js';

beforeAll(() => useCpu());

describe('the README example', () => {
  const example = readmeExample(import.meta.url, 'examples/epoch-loop.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: learns the synthetic clusters and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const { accuracy, batches } = epochLoop();
    expect(batches).toBe(3 * Math.ceil(922 / 64));
    expect(accuracy).toBeGreaterThan(0.9); // 10 well-separated clusters: chance is 0.1
    expect(tf.memory().numTensors).toBe(before);
  });
});
