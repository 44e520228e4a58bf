import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { cleanup, memoryIO, tempDir } from './helpers.js';

afterAll(cleanup);

/**
 * CIFAR-10's binary version, small: `data_batch_1..5.bin` and `test_batch.bin`, records of a label byte
 * then the R, G, B planes of a 32×32 image. Each class has its own mean brightness, so a few steps can
 * learn something.
 */
function writeCifar10(dir: string, perBatch: number): void {
  const record = 1 + 3 * 1024;
  const batch = (seed: number) => {
    const bytes = new Uint8Array(perBatch * record);
    for (let r = 0; r < perBatch; r++) {
      const label = (r + seed) % 10;
      bytes[r * record] = label;
      for (let p = 0; p < 3 * 1024; p++) bytes[r * record + 1 + p] = (label * 25 + ((p * 7 + r * 13 + seed) % 31)) % 256;
    }
    return bytes;
  };
  for (let i = 1; i <= 5; i++) writeFileSync(join(dir, `data_batch_${i}.bin`), batch(i));
  writeFileSync(join(dir, 'test_batch.bin'), batch(0));
}

describe('sparsify train on CIFAR-10 binary files', () => {
  it('--model resnet-20 --dataset cifar10:<dir> trains, prunes and reports end to end', async () => {
    const data = tempDir();
    writeCifar10(data, 4); // 20 training images, 4 test images
    const out = join(tempDir(), 'run');
    const io = memoryIO();
    const args = ['train', '--model', 'resnet-20', '--dataset', `cifar10:${data}`, '--penalty', 'magnitude', '--sparsity', '0.5'];
    const code = await main(
      [...args, '--epochs', '1', '--finetune-epochs', '1', '--batch-size', '10', '--backend', 'wasm', '--out', out, '--json'],
      io,
    );
    expect(io.stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ model: 'resnet-20', status: 'completed', backend: 'wasm', epochs: 1, finetuneEpochs: 1 });
    expect(report.dataset).toMatch(/cifar10/);
    // Magnitude pruning to 50% of the prunable weights, kept through fine-tuning.
    expect(report.sparsity.target).toBe(0.5);
    expect(report.sparsity.global).toBeGreaterThanOrEqual(0.5);
    expect(report.sparsity.layers.length).toBeGreaterThan(20);
    expect(Number.isFinite(report.accuracy.final)).toBe(true);
    expect(report.history.every((row: { loss?: number }) => row.loss === undefined || Number.isFinite(row.loss))).toBe(true);
  });
});
