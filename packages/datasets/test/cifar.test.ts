import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  CIFAR10_NORMALIZATION,
  CIFAR10_TRAIN_FILES,
  DatasetError,
  loadCifar100Directory,
  loadCifar10Directory,
  loadDataset,
  readCifar100File,
  readCifar10Batch,
} from '../src/index.node.js';
import { cifarBytes, tempDir, useCpu } from './helpers.js';

beforeAll(() => useCpu());

let cleanup: (() => void) | null = null;
function dir(): string {
  const t = tempDir();
  cleanup = t.cleanup;
  return t.dir;
}
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

/** Expected HWC pixel (i, j, c) of record r in cifarBytes. */
const px = (r: number, i: number, j: number, c: number) => (r + 10 * c + 3 * i + j) % 256;

function writeCifar10(root: string, perBatch = 2): void {
  CIFAR10_TRAIN_FILES.forEach((f, b) =>
    writeFileSync(join(root, f), cifarBytes(Array.from({ length: perBatch }, (_, r) => [(b * perBatch + r) % 10]))),
  );
  writeFileSync(join(root, 'test_batch.bin'), cifarBytes([[3], [9], [0]]));
}

describe('CIFAR readers', () => {
  it('reads a CIFAR-10 batch and converts CHW planes to HWC', () => {
    const d = dir();
    const file = join(d, 'data_batch_1.bin');
    writeFileSync(file, cifarBytes([[7], [2]]));
    const { count, pixels, labels } = readCifar10Batch(file);
    expect(count).toBe(2);
    expect(Array.from(labels)).toEqual([7, 2]);
    for (const [r, i, j, c] of [
      [0, 0, 0, 0],
      [0, 0, 0, 2],
      [1, 5, 31, 1],
      [1, 31, 7, 2],
    ]) {
      expect(pixels[r * 3072 + (i * 32 + j) * 3 + c]).toBe(px(r, i, j, c));
    }
  });

  it('loads CIFAR-10 from the directory or its parent, with class names', () => {
    const parent = dir();
    const root = join(parent, 'cifar-10-batches-bin');
    mkdirSync(root);
    writeCifar10(root);
    writeFileSync(join(root, 'batches.meta.txt'), 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n');
    for (const where of [root, parent]) {
      const { train, test, dir: used } = loadCifar10Directory(where);
      expect(used).toBe(root);
      expect(train.size).toBe(10);
      expect(test.size).toBe(3);
      expect(train.sampleShape).toEqual([32, 32, 3]);
      expect(Array.from(train.labels())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(Array.from(test.labels())).toEqual([3, 9, 0]);
      expect(train.classNames?.[9]).toBe('j');
      expect(train.sample(2)[(4 * 32 + 6) * 3 + 1]).toBe(px(0, 4, 6, 1)); // third train image = first record of batch 2
    }
  });

  it('loadDataset("cifar10:<dir>") normalises train and test and augments train only (as the references)', () => {
    const d = dir();
    writeCifar10(d);
    const data = loadDataset(`cifar10:${d}`, { validation: 2 });
    expect(data.normalization).toEqual(CIFAR10_NORMALIZATION);
    expect(data.train.augmentation).toEqual({ padCrop: 4, horizontalFlip: true });
    expect(data.test.augmentation).toBeNull();
    expect(data.validation?.augmentation).toBeNull();
    expect(data.validation?.size).toBe(2);
    expect(data.train.size).toBe(8);
    const b = data.test.batch([0]);
    const v = b.x.dataSync();
    const expected = (px(0, 0, 1, 2) / 255 - 0.4465) / 0.201;
    expect(v[(0 * 32 + 1) * 3 + 2]).toBeCloseTo(expected, 5);
    b.dispose();
    const plain = loadDataset(`cifar10:${d}`, { normalize: false, augment: false });
    expect(plain.train.augmentation).toBeNull();
    expect(plain.normalization).toBeNull();
  });

  it('truncated files, wrong formats, bad labels and missing batches are clear errors', () => {
    const d = dir();
    writeCifar10(d);
    const file = join(d, 'data_batch_3.bin');
    writeFileSync(file, cifarBytes([[1], [2]]).subarray(0, 3073 * 2 - 100));
    expect(() => loadCifar10Directory(d)).toThrow(DatasetError);
    expect(() => loadCifar10Directory(d)).toThrow(
      `${file}: 6046 bytes is not a whole, non-zero number of 3073-byte CIFAR-10 records (1 label byte + 3072 pixel bytes); the file is truncated or not a CIFAR-10 binary file (a full 10000-image batch is 30730000 bytes)`,
    );
    writeFileSync(file, cifarBytes([[1, 2]])); // a CIFAR-100 record
    expect(() => readCifar10Batch(file)).toThrow(/3074 bytes is not a whole, non-zero number of 3073-byte CIFAR-10 records/);
    writeFileSync(file, cifarBytes([[12]]));
    expect(() => readCifar10Batch(file)).toThrow(`${file}: record 0 has label 12, not below 10; not a CIFAR-10 file`);
    writeFileSync(file, new Uint8Array(0));
    expect(() => readCifar10Batch(file)).toThrow(/0 bytes is not a whole, non-zero number/);
    const empty = dir();
    writeFileSync(join(empty, 'test_batch.bin'), cifarBytes([[1]]));
    writeFileSync(join(empty, 'data_batch_1.bin'), cifarBytes([[1]]));
    expect(() => loadCifar10Directory(empty)).toThrow(/CIFAR-10 is incomplete: missing .*data_batch_2\.bin, .*data_batch_5\.bin/);
    expect(() => loadCifar10Directory(join(empty, 'none'))).toThrow(
      /no CIFAR-10 binary files: looked for .*test_batch\.bin and .*cifar-10-batches-bin\/test_batch\.bin \(extract/,
    );
    expect(() => loadDataset('cifar10')).toThrow(/needs a directory/);
  });

  it('reads CIFAR-100 with fine or coarse labels and validates both label bytes', () => {
    const d = dir();
    writeFileSync(
      join(d, 'train.bin'),
      cifarBytes([
        [3, 77],
        [19, 99],
        [0, 0],
      ]),
    );
    writeFileSync(join(d, 'test.bin'), cifarBytes([[5, 42]]));
    const fine = loadCifar100Directory(d);
    expect(fine.train.numClasses).toBe(100);
    expect(Array.from(fine.train.labels())).toEqual([77, 99, 0]);
    expect(fine.train.sample(1)[(2 * 32 + 3) * 3]).toBe(px(1, 2, 3, 0));
    const coarse = loadCifar100Directory(d, 'coarse');
    expect(coarse.train.numClasses).toBe(20);
    expect(Array.from(coarse.test.labels())).toEqual([5]);
    const viaSpec = loadDataset(`cifar100:${d}`, { cifar100Labels: 'coarse', normalize: false });
    expect(viaSpec.numClasses).toBe(20);
    const file = join(d, 'bad.bin');
    writeFileSync(file, cifarBytes([[25, 1]]));
    expect(() => readCifar100File(file)).toThrow(/record 0 has label byte 25 out of range; not a CIFAR-100 file/);
    writeFileSync(file, cifarBytes([[1, 100]]));
    expect(() => readCifar100File(file)).toThrow(/record 0 has fine label 100, not below 100/);
    writeFileSync(file, cifarBytes([[1], [2]]));
    expect(() => readCifar100File(file)).toThrow(
      /6146 bytes is not a whole, non-zero number of 3074-byte CIFAR-100 records \(2 label bytes/,
    );
    expect(() => loadCifar100Directory(d, 'middle' as never)).toThrow('cifar100 labels must be "fine" or "coarse"; got "middle"');
  });

  it('makes no tensors while reading', () => {
    const d = dir();
    writeCifar10(d);
    const before = tf.memory().numTensors;
    loadCifar10Directory(d);
    expect(tf.memory().numTensors).toBe(before);
  });
});
