import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPenalties } from '@sparsify/core';
import { main, registerPlugins, trainConfigFromFlags } from '../src/index.js';
import { sweepJobEnv } from '../src/sweep.js';
import { cleanup, memoryIO, tempDir, TINY } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});
afterAll(cleanup);

describe('bad flags and values', () => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--sparsity', '1.5'], /--sparsity must be a fraction in \[0, 1\).*got 1.5/],
    [['--sparsity', 'lots'], /--sparsity must be a number; got "lots"/],
    [['--penalty', 'nope'], /--penalty must be one of none, magnitude, gmp, .*halo.*; got "nope"/],
    [['--model', 'alexnet'], /--model must be one of lenet-300-100, .*; got "alexnet"/],
    [['--epochs=-1'], /--epochs must be an integer ≥ 0; got -1/],
    [['--epochs', '2.5'], /--epochs must be an integer; got "2.5"/],
    [['--set', 'xi'], /--set takes key=value .*; got "xi"/],
    [['--penalty', 'halo', '--set', 'xi=1e-8', '--set', 'psi=1e-8', '--set', 'colour=3'], /--penalty halo: unknown option "colour"; valid: xi, psi/],
    [['--backend', 'gpu'], /--backend must be one of auto, cpu, wasm, tensorflow, tensorflow-gpu; got "gpu"/],
    [['--optimizer', 'rmsprop'], /--optimizer must be one of sgd, momentum, adam; got "rmsprop"/],
    [['--dataset', 'imagenet'], /unknown dataset "imagenet"; valid: mnist, fashion-mnist/],
    [['--dataset', 'cifar10:/nonexistent/dir'], /nonexistent/],
    [['--penalty', 'none', '--sparsity', '0.9'], /--penalty none trains dense .*--sparsity must be 0; got 0.9/],
    [['--penalty', 'magnitude', '--sparsity', '0'], /--penalty magnitude prunes to --sparsity, which must be > 0/],
    [['--penalty', 'hoyer-square', '--limit', '100'], /strength/],
    [['--resume', '/nonexistent/run'], /not a sparsify run directory/],
  ];
  for (const [flags, message] of cases) {
    it(`sparsify train ${flags.join(' ')} → exit 2, a clear message, nothing written`, async () => {
      const dir = tempDir();
      const out = join(dir, 'run');
      const io = memoryIO();
      const args = ['train', ...flags];
      if (!flags.includes('--resume')) args.push('--out', out);
      if (!flags.includes('--backend') && !flags.includes('--resume')) args.push('--backend', 'cpu');
      const code = await main(args, io);
      expect(code).toBe(2);
      expect(io.stderr).toMatch(message);
      expect(io.stderr.split('\n').length).toBeLessThanOrEqual(3);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('--resume takes no other training flags', async () => {
    const io = memoryIO();
    expect(await main(['train', '--resume', 'x', '--epochs', '3'], io)).toBe(2);
    expect(io.stderr).toMatch(/--resume continues a run .* not --epochs/);
  });

  it('an unknown command, and a sweep without a config', async () => {
    let io = memoryIO();
    expect(await main(['fly'], io)).toBe(2);
    expect(io.stderr).toMatch(/unknown command "fly"; valid: train, sweep, report, export, penalties, help/);
    io = memoryIO();
    expect(await main(['sweep'], io)).toBe(2);
    expect(io.stderr).toMatch(/needs a config file/);
  });

  it('refuses to overwrite a run directory', async () => {
    const out = tempDir();
    writeFileSync(join(out, 'run.json'), '{}');
    const io = memoryIO();
    expect(await main(['train', ...TINY, '--penalty', 'none', '--epochs', '1', '--out', out], io)).toBe(2);
    expect(io.stderr).toMatch(/already holds a run; continue it with --resume/);
    expect(readdirSync(out)).toEqual(['run.json']);
  });
});

describe('sparsify penalties', () => {
  it('lists the baselines and every registered penalty with its options', async () => {
    const io = memoryIO();
    expect(await main(['penalties'], io)).toBe(0);
    for (const name of ['none', 'magnitude', 'gmp', 'halo', 'sws', 'hoyer', 'hoyer-square', 'group-hoyer-square', 'hypersparse']) {
      expect(io.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    expect(io.stdout).toMatch(/xi \(number, required\)/);
    const json = memoryIO();
    expect(await main(['penalties', '--json'], json)).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.penalties.map((p: { name: string }) => p.name)).toEqual(listPenalties().map((d) => d.name));
  });

  it('discovers installed third-party plugins by the "sparsify-plugin" keyword', async () => {
    const root = tempDir();
    const pkg = join(root, 'node_modules', '@acme', 'sparsify-l0');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/sparsify-l0', version: '1.0.0', type: 'module', main: 'index.js', keywords: ['sparsify-plugin'] }));
    writeFileSync(
      join(pkg, 'index.js'),
      `export const plugin = { package: '@acme/sparsify-l0', penalties: [{ name: 'acme-l0', package: '@acme/sparsify-l0', description: 'test plugin', options: { strength: { type: 'number', description: 's' } }, create: () => { throw new Error('not in this test'); } }] };\n`,
    );
    const other = join(root, 'node_modules', 'unrelated');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'package.json'), JSON.stringify({ name: 'unrelated', version: '1.0.0' }));
    const found = await registerPlugins({ cwd: root, searchFrom: [] });
    expect(found).toEqual([{ package: '@acme/sparsify-l0', dir: pkg, penalties: ['acme-l0'] }]);
    expect(listPenalties().map((d) => d.name)).toContain('acme-l0');
  });
});

