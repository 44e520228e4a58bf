import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { buildAndStep } from '../examples/build-and-step.js';
import { useCpu } from './helpers.js';

beforeAll(() => useCpu());

describe('the README example', () => {
  const example = readmeExample(import.meta.url, 'examples/build-and-step.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: logits out, the step lowers the loss, no tensors leak', () => {
    const before = tf.memory().numTensors;
    const { kernels, logitsShape, lossBefore, lossAfter } = buildAndStep();
    expect(kernels).toBe(266_200);
    expect(logitsShape).toEqual([16, 10]);
    expect(lossAfter).toBeLessThan(lossBefore);
    expect(tf.memory().numTensors).toBe(before);
  });
});
