import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradualPruning } from '../examples/gradual-pruning.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('the README gradual-pruning example', () => {
  it('is the README code verbatim', () => {
    expect(readFileSync(here('../README.md'), 'utf8')).toContain(readFileSync(here('../examples/gradual-pruning.ts'), 'utf8').trim());
  });

  it('type-checks against the package sources', () => {
    const program = ts.createProgram([here('../examples/gradual-pruning.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: [],
      paths: { '@sparsify/core': [here('../../core/src/index.ts')], '@sparsify/schedules': [here('../src/index.ts')] },
    });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });

  it('runs: prunes to 90% on schedule, keeps accuracy, leaves no tensors', () => {
    const before = tf.memory().numTensors;
    const { sparsity, accuracy, state } = gradualPruning();
    expect(sparsity).toBeCloseTo(0.9, 2);
    expect(accuracy).toBeGreaterThan(0.8);
    expect(JSON.parse(state)).toMatchObject({ step: 160, lastPruneStep: 120 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
