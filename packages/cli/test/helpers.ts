import { mkdtempSync, rmSync } from 'node:fs';
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
