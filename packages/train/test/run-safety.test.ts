import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FILE,
  CORRUPT_CHECKPOINT_FILE,
  CheckpointError,
  PREVIOUS_CHECKPOINT_FILE,
  RUN_LOCK_FILE,
  RunDirectoryError,
  encodeCheckpoint,
  lockRunDirectory,
  readCheckpoint,
  readRunCheckpoint,
  resume,
  train,
  writeFileAtomic,
  type TrainOptions,
} from '../src/index.node.js';
import { TestPruner, TestScaled, kernelParams, removeTempDirs, tempDir, tinyData, tinyModel, weightsOf } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});
afterEach(removeTempDirs);

/** One run of a small job with every kind of state: momentum, a penalty variable, a pruning schedule, fine-tuning. */
async function job(dir: string | undefined, extra: Partial<TrainOptions> = {}, mode: 'train' | 'resume' = 'train') {
  const model = tinyModel(5);
  const data = tinyData(160, 2);
  const penalty = new TestScaled({ strength: 1e-3 });
  const pruner = new TestPruner(kernelParams(model), 0.7, 14);
  const options: TrainOptions = {
    model,
    data,
    epochs: 3,
    batchSize: 32,
    seed: 3,
    penalties: [penalty],
    optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } },
    pruning: pruner,
    finetune: { epochs: 2, optimizer: { className: 'Adam', config: { learningRate: 0.01 } } },
    ...(dir ? { runDir: dir } : {}),
    ...extra,
  };
  try {
    const result = mode === 'resume' ? await resume(dir!, options) : await train(options);
    return { result, weights: weightsOf(model) };
  } finally {
    penalty.dispose();
    pruner.dispose();
    model.dispose();
    data.dispose();
  }
}

describe('the run directory lock', () => {
  it('refuses a second run while the first holds the directory, and frees it at the end', async () => {
    const dir = tempDir();
    const lock = lockRunDirectory(dir);
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    const error = await job(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunDirectoryError);
    expect((error as Error).message).toMatch(new RegExp(`is in use by process ${process.pid} on .* since `));
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(false);
    // The holder passes its lock on.
    expect((await job(dir, { lock, epochs: 1, finetune: undefined })).result.status).toBe('completed');
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(true);
    lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
  });

  it('takes over the lock of a process that died, but not one of another host', async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(
      join(dir, RUN_LOCK_FILE),
      JSON.stringify({ pid: dead, host: (await import('node:os')).hostname(), startedAt: '2020-01-01T00:00:00.000Z' }),
    );
    expect((await job(dir, { epochs: 1, finetune: undefined })).result.status).toBe('completed');
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);

    const other = tempDir();
    writeFileSync(join(other, RUN_LOCK_FILE), JSON.stringify({ pid: dead, host: 'elsewhere', startedAt: '2020-01-01T00:00:00.000Z' }));
    await expect(job(other)).rejects.toThrow(/in use by process \d+ on elsewhere .* remove .*\.sparsify\.lock/);

    // A lock file left empty by a crash while it was written is taken over once it is old.
    const empty = tempDir();
    writeFileSync(join(empty, RUN_LOCK_FILE), '');
    await expect(job(empty)).rejects.toThrow(/its lock file is being written/);
    utimesSync(join(empty, RUN_LOCK_FILE), new Date(0), new Date(0));
    expect((await job(empty, { epochs: 1, finetune: undefined })).result.status).toBe('completed');
  });
});

