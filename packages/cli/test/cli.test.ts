import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeOptions, listPenalties } from '@sparsify/core';
import { METHOD_PRESETS, buildRun, expandSweep, main, registerPlugins, trainConfigFromFlags } from '../src/index.js';
import { CLI_VERSION, joinNegativeValues, nearestOption } from '../src/main.js';
import { runEndLine, sweepJobEnv, workerCount } from '../src/sweep.js';
import { cleanup, memoryIO, tempDir, TINY } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});
afterAll(cleanup);

describe('bad flags and values', () => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /^sparsify: unknown option --bogus for sparsify train \(sparsify help lists the options of train\)\n$/],
    [['--epoch', '1'], /^sparsify: unknown option --epoch for sparsify train; did you mean --epochs\? /],
    [['--epochs', '-1'], /--epochs must be an integer ≥ 0; got -1/],
    [['--lr', '-1'], /--lr/],
    [['--epochs'], /^sparsify: --epochs needs a value, e.g. --epochs <value>\n$/],
    [['--json=yes'], /^sparsify: --json takes no value\n$/],
    [['--sparsity', '1.5'], /--sparsity must be a fraction in \[0, 1\).*got 1.5/],
    [['--sparsity', 'lots'], /--sparsity must be a number; got "lots"/],
    [['--penalty', 'nope'], /--penalty must be one of none, magnitude, gmp, .*halo.*; got "nope"/],
    [['--model', 'alexnet'], /--model must be one of lenet-300-100, .*; got "alexnet"/],
    [['--epochs=-1'], /--epochs must be an integer ≥ 0; got -1/],
    [['--epochs', '2.5'], /--epochs must be an integer; got "2.5"/],
    [['--set', 'xi'], /--set takes key=value .*; got "xi"/],
    [
      ['--penalty', 'halo', '--set', 'xi=1e-8', '--set', 'psi=1e-8', '--set', 'colour=3'],
      /--penalty halo: unknown option "colour"; valid: xi, psi/,
    ],
    [['--backend', 'gpu'], /--backend must be one of auto, cpu, wasm, tensorflow, tensorflow-gpu; got "gpu"/],
    [['--optimizer', 'rmsprop'], /--optimizer must be one of sgd, momentum, adam; got "rmsprop"/],
    [['--dataset', 'imagenet'], /unknown dataset "imagenet"; valid: mnist, fashion-mnist/],
    [['--dataset', 'cifar10:/nonexistent/dir'], /nonexistent/],
    [['--penalty', 'none', '--sparsity', '0.9'], /--penalty none trains dense .*--sparsity must be 0; got 0.9/],
    [['--penalty', 'magnitude', '--sparsity', '0'], /--penalty magnitude prunes to --sparsity, which must be > 0/],
    [['--penalty', 'hoyer-square', '--set', 'strength=-1', '--limit', '100'], /strength/],
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

  it('--version prints the versions of sparsify, TensorFlow.js and Node', async () => {
    const io = memoryIO();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.stdout).toBe(`sparsify ${CLI_VERSION} (TensorFlow.js ${tf.version.tfjs}, Node ${process.versions.node})\n`);
    expect(CLI_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('near misses get a suggestion; negative numbers are values', () => {
    expect(nearestOption('epoch', ['epochs', 'finetune-epochs', 'lr'])).toBe('epochs');
    expect(nearestOption('finetune', ['epochs', 'finetune-epochs', 'lr'])).toBe('finetune-epochs');
    expect(nearestOption('colour', ['epochs', 'lr'])).toBeUndefined();
    const flags = { lr: { type: 'string' as const }, json: { type: 'boolean' as const } };
    expect(joinNegativeValues(['--lr', '-1e-3', '--json', '-x'], flags)).toEqual(['--lr=-1e-3', '--json', '-x']);
    expect(joinNegativeValues(['--lr', '-.5'], flags)).toEqual(['--lr=-.5']);
  });

  it('--resume takes no other training flags', async () => {
    const io = memoryIO();
    expect(await main(['train', '--resume', 'x', '--epochs', '3'], io)).toBe(2);
    expect(io.stderr).toMatch(/--resume continues a run .* not --epochs/);
  });

  it('an unknown command, and a sweep without a config', async () => {
    let io = memoryIO();
    expect(await main(['fly'], io)).toBe(2);
    expect(io.stderr).toMatch(/unknown command "fly" \(valid: train, sweep, worker, report, export, penalties, version, help\)/);
    io = memoryIO();
    expect(await main(['trian'], io)).toBe(2);
    expect(io.stderr).toMatch(/unknown command "trian"; did you mean train\?/);
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
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: '@acme/sparsify-l0', version: '1.0.0', type: 'module', main: 'index.js', keywords: ['sparsify-plugin'] }),
    );
    writeFileSync(
      join(pkg, 'index.js'),
      `export const plugin = { package: '@acme/sparsify-l0', penalties: [{ name: 'acme-l0', package: '@acme/sparsify-l0', description: 'test plugin', schema: { strength: { type: 'number', description: 's', parse: (v) => v } }, create: () => { throw new Error('not in this test'); } }] };\n`,
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
    const c = trainConfigFromFlags({
      penalty: 'halo',
      set: ['xi=1e-8', 'psi=1e-8', 'hyperPrior=l2', 'lambdaOptimizer={"className":"Momentum"}'],
    });
    expect(c).toMatchObject({
      model: 'lenet-300-100',
      dataset: 'mnist',
      method: 'halo',
      sparsity: 0.95,
      epochs: 10,
      finetuneEpochs: 2,
      seed: 0,
      backend: 'auto',
    });
    expect(c.options).toEqual({
      xi: 1e-8,
      psi: 1e-8,
      lambdaWeightDecay: 3e-3,
      hyperPrior: 'l2',
      lambdaOptimizer: { className: 'Momentum' },
    });
    expect(trainConfigFromFlags({ penalty: 'none' })).toMatchObject({ sparsity: 0, finetuneEpochs: 0 });
    // HALO's preset for the default job fills in when not given, so that a bare `sparsify train` runs.
    expect(trainConfigFromFlags({}).options).toEqual({ xi: 3e-6, psi: 3e-6, lambdaWeightDecay: 3e-3 });
    expect(trainConfigFromFlags({ set: ['xi=1e-7'] }).options).toEqual({ xi: 1e-7, psi: 3e-6, lambdaWeightDecay: 3e-3 });
  });

  it('draws a progress bar on a terminal', async () => {
    const io = Object.assign(memoryIO(), { isTTY: true, columns: 140 });
    const out = join(tempDir(), 'run');
    expect(await main(['train', ...TINY, '--penalty', 'none', '--epochs', '1', '--out', out], io)).toBe(0);
    expect(io.stdout).toMatch(/\repoch 1\/1 [█░]+ +\d+% loss \d\.\d{4} {2}acc .* {2}sparsity .* {2}ETA /);
    expect(io.stdout).toMatch(/report: .*report.html/);
  });
});

