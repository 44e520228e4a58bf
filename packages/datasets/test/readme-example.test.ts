import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { epochLoop } from '../examples/epoch-loop.js';
import { useCpu } from './helpers.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(() => useCpu());

describe('the README example', () => {
  it('is the README code verbatim', () => {
    const readme = readFileSync(here('../README.md'), 'utf8');
    expect(readme).toContain(readFileSync(here('../examples/epoch-loop.ts'), 'utf8').trim());
  });

  it('type-checks against the package source', () => {
    const program = ts.createProgram([here('../examples/epoch-loop.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: ['node'],
      paths: { '@sparsify/datasets': [here('../src/index.ts')] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  it('runs: learns the synthetic clusters and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const { accuracy, batches } = epochLoop();
    expect(batches).toBe(3 * Math.ceil(922 / 64));
    expect(accuracy).toBeGreaterThan(0.9); // 10 well-separated clusters: chance is 0.1
    expect(tf.memory().numTensors).toBe(before);
  });
});
