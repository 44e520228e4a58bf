import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IO } from '../src/index.js';

export function memoryIO(): IO & { stdout: string; stderr: string; isTTY: boolean } {
  const io = {
    stdout: '',
    stderr: '',
    isTTY: false,
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
  };
  return io;
}

const dirs: string[] = [];
export function tempDir(prefix = 'sparsify-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A small, fast training set: 64-feature synthetic vectors, 256 train / 128 test samples. */
export const TINY = ['--dataset', 'synthetic:64', '--limit', '256', '--model', 'lenet-300-100', '--backend', 'cpu', '--batch-size', '64'];

/** The built bin (`ensureBin` builds it when missing). */
export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bin.js');

/** Builds @sparsify/cli unless its bin exists (npm test builds everything first). */
export function ensureBin(): void {
  if (existsSync(BIN)) return;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  execFileSync('npx', ['nx', 'run', '@sparsify/cli:build', '--output-style=static'], {
    cwd: root,
    stdio: 'ignore',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
}

export interface BinRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  /** Without tfjs's "Hi, looks like you are running TensorFlow.js in Node.js" banner. */
  stderr: string;
}

/** Runs the built bin in `cwd`; `onLine(line, child)` sees each stdout line (to kill or signal it). */
export function runBin(args: string[], cwd: string, onLine?: (line: string, child: ChildProcess) => void): Promise<BinRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      pending += c.toString();
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        onLine?.(line, child);
      }
    });
    child.stderr.on('data', (c: Buffer) => void (stderr += c.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr: stderr.replace(/=+\nHi, looks like[\s\S]*?=+\n/, '') }));
  });
}
