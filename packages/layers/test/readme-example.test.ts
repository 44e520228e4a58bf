import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { kerasStyle } from '../examples/fit.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('the README fit example', () => {
  it('is the README code verbatim', () => {
    expect(readFileSync(here('../README.md'), 'utf8')).toContain(readFileSync(here('../examples/fit.ts'), 'utf8').trim());
  });

  it('type-checks against the package sources', () => {
    const program = ts.createProgram([here('../examples/fit.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: ['node'],
      paths: {
        '@sparsify/core': [here('../../core/src/index.ts')],
        '@sparsify/schedules': [here('../../schedules/src/index.ts')],
        '@sparsify/layers': [here('../src/index.ts')],
      },
    });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });

  it('runs: fit with a penalty and a schedule to 90%, sparse export, same predictions, no tensors left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sparsify-layers-readme-'));
    try {
      const before = tf.memory().numTensors;
      const { accuracy, sparsity, ratio, same } = await kerasStyle(join(dir, 'model'));
      expect(sparsity).toBeCloseTo(0.9, 2);
      expect(accuracy).toBeGreaterThan(0.8);
      expect(ratio).toBeGreaterThan(1.5);
      expect(same).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
