import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { customLoop } from '../examples/custom-loop.js';
import { mlp, sparseTask } from './harness.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('the README custom-loop example', () => {
  const example = readmeExample(import.meta.url, 'examples/custom-loop.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: trains, prunes to ≥ 90% and keeps accuracy, without leaking tensors', () => {
    const { xTrain, yTrain, xTest, yTest } = sparseTask();
    const model = mlp(1);
    const before = tf.memory().numTensors;
    const { sparsity, accuracy } = customLoop(xTrain, yTrain, model);
    expect(tf.memory().numTensors).toBe(before);
    expect(sparsity).toBeGreaterThanOrEqual(0.9);
    expect(accuracy).toBeGreaterThan(0.93); // training accuracy; 4 classes, chance 0.25
    [model, xTrain, yTrain, xTest, yTest].forEach((t) => t.dispose());
  });
});
