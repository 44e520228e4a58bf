import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAndStep } from '../examples/build-and-step.js';
import { useCpu } from './helpers.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(() => useCpu());

describe('the README example', () => {
  it('is the README code verbatim', () => {
    const readme = readFileSync(here('../README.md'), 'utf8');
    expect(readme).toContain(readFileSync(here('../examples/build-and-step.ts'), 'utf8').trim());
  });

  it('type-checks against the package source', () => {
    const program = ts.createProgram([here('../examples/build-and-step.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: [],
      paths: { '@sparsify/models': [here('../src/index.ts')] },
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  it('runs: logits out, the step lowers the loss, no tensors leak', () => {
    const before = tf.memory().numTensors;
    const { kernels, logitsShape, lossBefore, lossAfter } = buildAndStep();
    expect(kernels).toBe(266_200);
    expect(logitsShape).toEqual([16, 10]);
    expect(lossAfter).toBeLessThan(lossBefore);
    expect(tf.memory().numTensors).toBe(before);
  });
});
