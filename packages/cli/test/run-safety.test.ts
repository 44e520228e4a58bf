import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRunCheckpoint } from '@sparsify/train/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ensureBin, runBin, tempDir } from './helpers.js';

const run = runBin;

/** Long enough (4 epochs of 64 steps) that a signal lands inside the run; small enough to take a few seconds. */
const JOB = [
  '--dataset',
  'synthetic:64',
  '--limit',
  '1024',
  '--model',
  'lenet-300-100',
  '--backend',
  'cpu',
  '--batch-size',
  '16',
  '--penalty',
  'magnitude',
  '--sparsity',
  '0.8',
  '--epochs',
  '3',
  '--finetune-epochs',
  '1',
  '--lr',
  '0.05',
];

const finalWeights = (dir: string) => {
  const c = readRunCheckpoint(dir)!.value;
  expect(c.phase).toBe('done');
  return c.model.map((m) => Array.from(m));
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let baseline: number[][];
let baseDir: string;
beforeAll(async () => {
  ensureBin();
  baseDir = tempDir();
  const r = await run(['train', ...JOB, '--json', '--out', 'base'], baseDir);
  expect(r.code).toBe(0);
  baseline = finalWeights(join(baseDir, 'base'));
}, 600_000);
afterAll(cleanup);

describe('sparsify export never destroys a file', () => {
  it('refuses --out naming an existing file or a directory with files in it, and leaves them as they were', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'notes.txt'), 'keep me');
    mkdirSync(join(cwd, 'full'));
    writeFileSync(join(cwd, 'full', 'data.csv'), 'precious');
    const run1 = join(baseDir, 'base');
    for (const [out, message] of [
      ['notes.txt', /--out notes.txt is a file, not a directory; it was left as it is/],
      ['full', /--out full is not empty; choose a new directory/],
    ] as const) {
      for (const format of ['dense', 'sparse']) {
        const r = await run(['export', run1, '--out', out, '--format', format], cwd);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
      }
    }
    expect(readFileSync(join(cwd, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(readdirSync(join(cwd, 'full'))).toEqual(['data.csv']);
  });
});

describe('two runs into one --out', () => {
  it('one takes the directory, the other is refused before it writes anything', async () => {
    const cwd = tempDir();
    const [a, b] = await Promise.all([
      run(['train', ...JOB, '--seed', '1', '--out', 'same'], cwd),
      run(['train', ...JOB, '--seed', '2', '--out', 'same'], cwd),
    ]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 2]);
    const loser = a.code === 2 ? a : b;
    expect(loser.stderr).toMatch(
      /run directory same is in use by process \d+ on .*; wait for it to finish, or choose another directory|--out same already holds a run/,
    );
    const seed = a.code === 0 ? 1 : 2;
    const dir = join(cwd, 'same');
    expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).config.seed).toBe(seed);
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).seed).toBe(seed);
    expect(readRunCheckpoint(dir)!.value.seed).toBe(seed);
    expect(existsSync(join(dir, '.sparsify.lock'))).toBe(false);
  });
});

describe('SIGINT and SIGTERM', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} stops at the next step with a checkpoint, marks the report interrupted, and resumes to the same model`, async () => {
      const cwd = tempDir();
      let sent = false;
      const first = await run(['train', ...JOB, '--json', '--out', 'r'], cwd, (line, child) => {
        if (!sent && line.includes('"event":"epoch"')) {
          sent = true;
          setTimeout(() => child.kill(signal), 40);
        }
      });
      expect(first.code).toBe(code);
      expect(first.stderr).toMatch(new RegExp(`${signal}: stopping at the next step and writing a checkpoint`));
      const report = JSON.parse(readFileSync(join(cwd, 'r', 'report.json'), 'utf8'));
      expect(report.status).toBe('interrupted');
      expect(existsSync(join(cwd, 'r', '.sparsify.lock'))).toBe(false);
      const second = await run(['train', '--resume', 'r', '--json'], cwd);
      expect(second.code).toBe(0);
      expect(JSON.parse(readFileSync(join(cwd, 'r', 'report.json'), 'utf8')).status).toBe('completed');
      expect(finalWeights(join(cwd, 'r'))).toEqual(baseline);
    });
  }

  it('reaches the workers of a sweep: none is left training, and the sweep resumes them', async () => {
    const cwd = tempDir();
    const grid = {
      model: 'lenet-300-100',
      dataset: 'synthetic:64',
      limit: 1024,
      backend: 'cpu',
      batchSize: 16,
      lr: 0.05,
      epochs: 3,
      finetuneEpochs: 0,
      methods: ['magnitude', 'gmp'],
      sparsities: [0.8],
      jobs: 2,
    };
    writeFileSync(join(cwd, 'grid.json'), JSON.stringify(grid));
    const pids: number[] = [];
    let sent = false;
    const first = await run(['sweep', 'grid.json', '--json'], cwd, (line, child) => {
      const event = JSON.parse(line);
      if (event.event === 'worker') pids.push(event.pid);
      if (!sent && event.event === 'epoch') {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    expect(first.code).toBe(143);
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
    expect(first.stdout).toMatch(/"event":"interrupted"/);
    const again = await run(['sweep', 'grid.json'], cwd);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/resuming/);
    expect(JSON.parse(readFileSync(join(cwd, 'grid', 'sweep.json'), 'utf8')).rows).toHaveLength(2);
  });
});

describe('kill, damage one file of the run directory, resume', () => {
  it('each damaged file ends in the same final model or a clear error naming it, never in a different model', async () => {
    const cwd = tempDir();
    let epochs = 0;
    const killed = await run(['train', ...JOB, '--json', '--out', 'k'], cwd, (line, child) => {
      if (line.includes('"event":"epoch"') && ++epochs === 2) setTimeout(() => child.kill('SIGKILL'), 40);
    });
    expect(killed.signal).toBe('SIGKILL');
    const files = readdirSync(join(cwd, 'k')).sort();
    expect(files).toEqual(['.sparsify.lock', 'checkpoint.bin', 'checkpoint.prev.bin', 'run.json']);
    for (const file of files) {
      const copy = join(cwd, `k-${file}`);
      cpSync(join(cwd, 'k'), copy, { recursive: true, preserveTimestamps: true });
      const bytes = readFileSync(join(copy, file));
      for (let i = Math.floor(bytes.length / 3); i < bytes.length; i += Math.max(1, Math.floor(bytes.length / 7))) bytes[i] ^= 0x5a;
      writeFileSync(join(copy, file), bytes);
      const r = await run(['train', '--resume', `k-${file}`, '--json'], cwd);
      if (r.code === 0) {
        expect(finalWeights(copy)).toEqual(baseline);
        if (file === 'checkpoint.bin')
          expect(r.stdout).toMatch(/"event":"warning","message":"checkpoint corrupt: .*Resuming from the previous checkpoint/);
      } else {
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(file);
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      }
      // The damaged checkpoint is recovered from; the damaged config is named.
      if (file.startsWith('checkpoint')) expect(r.code).toBe(0);
      if (file === 'run.json') expect(r.stderr).toMatch(/k-run.json\/run.json (is not valid JSON|config)/);
    }
  });
});
