import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { kerasStyle } from '../examples/fit.js';
import { seedMathRandom } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('the README fit example', () => {
  const example = readmeExample(import.meta.url, 'examples/fit.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: fit with a penalty and a schedule to 90%, sparse export, same predictions, no tensors left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sparsify-layers-readme-'));
    try {
      const before = tf.memory().numTensors;
      const restoreRandom = seedMathRandom(5); // fit's shuffle
      const { accuracy, sparsity, ratio, same } = await kerasStyle(join(dir, 'model')).finally(restoreRandom);
      expect(sparsity).toBeCloseTo(0.9, 2);
      expect(accuracy).toBeGreaterThan(0.8);
      expect(ratio).toBeGreaterThan(1.5);
      expect(same).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
