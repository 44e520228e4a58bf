import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { customLoop } from '../examples/custom-loop.js';
import { useBackend } from './helpers.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(() => useBackend('cpu'));

describe('the README custom-loop example', () => {
  it('is the README code verbatim', () => {
    const readme = readFileSync(here('../README.md'), 'utf8');
    const example = readFileSync(here('../examples/custom-loop.ts'), 'utf8');
    expect(readme).toContain(example.trim());
  });

  it('type-checks against the package source', () => {
    const program = ts.createProgram([here('../examples/custom-loop.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: [],
      paths: { '@sparsify/core': [here('../src/index.ts')] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  it('runs: trains, prunes to ≥ 90% and keeps accuracy', () => {
    const before = tf.memory().numTensors;
    const { sparsity, accuracy } = customLoop();
    expect(sparsity).toBeGreaterThanOrEqual(0.9);
    expect(accuracy).toBeGreaterThan(0.8); // 3 linearly separable classes, 64 hidden units, 10% kept
    expect(tf.memory().numTensors).toBe(before);
  });
});
