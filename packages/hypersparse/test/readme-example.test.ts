import * as tf from '@tensorflow/tfjs';
import { measureSparsity, selectParams } from '@sparsify/core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { artLoop } from '../examples/custom-loop.js';
import { mlp, sparseTask } from './harness.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('the README custom-loop example (ART)', () => {
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
        '@sparsify/hypersparse': [here('../src/index.ts')],
      },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
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
