import * as tf from '@tensorflow/tfjs';
import { measureSparsity, selectParams } from '@sparsify/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { artLoop } from '../examples/custom-loop.js';
import { mlp, sparseTask } from './harness.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('the README custom-loop example (ART)', () => {
  const example = readmeExample(import.meta.url, 'examples/custom-loop.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: ART stops by its rule, the model ends ≥ 90% sparse and accurate, no tensors leak', async () => {
    const { xTrain, yTrain, xTest, yTest } = sparseTask();
    const model = mlp(1);
    const batches: [tf.Tensor, tf.Tensor][] = [];
    for (let i = 0; i < 1536; i += 64) batches.push([tf.slice(xTrain, i, 64), tf.slice(yTrain, i, 64)]);
    const before = tf.memory().numTensors;
    const result = await artLoop(model, batches, xTrain, yTrain, 0.9);
    expect(tf.memory().numTensors).toBe(before);
    expect(result.reason).toBe('crossed');
    expect(result.selectedEpoch).toBeGreaterThanOrEqual(0);
    expect(result.log.length).toBeGreaterThan(0);
    expect(JSON.parse(result.log[0])).toMatchObject({ alpha: 1e-3, kappa: 0.9 });
    expect(measureSparsity(selectParams(model)).global).toBeGreaterThanOrEqual(0.9);
    expect(result.accuracy).toBeGreaterThan(0.95); // training accuracy; 4 classes, chance 0.25
    [model, xTrain, yTrain, xTest, yTest, ...batches.flat()].forEach((t) => t.dispose());
  });
});
