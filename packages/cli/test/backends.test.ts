import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackend } from '../../../tools/testing/matrix.js';
import { cleanup, tempDir } from './helpers.js';

// One short `sparsify train` per penalty family on the matrix backend, as a user runs it: the built bin
// in its own process, so what reaches the terminal (stdout's first line, an empty stderr) is checked too.
// stderr goes to a file, as from a shell (a Node parent's pipes are sockets, which the native library's
// load noise cannot be filtered from: see @sparsify/backend's README).

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'packages', 'cli', 'dist', 'bin.js');
const backend = testBackend();

beforeAll(() => {
  if (!existsSync(bin)) {
    execFileSync('npx', ['nx', 'run', '@sparsify/cli:build', '--output-style=static'], {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, NX_DAEMON: 'false' },
    });
  }
}, 600_000);
afterAll(cleanup);

const FAMILIES: [string, string[]][] = [
  ['none', []],
  ['lasso', ['--set', 'strength=1e-4']],
  ['hoyer-square', ['--set', 'strength=2e-4']],
  ['group-hoyer-square', ['--set', 'strength=2e-4']],
  ['halo', ['--set', 'xi=1e-5', '--set', 'psi=1e-5']],
  ['hypersparse', ['--set', 'maxEpochs=1']],
];

/** The selection line: tensorflow names the library and devices it loaded. */
const FIRST_LINE: Record<string, RegExp> = {
  cpu: /^backend cpu: explicit choice$/,
  wasm: /^backend wasm( \(\d+ threads?[^)]*\))?: explicit choice$/,
  tensorflow: /^backend tensorflow \(libtensorflow \d+\.\d+\.\d+; CPU\): explicit choice$/,
};

describe(`sparsify train on ${backend}, one run per penalty family`, () => {
  for (const [penalty, options] of FAMILIES) {
    it(`${penalty}: exits 0, says which backend it got, prints nothing on stderr`, () => {
      const cwd = tempDir();
      const sparsity = penalty === 'none' ? '0' : '0.8';
      const args = [
        'train',
        '--dataset',
        'synthetic:64',
        '--limit',
        '256',
        '--batch-size',
        '64',
        '--epochs',
        '1',
        '--finetune-epochs',
        penalty === 'none' ? '0' : '1',
      ];
      args.push('--penalty', penalty, ...options, '--sparsity', sparsity, '--backend', backend, '--out', 'run');
      const errFile = join(cwd, 'stderr.txt');
      const errFd = openSync(errFile, 'w');
      const r = spawnSync(process.execPath, [bin, ...args], {
        cwd,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', errFd],
        env: { ...process.env, SPARSIFY_WASM_THREADS: '1' },
      });
      closeSync(errFd);
      expect(readFileSync(errFile, 'utf8')).toBe('');
      expect(r.status).toBe(0);
      const first = r.stdout.split('\n')[0];
      expect(first).toMatch(FIRST_LINE[backend]);
      const report = JSON.parse(readFileSync(join(cwd, 'run', 'report.json'), 'utf8'));
      expect(report.backend).toBe(backend);
      expect(report.runtime.reason).toBe(first);
      if (backend === 'tensorflow')
        expect(report.runtime).toMatchObject({ libtensorflow: expect.stringMatching(/^\d+\.\d+\.\d+$/), devices: ['CPU'] });
      if (penalty !== 'none') expect(report.sparsity.global).toBeGreaterThanOrEqual(0.8);
      for (const epoch of report.history) expect(Number.isFinite(epoch.loss)).toBe(true);
    });
  }
});