describe('run configs from flags', () => {
  it('fills the defaults and parses --set values', async () => {
    await registerPlugins();
    const c = trainConfigFromFlags({ penalty: 'halo', set: ['xi=1e-8', 'psi=1e-8', 'hyperPrior=l2', 'lambdaOptimizer={"className":"Momentum"}'] });
    expect(c).toMatchObject({ model: 'lenet-300-100', dataset: 'mnist', method: 'halo', sparsity: 0.95, epochs: 10, finetuneEpochs: 2, seed: 0, backend: 'auto' });
    expect(c.options).toEqual({ xi: 1e-8, psi: 1e-8, lambdaWeightDecay: 3e-3, hyperPrior: 'l2', lambdaOptimizer: { className: 'Momentum' } });
    expect(trainConfigFromFlags({ penalty: 'none' })).toMatchObject({ sparsity: 0, finetuneEpochs: 0 });
    // HALO's preset for the default job fills in when not given, so that a bare `sparsify train` runs.
    expect(trainConfigFromFlags({}).options).toEqual({ xi: 1e-5, psi: 1e-5, lambdaWeightDecay: 3e-3 });
    expect(trainConfigFromFlags({ set: ['xi=1e-7'] }).options).toEqual({ xi: 1e-7, psi: 1e-5, lambdaWeightDecay: 3e-3 });
  });

  it('draws a progress bar on a terminal', async () => {
    const io = Object.assign(memoryIO(), { isTTY: true, columns: 140 });
    const out = join(tempDir(), 'run');
    expect(await main(['train', ...TINY, '--penalty', 'none', '--epochs', '1', '--out', out], io)).toBe(0);
    expect(io.stdout).toMatch(/\repoch 1\/1 [█░]+ +\d+% loss \d\.\d{4}  acc .*  sparsity .*  ETA /);
    expect(io.stdout).toMatch(/report: .*report.html/);
  });
});

describe('sweep worker environment', () => {
  it('gives each parallel run its share of wasm threads (1 to 8), unless SPARSIFY_WASM_THREADS is set', () => {
    expect(sweepJobEnv(2, {}, 2).SPARSIFY_WASM_THREADS).toBe('1');
    expect(sweepJobEnv(3, {}, 2).SPARSIFY_WASM_THREADS).toBe('1');
    expect(sweepJobEnv(2, {}, 8).SPARSIFY_WASM_THREADS).toBe('4');
    expect(sweepJobEnv(1, {}, 64).SPARSIFY_WASM_THREADS).toBe('8');
    expect(sweepJobEnv(2, { SPARSIFY_WASM_THREADS: 'auto', HOME: '/h' }, 2)).toEqual({ SPARSIFY_WASM_THREADS: 'auto', HOME: '/h' });
  });
});
