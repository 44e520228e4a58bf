import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainWithAdaptiveLasso } from '../examples/custom-loop.js';
import { useCpu } from './helpers.js';
import { accuracy, makeModel, teacherTask } from '@sparsify/conformance';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(useCpu);

describe('the README custom-loop example', () => {
  it('is the README code verbatim', () => {
    const readme = readFileSync(here('../README.md'), 'utf8');
    const example = readFileSync(here('../examples/custom-loop.ts'), 'utf8');
    expect(readme).toContain(example.trim());
  });

  it('type-checks against the package sources', () => {
    const program = ts.createProgram([here('../examples/custom-loop.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: [],
      paths: { '@sparsify/core': [here('../../core/src/index.ts')], '@sparsify/adaptive-lasso': [here('../src/index.ts')] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
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