describe('defaults that work with no flags', () => {
  it('every built-in penalty builds a run from its defaults alone (docs/defaults.md)', async () => {
    await registerPlugins();
    const builtIn = listPenalties().filter((d) => d.package.startsWith('@sparsify/'));
    expect(builtIn.length).toBeGreaterThanOrEqual(10);
    for (const def of builtIn) {
      const config = trainConfigFromFlags({ penalty: def.name, dataset: 'synthetic:64', limit: '64', backend: 'cpu' });
      expect(config.options, def.name).toEqual(METHOD_PRESETS[def.name] ?? {});
      const required = Object.entries(describeOptions(def.schema))
        .filter(([, o]) => o.required && o.default === undefined)
        .map(([k]) => k);
      const missing = required.filter((k) => !(k in config.options) && !(def.name === 'hypersparse' && k === 'sparsity'));
      expect(missing, `${def.name} needs ${missing.join(', ')}`).toEqual([]);
      buildRun(config).dispose();
    }
  });

  it('HyperSparse plans at most 37 epochs of LeNet-300-100 (ART capped at 25), not 10 + 200', async () => {
    await registerPlugins();
    const setup = buildRun(trainConfigFromFlags({ penalty: 'hypersparse', dataset: 'synthetic:64', limit: '64', backend: 'cpu' }));
    const { warmupEpochs, maxEpochs } = setup.options.art!.controller;
    expect(warmupEpochs + maxEpochs + setup.options.finetune!.epochs).toBe(37);
    setup.dispose();
  });

  it('prunes with the one default (global, quantile) unless the method states its own (docs/defaults.md)', async () => {
    await registerPlugins();
    const pruningOf = (flags: Record<string, string>) => {
      const setup = buildRun(trainConfigFromFlags({ dataset: 'synthetic:64', limit: '64', backend: 'cpu', ...flags }));
      const { pruning, options } = setup;
      setup.dispose();
      return { pruning, prune: options.prune };
    };
    // npm start's method: HALO states quantileNonZero; the CLI no longer names it
    expect(pruningOf({ penalty: 'halo' }).prune).toMatchObject({ scope: 'global', rule: 'quantileNonZero' });
    expect(pruningOf({ penalty: 'lasso' }).prune).toMatchObject({ scope: 'global', rule: 'quantile' });
    expect(pruningOf({ penalty: 'sws' }).prune).toMatchObject({ scope: 'global', rule: 'quantile' });
    expect(pruningOf({ penalty: 'magnitude' }).pruning).toMatchObject({ kind: 'oneShot', scope: 'global', rule: 'quantile' });
    expect(pruningOf({ penalty: 'halo', 'prune-rule': 'exactCount' }).prune).toMatchObject({ rule: 'exactCount' });
    expect(pruningOf({ penalty: 'gmp' }).pruning).toMatchObject({ kind: 'gmp', scope: 'layer', rule: 'exactCount' });
  });

  it('sparsify penalties shows the defaults, and sweeps use them too', async () => {
    const io = memoryIO();
    expect(await main(['penalties'], io)).toBe(0);
    expect(io.stdout).toMatch(/sparsify train defaults: strength=3e-5 \(docs\/defaults.md\)/);
    const [job] = expandSweep({ dataset: 'synthetic:64', methods: ['lasso'], sparsities: [0.9] }, tempDir());
    expect(job.config.options).toEqual(METHOD_PRESETS.lasso);
  });
});

