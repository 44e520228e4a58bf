import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SparsifyConfigError, selectParams } from '@sparsify/core';
import {
  CHECKPOINT_FILE,
  CheckpointError,
  PREVIOUS_CHECKPOINT_FILE,
  decodeCheckpoint,
  encodeCheckpoint,
  readCheckpoint,
  resume,
  shuffledIndices,
  tensorData,
  train,
  writeFileAtomic,
  type ArtControllerLike,
  type ArtObservation,
  type ArtSnapshot,
  type EpochMetrics,
} from '../src/index.node.js';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { TestL1, TestPruner, TestScaled, resumeTestOptions, tinyData, tinyModel, weightsOf } from './helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sparsify-train-'));
  dirs.push(d);
  return d;
}

beforeAll(() => useTestBackend());

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('train', () => {
  it('trains with a penalty and a pruning schedule, then fine-tunes with exact masks', async () => {
    const model = tinyModel();
    const data = tinyData();
    const pruner = new TestPruner(selectParams(model), 0.75, 12, 2);
    const penalty = new TestL1({ strength: 1e-3 });
    const epochs: EpochMetrics[] = [];
    const result = await train({
      model,
      data,
      epochs: 3,
      batchSize: 32,
      seed: 1,
      penalties: [penalty],
      weightDecay: 1e-4,
      optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } },
      pruning: pruner,
      finetune: { epochs: 2, optimizer: { className: 'Momentum', config: { learningRate: 0.01, momentum: 0.9 } } },
      callbacks: { onEpochEnd: (m) => void epochs.push(m) },
    });
    expect(result.status).toBe('completed');
    expect(epochs.map((m) => m.phase)).toEqual(['train', 'train', 'train', 'finetune', 'finetune']);
    expect(result.prune?.method).toBe('schedule');
    // Layer-wise exact count at 75%: each kernel keeps round(N·0.25).
    for (const layer of result.sparsity.layers) expect(layer.zeros).toBe(layer.total - Math.round(layer.total * 0.25));
    // The masks held through fine-tuning under momentum and decay: same zeros as right after pruning.
    expect(epochs[3].sparsity).toBeCloseTo(epochs[2].sparsity, 12);
    expect(epochs[4].sparsity).toBe(result.sparsity.global);
    expect(result.accuracy.final).toBeGreaterThan(0.5);
    expect(result.accuracy.best?.phase).toBe('finetune');
    expect(epochs[0].strengths['test-l1']).toBe(1e-3);
    expect(epochs[4].strengths).toEqual({});
    expect(result.timing.samplesPerSecond).toBeGreaterThan(0);
    pruner.dispose();
    penalty.dispose();
    model.dispose();
    data.dispose();
  });

  it('one-shot prunes at the end with the strict quantile rule and reports dense / pruned / final', async () => {
    const model = tinyModel(5);
    const data = tinyData();
    const result = await train({
      model,
      data,
      epochs: 2,
      batchSize: 32,
      prune: { sparsity: 0.5 },
      finetune: { epochs: 1 },
    });
    const n = selectParams(model).reduce((s, p) => s + p.size, 0);
    // Strict `>` at index ⌊sN⌋ prunes ⌊sN⌋+1 weights (no ties in random weights).
    expect(result.sparsity.zeros).toBe(Math.floor(0.5 * n) + 1);
    expect(result.prune?.method).toBe('oneShot');
    expect(result.accuracy.dense).toBeTypeOf('number');
    expect(result.accuracy.pruned).toBeTypeOf('number');
    expect(result.accuracy.final).toBeTypeOf('number');
    expect(result.histograms.beforePrune?.zeros).toBe(0);
    expect(result.histograms.final?.zeros).toBe(result.sparsity.zeros);
    model.dispose();
    data.dispose();
  });

  it('stops on a non-finite loss and keeps the last good checkpoint and weights', async () => {
    const model = tinyModel(7);
    const data = tinyData();
    const dir = tempDir();
    let good: Float32Array[] = [];
    const result = await train({
      model,
      data,
      epochs: 5,
      batchSize: 32,
      runDir: dir,
      optimizer: { className: 'SGD', config: { learningRate: 0.01 } },
      callbacks: {
        onEpochEnd: (m) => {
          good = weightsOf(model);
          if (m.epoch === 1) {
            // Poison a weight: the next forward pass gives NaN.
            const v = model.weights[0].read() as tf.Variable;
            tf.tidy(() => v.assign(tf.fill(v.shape, NaN)));
          }
        },
      },
    });
    expect(result.status).toBe('nonFinite');
    expect(result.message).toMatch(/not finite/);
    expect(result.history.length).toBe(2);
    // The checkpoint is the epoch-1 one, and the model is back to the last good weights.
    const ckpt = readCheckpoint(dir) as { epoch: number; model: Float32Array[] };
    expect(ckpt.epoch).toBe(2);
    expect(Array.from(ckpt.model[0])).toEqual(Array.from(good[0]));
    expect(weightsOf(model)[0].every(Number.isFinite)).toBe(true);
    expect(Array.from(weightsOf(model)[0])).toEqual(Array.from(good[0]));
    model.dispose();
    data.dispose();
  });

  it('resumes exactly: 2 epochs straight equal 1 epoch + resume + 1 epoch (momentum, penalty variables, decay)', async () => {
    const run = async (dir: string, stopAfterEpochs?: number) => {
      const model = tinyModel(11);
      const data = tinyData(160, 9);
      const penalty = new TestScaled({ strength: 1e-3 });
      const options = { ...resumeTestOptions(model, data, penalty), runDir: dir };
      const result = stopAfterEpochs
        ? await train({ ...options, stopAfterEpochs })
        : await (readdirSync(dir).includes(CHECKPOINT_FILE) ? resume(dir, options) : train(options));
      const weights = weightsOf(model);
      const scales = penalty.trainableVariables().map((v) => Float32Array.from(v.dataSync()));
      penalty.dispose();
      model.dispose();
      data.dispose();
      return { result, weights, scales };
    };
    const straight = await run(tempDir());
    for (const cut of [1, 3]) {
      const dir = tempDir();
      const first = await run(dir, cut);
      expect(first.result.status).toBe('interrupted');
      const second = await run(dir);
      expect(second.result.status).toBe('completed');
      expect(second.result.resumedFrom).toBe(cut);
      expect(second.result.history.length).toBe(4);
      second.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(straight.weights[i])));
      second.scales.forEach((s, i) => expect(Array.from(s)).toEqual(Array.from(straight.scales[i])));
      expect(second.result.accuracy).toEqual(straight.result.accuracy);
    }
  });

  it('refuses to overwrite an existing run unless resuming, and validates options before writing', async () => {
    const model = tinyModel();
    const data = tinyData(64);
    const dir = tempDir();
    await train({ model, data, epochs: 1, batchSize: 32, runDir: dir });
    await expect(train({ model, data, epochs: 1, batchSize: 32, runDir: dir })).rejects.toThrow(/already has checkpoint.bin/);
    const fresh = join(tempDir(), 'run');
    await expect(train({ model, data, epochs: -1, batchSize: 32, runDir: fresh })).rejects.toThrow(SparsifyConfigError);
    await expect(train({ model, data, epochs: 1, batchSize: 0, runDir: fresh })).rejects.toThrow(/batchSize must be an integer ≥ 1; got 0/);
    await expect(
      train({ model, data, epochs: 1, batchSize: 8, runDir: fresh, optimizer: { className: 'RMSprop', config: { learningRate: 1 } } }),
    ).rejects.toThrow(/optimizer.className must be one of the tfjs optimizers SGD, Momentum, Adam, .*; got "RMSprop"/);
    await expect(train({ model, data, epochs: 1, batchSize: 8, runDir: fresh, prune: { sparsity: 1 } })).rejects.toThrow(/\[0, 1\)/);
    expect(existsSync(fresh)).toBe(false);
    await expect(resume(tempDir(), { model, data, epochs: 1, batchSize: 8 })).rejects.toThrow(/has none/);
    model.dispose();
    data.dispose();
  });

  it('does not grow the tensor count over many epochs and steps', async () => {
    const model = tinyModel(2);
    const data = tinyData(96);
    const penalty = new TestScaled({ strength: 1e-3 });
    const pruner = new TestPruner(selectParams(model), 0.5, 20, 3);
    const dir = tempDir();
    // Warm-up run: creates the penalty's variables, optimizer slots and masks.
    const base = { model, data, batchSize: 16, penalties: [penalty], weightDecay: 1e-4, pruning: pruner, finetune: { epochs: 1 } };
    await train({ ...base, epochs: 1, runDir: join(dir, 'a') });
    const before = tf.memory().numTensors;
    let counts: number[] = [];
    await train({
      ...base,
      epochs: 8,
      runDir: join(dir, 'b'),
      callbacks: { onEpochEnd: () => void counts.push(tf.memory().numTensors) },
    });
    // Constant across epochs of a phase (36+ steps) and back to the start afterwards.
    counts = counts.slice(1, 8);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    pruner.dispose();
    penalty.dispose();
    model.dispose();
    data.dispose();
  });

  it('runs ART: warm-up, one probe per epoch, stop, the selected pruned copy, fine-tune; resumes mid-ART', async () => {
    /** A scripted controller: keeps the previous probe, stops at ART epoch 2 and selects epoch 1. */
    class Scripted implements ArtControllerLike {
      readonly warmupEpochs = 2;
      readonly maxEpochs = 10;
      observed: { epoch: number; dense: number; pruned: number }[] = [];
      private held = new Map<number, ArtSnapshot | undefined>();
      observe({ epoch, denseAccuracy, prunedAccuracy, snapshot }: ArtObservation) {
        this.observed.push({ epoch, dense: denseAccuracy, pruned: prunedAccuracy });
        const discarded = [...this.held].filter(([e]) => e < epoch - 1).map(([, s]) => s!);
        for (const [e] of [...this.held]) if (e < epoch - 1) this.held.delete(e);
        this.held.set(epoch, snapshot);
        if (epoch < 2) return { stop: false, discarded };
        return { stop: true, reason: 'crossed', selected: { epoch: 1, snapshot: this.held.get(1) }, discarded };
      }
      getState() {
        return { held: [...this.held.keys()] };
      }
      setState(state: unknown, snapshotOf?: (epoch: number) => ArtSnapshot | undefined) {
        this.held = new Map((state as { held: number[] }).held.map((e) => [e, snapshotOf?.(e)]));
      }
    }
    const run = async (dir: string, stopAfterEpochs?: number) => {
      const model = tinyModel(3);
      const data = tinyData();
      const controller = new Scripted();
      const metrics: EpochMetrics[] = [];
      const result = await train({
        model,
        data,
        epochs: 99,
        batchSize: 32,
        art: { controller, sparsity: 0.7 },
        finetune: { epochs: 1 },
        runDir: dir,
        resume: stopAfterEpochs === undefined,
        stopAfterEpochs,
        callbacks: { onEpochEnd: (m) => void metrics.push(m) },
      });
      const weights = weightsOf(model);
      const n = selectParams(model).reduce((s, p) => s + p.size, 0);
      model.dispose();
      data.dispose();
      return { result, metrics, controller, weights, n };
    };
    const { result, metrics, controller, weights, n } = await run(tempDir());
    expect(controller.observed.map((o) => o.epoch)).toEqual([0, 1, 2]);
    expect(metrics.filter((m) => m.phase === 'train').length).toBe(5);
    expect(metrics[2].art?.artEpoch).toBe(0);
    expect(metrics[1].art).toBeUndefined();
    expect(result.art).toEqual({ stopped: true, reason: 'crossed', artEpochs: 3, selectedArtEpoch: 1 });
    expect(result.sparsity.zeros).toBe(Math.floor(0.7 * n) + 1);
    // The live weights never lost their dense values to a probe: the pruned copy was a copy.
    expect(metrics[2].sparsity).toBe(0);
    // Interrupted after the first ART epoch (epoch 3 of 5), resumed: the same run.
    const dir = tempDir();
    const first = await run(dir, 4);
    expect(first.result.status).toBe('interrupted');
    const second = await run(dir);
    expect(second.result.resumedFrom).toBe(4);
    expect(second.controller.observed.map((o) => o.epoch)).toEqual([2]);
    expect(second.result.art).toEqual(result.art);
    second.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(weights[i])));
  });
});

