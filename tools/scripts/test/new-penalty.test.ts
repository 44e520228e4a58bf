import * as tf from '@tensorflow/tfjs';
import { registerSparsifyKernels, unregisterSparsifyKernels } from '@sparsify/backend';
import { runConformance } from '@sparsify/conformance';
import type { Penalty, SparsifyPlugin } from '@sparsify/core';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// A workspace-shaped directory: the package's tsconfig extends ../../tsconfig.base.json.
const parent = mkdtempSync(join(tmpdir(), 'sparsify-new-penalty-'));
const dir = join(parent, 'packages', 'my-penalty');

beforeAll(async () => {
  execFileSync(process.execPath, ['tools/scripts/new-package.mjs', '--penalty', 'my-penalty', 'A test penalty.', '--dir', dir], {
    cwd: root,
    stdio: 'pipe',
  });
  copyFileSync(join(root, 'tsconfig.base.json'), join(parent, 'tsconfig.base.json'));
  await tf.setBackend('cpu');
  await tf.ready();
  registerSparsifyKernels();
});
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe('npm run new-penalty', () => {
  it('writes a package that type-checks against the workspace', () => {
    const paths = Object.fromEntries(
      ['core', 'backend', 'conformance'].map((p) => [`@sparsify/${p}`, [`${root}packages/${p}/src/index.ts`]]),
    );
    const program = ts.createProgram([join(dir, 'src/index.ts'), join(dir, 'test/conformance.test.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [`${root}node_modules/@types`],
      baseUrl: root,
      paths: { ...paths, '*': [`${root}node_modules/*`] },
    });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(manifest.name).toBe('@sparsify/my-penalty');
    expect(manifest.keywords).toContain('sparsify-plugin');
    expect(manifest.dependencies).toEqual({ '@sparsify/core': '0.0.0' });
  });

  it('whose penalty passes the conformance kit as generated', async () => {
    const mod = (await import(join(dir, 'src/index.ts'))) as { myPenalty: (o: { strength: number }) => Penalty; plugin: SparsifyPlugin };
    await runConformance({
      name: 'my-penalty',
      plugin: mod.plugin,
      create: () => mod.myPenalty({ strength: 1e-2 }),
      kernels: { register: registerSparsifyKernels, unregister: unregisterSparsifyKernels },
      bitIdentical: true,
    });
  });

  it('refuses a bad name or an existing directory', () => {
    const run = (...args: string[]) =>
      execFileSync(process.execPath, ['tools/scripts/new-package.mjs', '--penalty', ...args], { cwd: root, stdio: 'pipe' });
    expect(() => run('My_Penalty')).toThrow(/must be lower-case letters, digits and '-'/);
    expect(() => run('my-penalty', 'x', '--dir', dir)).toThrow(/already exists/);
  });
});