describe('checksummed checkpoints, the last two kept', () => {
  it('resumes from the previous checkpoint when the last is damaged, to the same weights', async () => {
    const straight = await job(undefined);
    const dir = tempDir();
    expect((await job(dir, { stopAfterEpochs: 2 })).result.status).toBe('interrupted');
    expect((readCheckpoint(dir) as { epoch: number }).epoch).toBe(2);
    const last = join(dir, CHECKPOINT_FILE);
    const bytes = readFileSync(last);
    bytes[Math.floor(bytes.length / 2)] ^= 0x10; // one flipped bit in a weight blob
    writeFileSync(last, bytes);
    const warnings: string[] = [];
    const resumed = await job(dir, { callbacks: { onWarning: (m) => void warnings.push(m) } }, 'resume');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^checkpoint corrupt: .*checkpoint\.bin: \(checksum\) does not match.*Resuming from the previous checkpoint .*checkpoint\.prev\.bin \(epoch 1\); the damaged file is kept as .*checkpoint\.corrupt\.bin/,
    );
    expect(resumed.result.resumedFrom).toBe(1);
    resumed.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(straight.weights[i])));
    expect(existsSync(join(dir, CORRUPT_CHECKPOINT_FILE))).toBe(true);
  });

  it('refuses checkpoints whose fields are wrong even with a valid checksum, naming file and field', async () => {
    const dir = tempDir();
    await job(dir, { stopAfterEpochs: 2 });
    unlinkSync(join(dir, PREVIOUS_CHECKPOINT_FILE));
    const good = readCheckpoint(dir) as Record<string, unknown>;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, phase: 'bogus' }, /checkpoint\.bin: phase must be one of train, finetune, done; got "bogus"/],
      [
        {
          ...good,
          model: (good.model as Float32Array[]).map((m, i) => (i === 0 ? Float32Array.from(m, (v, j) => (j === 3 ? NaN : v)) : m)),
        },
        /model\[0\] has the value NaN at 3/,
      ],
      [{ ...good, epoch: 7 }, /history must be 7 epochs/],
      [{ ...good, phaseEpoch: 9, epoch: 9, history: Array(9).fill({}) }, /phaseEpoch is 9, past the 3 epochs of phase train/],
      [{ ...good, masks: [new Uint8Array([0, 2])] }, /masks\[0\] has the value 2 at 1/],
    ];
    for (const [value, message] of cases) {
      writeFileAtomic(join(dir, CHECKPOINT_FILE), encodeCheckpoint(value));
      const error = await job(dir, {}, 'resume').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as CheckpointError).file).toBe(join(dir, CHECKPOINT_FILE));
      expect((error as Error).message).toMatch(message);
    }
    // Both checkpoints unusable: the error names both.
    writeFileSync(join(dir, PREVIOUS_CHECKPOINT_FILE), 'junk');
    expect(() => readRunCheckpoint(dir)).toThrow(
      /and the previous checkpoint cannot stand in: .*checkpoint\.prev\.bin: \(format\) is not a sparsify checkpoint/,
    );
  });
});

describe('an abort signal stops at the next step boundary', () => {
  it('writes a checkpoint of that step, from which resume ends exactly as an uninterrupted run', async () => {
    const straight = await job(undefined);
    // One interruption in the main phase, one in fine-tuning (after pruning), each mid-epoch.
    for (const [phase, epoch, batch] of [
      ['train', 1, 2],
      ['finetune', 3, 4],
    ] as const) {
      const dir = tempDir();
      const controller = new AbortController();
      const first = await job(dir, {
        signal: controller.signal,
        callbacks: { onBatchEnd: (b) => void (b.phase === phase && b.epoch === epoch && b.batch === batch && controller.abort()) },
      });
      expect(first.result.status).toBe('interrupted');
      const saved = readRunCheckpoint(dir)!.value;
      expect(saved).toMatchObject({ phase, epoch, progress: { batch } });
      const second = await job(dir, {}, 'resume');
      expect(second.result.status).toBe('completed');
      expect(second.result.resumedFrom).toBe(epoch);
      expect(second.result.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3, 4]);
      second.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(straight.weights[i])));
      expect(second.result.steps).toBe(straight.result.steps);
      expect(second.result.timing.samples).toBe(straight.result.timing.samples);
    }
  });

  it('an abort before the run starts stops before the first step', async () => {
    const controller = new AbortController();
    controller.abort();
    const dir = tempDir();
    const { result } = await job(dir, { signal: controller.signal });
    expect(result.status).toBe('interrupted');
    expect(result.steps).toBe(0);
  });
});