describe('checkpoint files', () => {
  it('round-trips values with typed arrays and non-finite numbers', () => {
    const value = {
      a: 1,
      b: [new Float32Array([1.5, -2]), new Int32Array([3])],
      c: { d: new Uint8Array([0, 1, 1]) },
      e: NaN,
      f: -Infinity,
    };
    const back = decodeCheckpoint(encodeCheckpoint(value)) as typeof value;
    expect(Array.from(back.b[0])).toEqual([1.5, -2]);
    expect(back.b[1]).toBeInstanceOf(Int32Array);
    expect(Array.from(back.c.d)).toEqual([0, 1, 1]);
    expect(back.e).toBeNaN();
    expect(back.f).toBe(-Infinity);
  });

  it('rejects truncated and foreign files with a clear error', () => {
    const bytes = encodeCheckpoint({ w: new Float32Array(100) });
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10), 'x.bin')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10), 'x.bin')).toThrow(
      /x.bin: \(checksum\) does not match: the file is damaged or truncated/,
    );
    expect(() => decodeCheckpoint(Buffer.from('{"json": true}'), 'y.bin')).toThrow(/y.bin: \(format\) is not a sparsify checkpoint/);
    const v1 = Buffer.concat([Buffer.from('SPARSIFY-CKPT 1\n'), bytes.subarray(16)]);
    expect(() => decodeCheckpoint(v1, 'z.bin')).toThrow(
      /z.bin: \(format\) is checkpoint format 1, written before checkpoints had checksums, and is not read/,
    );
  });

  it('writes atomically: a failed write leaves the old file and no temp files', () => {
    const dir = tempDir();
    const path = join(dir, 'file.bin');
    writeFileAtomic(path, 'old');
    // Renaming over a non-empty directory fails after the temp file was written and synced.
    const blocked = join(dir, 'blocked');
    mkdirSync(blocked);
    writeFileSync(join(blocked, 'x'), 'x');
    expect(() => writeFileAtomic(blocked, 'new')).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['blocked', 'file.bin']);
    expect(readFileSync(path, 'utf8')).toBe('old');
  });

  it('an error mid-epoch leaves the previous epoch-end checkpoint intact', async () => {
    const model = tinyModel();
    const data = tinyData(96);
    const dir = tempDir();
    await expect(
      train({
        model,
        data,
        epochs: 3,
        batchSize: 16,
        runDir: dir,
        callbacks: {
          onBatchEnd: ({ epoch, batch }) => {
            if (epoch === 1 && batch === 3) throw new Error('killed');
          },
        },
      }),
    ).rejects.toThrow('killed');
    expect(readdirSync(dir).sort()).toEqual([CHECKPOINT_FILE]);
    // A process killed while writing leaves a temp file: resume removes it, never the checkpoint.
    writeFileSync(join(dir, `.${CHECKPOINT_FILE}.tmp-123-456`), 'partial');
    expect((readCheckpoint(dir) as { epoch: number }).epoch).toBe(1);
    const resumed = await resume(dir, { model, data, epochs: 3, batchSize: 16 });
    expect(resumed.resumedFrom).toBe(1);
    expect(resumed.history.map((m) => m.epoch)).toEqual([0, 1, 2]);
    expect(readdirSync(dir).sort()).toEqual([CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE]);
    model.dispose();
    data.dispose();
  });
});

describe('data', () => {
  it('shuffles deterministically per seed and covers every example once', async () => {
    expect(Array.from(shuffledIndices(10, 3))).toEqual(Array.from(shuffledIndices(10, 3)));
    expect(Array.from(shuffledIndices(10, 3))).not.toEqual(Array.from(shuffledIndices(10, 4)));
    const x = tf.tidy(() => tf.reshape(tf.range(0, 10), [10, 1]));
    const y = tf.range(0, 10);
    const seen: number[] = [];
    for (const { x: xs, y: ys } of tensorData(x, y).batches(4, { shuffle: true, seed: 1, epoch: 0 }) as Iterable<{
      x: tf.Tensor;
      y: tf.Tensor;
    }>) {
      seen.push(...Array.from(ys.dataSync()));
      expect(xs.shape[0]).toBe(ys.shape[0]);
      xs.dispose();
      ys.dispose();
    }
    expect(seen.slice().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    x.dispose();
    y.dispose();
  });
});
