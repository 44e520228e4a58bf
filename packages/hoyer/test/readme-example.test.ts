import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { customLoop } from '../examples/custom-loop.js';
import { mlp, sparseTask } from './harness.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

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
      paths: {
        '@sparsify/core': [here('../../core/src/index.ts')],
        '@sparsify/hoyer': [here('../src/index.ts')],
      },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
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
