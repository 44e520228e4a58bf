import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Dataset, DatasetError } from '../src/index.node.js';
import { useCpu } from './helpers.js';

beforeAll(() => useCpu());

/** n images of [h, w, c] where every value of sample k is k mod 256 (so a batch value names its sample). */
function toy(n = 50, shape = [4, 4, 2], numClasses = 5): Dataset {
  const size = shape.reduce((a, b) => a * b, 1);
  const x = new Uint8Array(n * size);
  for (let k = 0; k < n; k++) x.fill(k % 256, k * size, (k + 1) * size);
  const y = Uint8Array.from({ length: n }, (_, k) => k % numClasses);
  return Dataset.fromArrays({ name: 'toy', x, y, sampleShape: shape, numClasses });
}

/** Sample ids of a batch, read from its first value (raw/255 without normalisation). */
function ids(batch: { x: tf.Tensor; size: number }, sampleSize: number): number[] {
  const v = batch.x.dataSync();
  return Array.from({ length: batch.size }, (_, i) => Math.round(v[i * sampleSize] * 255));
}

describe('Dataset', () => {
  it('validates what it wraps', () => {
    const x = new Uint8Array(12);
    expect(() => Dataset.fromArrays({ name: 't', x, y: new Uint8Array(3), sampleShape: [5], numClasses: 2 })).toThrow(
      't: x has 12 values, expected 3 samples × 5 (sampleShape [5]) = 15',
    );
    expect(() => Dataset.fromArrays({ name: 't', x, y: Uint8Array.from([0, 1, 2]), sampleShape: [4], numClasses: 2 })).toThrow(
      't: label 2 of sample 2 is outside [0, 2)',
    );
    expect(() => Dataset.fromArrays({ name: 't', x: [1, 2] as never, y: new Uint8Array(1), sampleShape: [2], numClasses: 2 })).toThrow(
      't: x must be a Uint8Array or Float32Array; got "Array"',
    );
    expect(() => Dataset.fromArrays({ name: 't', x, y: new Uint8Array(3), sampleShape: [4, 0], numClasses: 2 })).toThrow(
      /sampleShape must be/,
    );
    expect(() => toy().withNormalization({ mean: [0.5, 0.5, 0.5], std: [1] })).toThrow(
      'toy: normalization.mean must be 1 or 2 finite numbers; got [0.5,0.5,0.5]',
    );
    expect(() => toy().withNormalization({ mean: [0], std: [0] })).toThrow(/normalization.std must be 1 or 2 finite numbers > 0/);
    expect(() => toy(4, [8]).withAugmentation({ horizontalFlip: true })).toThrow(
      'toy: augmentation needs [H, W, C] image samples; sampleShape is [8]',
    );
    expect(() => toy().label(50)).toThrow('toy: sample index must be an integer in [0, 50); got 50');
    expect(() => toy().numBatches(0)).toThrow(DatasetError);
  });

  it('batches are float32 NHWC in [0, 1] with int32 labels; the last one may be short', () => {
    const ds = toy(50);
    const batches = [...ds.batches(16)];
    expect(batches.map((b) => b.size)).toEqual([16, 16, 16, 2]);
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2, 3]);
    const [b] = batches;
    expect(b.x.shape).toEqual([16, 4, 4, 2]);
    expect(b.x.dtype).toBe('float32');
    expect(b.y.shape).toEqual([16]);
    expect(b.y.dtype).toBe('int32');
    expect(b.oneHot).toBeNull();
    expect(ids(b, 32)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(Array.from(b.y.dataSync())).toEqual(Array.from({ length: 16 }, (_, i) => i % 5));
    const all = batches.flatMap((bb) => Array.from(bb.x.dataSync()));
    expect(Math.min(...all)).toBe(0);
    expect(Math.max(...all)).toBeCloseTo(49 / 255, 6);
    batches.forEach((bb) => bb.dispose());
    expect(
      [...ds.batches(16, { dropRemainder: true })].map((bb) => {
        bb.dispose();
        return bb.size;
      }),
    ).toEqual([16, 16, 16]);
    expect(ds.numBatches(16)).toBe(4);
    expect(ds.numBatches(16, true)).toBe(3);
  });

  it('one-hot labels, flattening and normalisation', () => {
    const ds = toy(10).withNormalization({ mean: [0.1, 0.2], std: [0.5, 0.25] });
    const b = ds.batch([3, 7], { oneHot: true, flatten: true });
    expect(b.x.shape).toEqual([2, 32]);
    expect(b.oneHot?.shape).toEqual([2, 5]);
    expect(b.oneHot?.dtype).toBe('float32');
    expect(b.oneHot?.arraySync()).toEqual([
      [0, 0, 0, 1, 0],
      [0, 0, 1, 0, 0],
    ]);
    const v = b.x.dataSync();
    expect(v[0]).toBeCloseTo((3 / 255 - 0.1) / 0.5, 6); // channel 0
    expect(v[1]).toBeCloseTo((3 / 255 - 0.2) / 0.25, 6); // channel 1
    expect(v[32 + 5]).toBeCloseTo((7 / 255 - 0.2) / 0.25, 6);
    b.dispose();
  });

  it('seeded shuffling: the same order for the same (seed, epoch), a new order each epoch, every sample once', () => {
    const ds = toy(50);
    const epoch = (seed: number, e: number) =>
      [...ds.batches(8, { shuffle: true, seed, epoch: e })].flatMap((b) => {
        const out = ids(b, 32);
        b.dispose();
        return out;
      });
    const a = epoch(1, 0);
    expect(a.slice().sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epoch(1, 0)).toEqual(a);
    expect(epoch(1, 1)).not.toEqual(a);
    expect(epoch(2, 0)).not.toEqual(a);
    expect(Array.from(ds.epochOrder({ shuffle: true, seed: 1 }))).toEqual(a);
    expect(Array.from(ds.shuffle(3).labels())).toEqual(Array.from(ds.shuffle(3).labels()));
    expect(ds.shuffle(3).size).toBe(50);
  });

  it('startBatch resumes mid-epoch with exactly the remaining batches (augmentation included)', () => {
    const ds = toy(40, [6, 6, 1]).withAugmentation({ padCrop: 2, horizontalFlip: true });
    const run = (start: number) =>
      [...ds.batches(8, { shuffle: true, seed: 5, epoch: 2, startBatch: start })].map((b) => {
        const out = { index: b.index, x: Array.from(b.x.dataSync()), y: Array.from(b.y.dataSync()) };
        b.dispose();
        return out;
      });
    const full = run(0);
    expect(run(3)).toEqual(full.slice(3));
    expect(run(5)).toEqual([]);
  });

  it('train/validation split is seeded, disjoint and complete', () => {
    const ds = toy(100);
    const { train, validation } = ds.split(0.2, { seed: 4 });
    expect(train.size).toBe(80);
    expect(validation.size).toBe(20);
    const seen = (d: Dataset) => Array.from({ length: d.size }, (_, i) => d.sample(i)[0]);
    const t = seen(train);
    const v = seen(validation);
    expect(new Set([...t, ...v]).size).toBe(100);
    expect(seen(ds.split(0.2, { seed: 4 }).validation)).toEqual(v);
    expect(seen(ds.split(0.2, { seed: 5 }).validation)).not.toEqual(v);
    expect(ds.split(7).validation.size).toBe(7);
    expect(validation.name).toBe('toy/validation');
    const augmented = toy(20, [4, 4, 2])
      .withNormalization({ mean: [0.5], std: [0.5] })
      .withAugmentation({ horizontalFlip: true });
    const parts = augmented.split(0.25);
    expect(parts.train.augmentation).toEqual({ padCrop: 0, horizontalFlip: true });
    expect(parts.validation.augmentation).toBeNull();
    expect(parts.validation.normalization).toEqual({ mean: [0.5], std: [0.5] });
    expect(() => ds.split(0)).toThrow('toy: validation must be a fraction in (0, 1) or a count ≥ 1; got 0');
    expect(() => ds.split(100)).toThrow(/leaves 100 of 100 samples for validation/);
    expect(ds.take(10).size).toBe(10);
    expect(ds.take(1000).size).toBe(100);
    expect(ds.subset([5, 1]).labels()).toEqual(Int32Array.from([0, 1]));
    expect(ds.classCounts()).toEqual([20, 20, 20, 20, 20]);
  });

  it('augmentation: zero-padded random crops and flips, seeded, of the stored pixels', () => {
    // One 3×3 grey image with distinct pixels 1..9; pad 1: every output is a shifted (maybe flipped) copy.
    const x = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const ds = Dataset.fromArrays({
      name: 'one',
      x,
      y: new Uint8Array(1),
      sampleShape: [3, 3, 1],
      numClasses: 1,
      scale: 1,
    }).withAugmentation({
      padCrop: 1,
      horizontalFlip: true,
    });
    const img = (r: number, c: number) => (r >= 0 && r < 3 && c >= 0 && c < 3 ? x[r * 3 + c] : 0);
    const candidates = new Map<string, string>();
    for (const flip of [false, true])
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const out: number[] = [];
          for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out.push(img(i + dy, (flip ? 2 - j : j) + dx));
          candidates.set(out.join(','), `${flip}/${dy}/${dx}`);
        }
    const seen = new Set<string>();
    for (let epoch = 0; epoch < 200; epoch++) {
      const [b] = [...ds.batches(1, { seed: 9, epoch })];
      const key = Array.from(b.x.dataSync()).join(',');
      b.dispose();
      expect(candidates.has(key), key).toBe(true);
      seen.add(key);
    }
    expect(seen.size).toBe(18); // every crop offset with and without the flip occurs
    const noAug = [...ds.batches(1, { augment: false })][0];
    expect(Array.from(noAug.x.dataSync())).toEqual(Array.from(x));
    noAug.dispose();
    const again = (seed: number) => {
      const [b] = [...ds.batches(1, { seed, epoch: 3 })];
      const out = Array.from(b.x.dataSync());
      b.dispose();
      return out;
    };
    expect(again(9)).toEqual(again(9));
    expect(() => toy().batch([0], { augment: true })).toThrow(/augment: true but the dataset has no augmentation/);
  });

  it('never leaks tensors: only the batch in hand exists', () => {
    const ds = toy(64).withAugmentation({ padCrop: 1, horizontalFlip: true });
    const before = tf.memory().numTensors;
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const b of ds.batches(10, { shuffle: true, seed: 1, epoch, oneHot: true })) {
        expect(tf.memory().numTensors).toBe(before + 3);
        b.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    // Breaking out of the loop early leaves nothing behind either: batches are made on demand.
    for (const b of ds.batches(10)) {
      b.dispose();
      break;
    }
    const b = ds.batch([1, 2]);
    tf.dispose(b as never);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('views compose (shuffle, split, take) and describe themselves', () => {
    const ds = toy(1000, [28, 28, 1]);
    const shuffled = ds.shuffle(1).split(0.5).train.take(100);
    expect(shuffled.size).toBe(100);
    expect(shuffled.summary()).toEqual({
      name: 'toy',
      size: 100,
      sampleShape: [28, 28, 1],
      numClasses: 5,
      storage: 'uint8',
      normalization: null,
      augmentation: null,
    });
    expect(String(shuffled)).toBe('toy: 100 × [28, 28, 1] uint8, 5 classes');
  });
});
