import type { BatchEndInfo, EpochMetrics } from '@sparsify/train';
import { describe, expect, it } from 'vitest';
import { Progress } from '../src/progress.js';
import { memoryIO } from './helpers.js';

const batch = (epoch: number, phase: 'train' | 'finetune', b = 5, accuracy = 0.5): BatchEndInfo => ({
  phase,
  epoch,
  batch: b,
  batches: 10,
  step: 1,
  loss: 0.123456,
  taskLoss: 0.1,
  penaltyLoss: 0.02,
  accuracy,
});

const epochEnd = (epoch: number, phaseEpoch: number, phase: 'train' | 'finetune', sparsity: number): EpochMetrics =>
  ({
    phase,
    epoch,
    phaseEpoch,
    step: 10,
    loss: 0.1,
    taskLoss: 0.1,
    penaltyLoss: 0,
    trainAccuracy: 0.9,
    accuracy: 0.88,
    sparsity,
    seconds: 2,
    samplesPerSecond: 1000,
    strengths: {},
  }) as unknown as EpochMetrics;

/** A run of 2 training and 1 fine-tuning epochs, pruned to 95% in between, as the train command drives it. */
function run(columns: number): { progress: Progress; lines: string[] } {
  const io = Object.assign(memoryIO(), { columns });
  const progress = new Progress(io, 'tty');
  const lines: string[] = [];
  progress.plan(3);
  progress.phaseStart({ phase: 'train', epochs: 2, startEpoch: 0 });
  progress.batch(batch(0, 'train'));
  lines.push(progress.barLine(batch(0, 'train'), columns));
  progress.epoch(epochEnd(0, 0, 'train', 0.4));
  progress.batch(batch(1, 'train', 5, 0.75));
  lines.push(progress.barLine(batch(1, 'train', 5, 0.75), columns));
  progress.epoch(epochEnd(1, 1, 'train', 0.5));
  progress.prune({ method: 'magnitude', target: 0.95, achieved: 0.95, accuracyBefore: 0.9, accuracyAfter: 0.8 } as never);
  progress.phaseStart({ phase: 'finetune', epochs: 1, startEpoch: 0 });
  progress.batch(batch(2, 'finetune'));
  lines.push(progress.barLine(batch(2, 'finetune'), columns));
  return { progress, lines };
}

describe('the progress bar', () => {
  for (const columns of [80, 200]) {
    it(`fits ${columns} columns with its ETA, and counts epochs per phase`, () => {
      const { lines } = run(columns);
      for (const line of lines) {
        expect(line.length).toBeLessThanOrEqual(columns - 1);
        expect(line).toMatch(/ETA (\d+:\d\d|\?)$/);
        expect(line).toMatch(/[█░]{5,}/);
      }
      expect(lines[0]).toMatch(/^epoch 1\/2 /);
      expect(lines[1]).toMatch(/^epoch 2\/2 /);
      expect(lines[2]).toMatch(/^fine-tune 1\/1 /);
    });
  }

  it('shows this epoch’s running accuracy and the sparsity last measured (after pruning: the pruned one)', () => {
    const { lines } = run(200);
    expect(lines[0]).toMatch(/acc 50\.0% {2}sparsity — /);
    expect(lines[1]).toMatch(/acc 75\.0% {2}sparsity 40\.0% /);
    expect(lines[2]).toMatch(/acc 50\.0% {2}sparsity 95\.0% /);
  });

  it('estimates the ETA within the first epoch from its pace, once a tenth of it has run', () => {
    const io = Object.assign(memoryIO(), { columns: 200 });
    const progress = new Progress(io, 'tty');
    progress.plan(3);
    progress.phaseStart({ phase: 'train', epochs: 3, startEpoch: 0 });
    const t0 = Date.now();
    progress.batch(batch(0, 'train', 1));
    expect(progress.barLine(batch(0, 'train', 1), 200, t0 + 500)).toMatch(/ETA \?$/);
    // 4 of 10 batches in 4 s: 10 s an epoch, 3 epochs, 4 s of them done → 26 s left.
    expect(progress.barLine(batch(0, 'train', 5), 200, t0 + 4000)).toMatch(/ETA 0:2[5-7]$/);
  });

  it('drops the bar, not the ETA, where even five cells do not fit', () => {
    const { lines } = run(60);
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(59);
      expect(line).toMatch(/ETA (\d+:\d\d|\?)$/);
      expect(line).not.toMatch(/[█░]/);
    }
  });

  it('epoch lines count within the phase', () => {
    const io = memoryIO();
    const progress = new Progress(io, 'plain');
    progress.plan(3);
    progress.phaseStart({ phase: 'train', epochs: 2, startEpoch: 0 });
    progress.epoch(epochEnd(0, 0, 'train', 0));
    progress.phaseStart({ phase: 'finetune', epochs: 1, startEpoch: 0 });
    progress.epoch(epochEnd(2, 0, 'finetune', 0.95));
    expect(io.stdout).toMatch(/^epoch 1\/2 {2}loss/m);
    expect(io.stdout).toMatch(/^fine-tune 1\/1 {2}loss/m);
  });

  it('epoch lines fit a narrow terminal, tighter rather than wrapped', () => {
    const io = Object.assign(memoryIO(), { columns: 80 });
    const progress = new Progress(io, 'tty');
    progress.plan(3);
    progress.phaseStart({ phase: 'finetune', epochs: 1, startEpoch: 0 });
    progress.epoch(epochEnd(2, 0, 'finetune', 0.95));
    const line = io.stdout.split('\n').find((l) => l.startsWith('fine-tune 1/1'))!;
    expect(line).toBe('fine-tune 1/1 loss 0.1000 train 90.00% eval 88.00% sparsity 95.00% 1000/s 2.0s');
    expect(line.length).toBeLessThan(80);
  });

  it('summary and header lines: whole where they fit, split or wrapped at spaces on a narrow terminal, whole off a TTY', () => {
    const text =
      'method halo, target sparsity 95.0%, seed 0, run directory runs/x; options xi=3e-6 psi=3e-6 lambdaInit=1 lambdaWeightDecay=0.003';
    const at = (columns: number, mode: 'tty' | 'plain' = 'tty') => {
      const io = Object.assign(memoryIO(), { columns });
      const progress = new Progress(io, mode);
      progress.wrappedLine(text);
      progress.fittedLine('done: a long summary; with its figures', ['done: a long summary', '  with its figures']);
      return io.stdout.trimEnd().split('\n');
    };
    expect(at(200)).toEqual([text, 'done: a long summary; with its figures']);
    expect(at(40, 'plain')).toEqual([text, 'done: a long summary; with its figures']);
    const narrow = at(30);
    for (const line of narrow) expect(line.length, line).toBeLessThan(30);
    expect(narrow.slice(-2)).toEqual(['done: a long summary', '  with its figures']);
    expect(narrow.slice(0, -2).join(' ').replace(/ {3}/g, ' ')).toBe(text);
    expect(narrow.slice(1, -2).every((l) => l.startsWith('  '))).toBe(true);
  });
});