describe('sweep progress lines', () => {
  it('say done only for a completed run', () => {
    const ev = { accuracy: { final: 0.955 }, sparsity: 0.95 };
    expect(runEndLine('a', { ...ev, status: 'completed' })).toBe('[a] done: final 95.50%, sparsity 95.00%');
    expect(runEndLine('a', { ...ev, sparsity: 0, status: 'interrupted' })).toBe('[a] stopped (interrupted): final 95.50%, sparsity 0.00%');
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

describe('wrong without a word, no more', () => {
  it('a zero-image dataset exits 2 and leaves nothing behind, not a run.json that blocks --out', async () => {
    const data = tempDir();
    const idx = (dims: number[], bytes: number) => {
      const header = Buffer.alloc(4 + 4 * dims.length);
      header.writeUInt32BE(0x800 | dims.length, 0);
      dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
      return Buffer.concat([header, Buffer.alloc(bytes)]);
    };
    writeFileSync(join(data, 'train-images-idx3-ubyte'), idx([0, 4, 4], 0));
    writeFileSync(join(data, 'train-labels-idx1-ubyte'), idx([0], 0));
    writeFileSync(join(data, 't10k-images-idx3-ubyte'), idx([2, 4, 4], 32));
    writeFileSync(join(data, 't10k-labels-idx1-ubyte'), idx([2], 2));
    const parent = tempDir();
    const io = memoryIO();
    expect(
      await main(['train', '--dataset', `idx:${data}`, '--backend', 'cpu', '--penalty', 'none', '--out', join(parent, 'run')], io),
    ).toBe(2);
    expect(io.stderr).toMatch(/train-images-idx3-ubyte: header: the file holds no images/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('divergence in the first epoch says there is no checkpoint, and how to start over', async () => {
    const out = join(tempDir(), 'run');
    const io = memoryIO();
    expect(await main(['train', ...TINY, '--penalty', 'none', '--epochs', '1', '--lr', '1e30', '--out', out], io)).toBe(1);
    expect(io.stdout).toMatch(/diverged before the first epoch ended, so there is no checkpoint to go back to/);
    expect(io.stdout).toMatch(new RegExp(`sparsify train --config ${out}/run.json --lr 1e\\+29 --out <new dir>`));
    expect(io.stdout).not.toMatch(/--resume/);
  });

  it('names run.json, --config files and sweep configs as files, not as flags', async () => {
    const dir = tempDir();
    const run = join(dir, 'run');
    mkdirSync(run);
    const config = {
      version: 1,
      model: 'lenet-300-100',
      dataset: 'synthetic:64',
      method: 'none',
      options: {},
      sparsity: 0,
      epochs: -1,
      finetuneEpochs: 0,
      batchSize: 64,
      optimizer: 'sgd',
      lr: 0.1,
      momentum: 0,
      weightDecay: 0,
      seed: 0,
      backend: 'cpu',
    };
    writeFileSync(join(run, 'run.json'), JSON.stringify({ config, inputShape: [64], numClasses: 10, createdAt: '' }));
    let io = memoryIO();
    expect(await main(['train', '--resume', run], io)).toBe(2);
    expect(io.stderr).toMatch(new RegExp(`${run}/run.json config: epochs must be an integer ≥ 0; got -1`));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ ...config, epochs: 1, lr: 'fast' }));
    io = memoryIO();
    expect(await main(['train', '--config', join(dir, 'c.json'), '--out', join(dir, 'x')], io)).toBe(2);
    expect(io.stderr).toMatch(/c.json: lr must be a number > 0; got "fast"/);
    writeFileSync(
      join(dir, 'grid.json'),
      JSON.stringify({ dataset: 'synthetic:64', methods: [{ name: 'magnitude', momentum: 2 }], sparsities: [0.8] }),
    );
    io = memoryIO();
    expect(await main(['sweep', join(dir, 'grid.json')], io)).toBe(2);
    expect(io.stderr).toMatch(/sweep config methods\[0\] \(magnitude, sparsity 0.8, seed 0\): momentum must be in \[0, 1\); got 2/);
  });

  it('refuses a --sparsity that keeps no weight', async () => {
    const out = join(tempDir(), 'run');
    const io = memoryIO();
    expect(await main(['train', ...TINY, '--penalty', 'magnitude', '--sparsity', '0.999999', '--out', out], io)).toBe(2);
    expect(io.stderr).toMatch(
      /--sparsity 0.999999 keeps none of the 50,200 prunable weights of lenet-300-100; it must be below 1 − 1\/50200/,
    );
  });

  it('runs no more sweep workers than cores or runs, and says so', () => {
    expect(workerCount(1000, 12, 2)).toEqual({ workers: 2, note: 'jobs 1000: running 2 at a time, as this machine has 2 cores' });
    expect(workerCount(8, 3, 16)).toEqual({ workers: 3, note: 'jobs 8: running 3 at a time, as the grid has 3 runs' });
    expect(workerCount(2, 6, 2)).toEqual({ workers: 2 });
  });

  it('--out under /proc is an error at once, not an endless mkdir', async () => {
    const io = memoryIO();
    const t0 = Date.now();
    expect(await main(['train', ...TINY, '--penalty', 'none', '--epochs', '1', '--out', '/proc/sparsify-run/x'], io)).toBe(2);
    expect(io.stderr).toMatch(/cannot create directory \/proc\/sparsify-run\/x: \/proc\/sparsify-run could not be made \(ENOENT\)/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('prints failures without a stack trace (SPARSIFY_DEBUG=1 shows it)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    const io = memoryIO();
    // A run directory under a file: neither a usage error nor a crash with a trace.
    expect(await main(['train', ...TINY, '--penalty', 'none', '--epochs', '1', '--out', join(dir, 'file', 'run')], io)).toBe(2);
    expect(io.stderr).toMatch(/cannot create directory .*file\/run: .*file exists and is not a directory/);
    expect(io.stderr).not.toMatch(/\n\s+at /);
  });
});
