import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from '../../../tools/testing/readme-example.js';
import { trainWithAdaptiveLasso } from '../examples/custom-loop.js';
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

  it('runs: warm-up, snapshot, penalised training, prunes to ≥ 95%, fine-tunes, frees everything', () => {
    const task = teacherTask(3, 512, 512);
    const model = makeModel(5);
    const batches: [tf.Tensor, tf.Tensor][] = Array.from({ length: 8 }, (_, i) => [
      tf.slice(task.xTrain, i * 64, 64),
      tf.slice(task.yTrain, i * 64, 64),
    ]);
    const before = tf.memory().numTensors;
    const sparsity = trainWithAdaptiveLasso(model, batches, 12);
    expect(tf.memory().numTensors).toBe(before);
    expect(sparsity).toBeGreaterThanOrEqual(0.95);
    expect(accuracy(model, task.xTest, task.yTest)).toBeGreaterThan(0.5); // 4 classes: chance is ≈ 0.25
    model.dispose();
    batches.flat().forEach((t) => t.dispose());
    task.dispose();
  });
});
