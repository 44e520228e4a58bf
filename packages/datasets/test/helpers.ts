import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export async function useCpu(): Promise<void> {
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error('cpu backend failed to initialise');
  await tf.ready();
}

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix = 'sparsify-datasets-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** IDX bytes: magic 0x0000 08 rank, big-endian dims, data. */
export function idxBytes(dims: number[], data: Uint8Array, magic = 0x00000800 | dims.length): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** Images where pixel (n, i, j) = (n·7 + i·3 + j) mod 256, labels n mod 10. */
export function writeIdxSplit(
  dir: string,
  split: 'train' | 't10k',
  count: number,
  opts: { rows?: number; cols?: number; gzip?: boolean; dotted?: boolean } = {},
): { pixels: Uint8Array; labels: Uint8Array } {
  const rows = opts.rows ?? 4;
  const cols = opts.cols ?? 5;
  const pixels = new Uint8Array(count * rows * cols);
  for (let n = 0; n < count; n++)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) pixels[(n * rows + i) * cols + j] = (n * 7 + i * 3 + j) % 256;
  const labels = Uint8Array.from({ length: count }, (_, n) => n % 10);
  const sep = opts.dotted ? '.' : '-';
  const gz = (b: Uint8Array) => (opts.gzip ? gzipSync(b) : b);
  const ext = opts.gzip ? '.gz' : '';
  writeFileSync(join(dir, `${split}-images${sep}idx3-ubyte${ext}`), gz(idxBytes([count, rows, cols], pixels)));
  writeFileSync(join(dir, `${split}-labels${sep}idx1-ubyte${ext}`), gz(idxBytes([count], labels)));
  return { pixels, labels };
}

/** CIFAR records: label byte(s) then R, G, B planes; pixel (c, i, j) of record r = (r + 10c + 3i + j) mod 256. */
export function cifarBytes(labels: number[][]): Uint8Array {
  const lb = labels[0].length;
  const rec = lb + 3072;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((ls, r) => {
    ls.forEach((l, k) => (out[r * rec + k] = l));
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < 32; i++) for (let j = 0; j < 32; j++) out[r * rec + lb + c * 1024 + i * 32 + j] = (r + 10 * c + 3 * i + j) % 256;
  });
  return out;
}

export function tensorCount(): number {
  return tf.memory().numTensors;
}
