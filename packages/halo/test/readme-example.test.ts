import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { trainWithHalo } from '../examples/custom-loop.js';
import { useCpu } from './helpers.js';
import { accuracy, makeModel, teacherTask } from '@sparsify/conformance';

beforeAll(useCpu);

describe('the README custom-loop example', () => {
  const example = readmeExample(import.meta.url, 'examples/custom-loop.ts');

  it('is the README code verbatim', () => {
    expect(example.readme).toContain(example.code);
  });

  it('type-checks against the workspace sources', () => {
    expect(example.typeErrors()).toEqual([]);
  });

  it('runs: trains with HALO, λ adapts, prunes to ≥ 95%, frees everything', async () => {
    const task = teacherTask(3, 512, 512);
    const model = makeModel(5);
    const batches: [tf.Tensor, tf.Tensor][] = Array.from({ length: 8 }, (_, i) => [
      tf.slice(task.xTrain, i * 64, 64),
      tf.slice(task.yTrain, i * 64, 64),
    ]);
    const before = tf.memory().numTensors;
    const { sparsity, lambdas } = trainWithHalo(model, batches, 10);
    expect(tf.memory().numTensors).toBe(before);
    expect(sparsity).toBeGreaterThanOrEqual(0.95);
    const d = lambdas as Record<string, number>;
    expect(d.lambdaMax).toBeLessThan(1); // λ moved from its initial 1 …
    expect(d.lambdaP05).toBeLessThan(d.lambdaP95); // … and not uniformly
    expect(accuracy(model, task.xTest, task.yTest)).toBeGreaterThan(0.5); // 4 classes: chance is ≈ 0.25
    model.dispose();
    batches.flat().forEach((t) => t.dispose());
    task.dispose();
  });
});
