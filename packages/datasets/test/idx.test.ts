import { execFileSync } from 'node:child_process';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, loadDataset, loadIdxDirectory, parseIdx, readIdxImages, readIdxLabels } from '../src/index.node.js';
import { idxBytes, tempDir, useCpu, writeIdxSplit } from './helpers.js';

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

describe('IDX readers', () => {
  it('reads raw and gzipped images and labels', () => {
    const d = dir();
    const raw = writeIdxSplit(d, 'train', 6);
    const imgs = readIdxImages(join(d, 'train-images-idx3-ubyte'));
    expect([imgs.count, imgs.rows, imgs.cols]).toEqual([6, 4, 5]);
    expect(imgs.pixels).toEqual(raw.pixels);
    expect(imgs.pixels.constructor).toBe(Uint8Array);
    expect(readIdxLabels(join(d, 'train-labels-idx1-ubyte'))).toEqual(raw.labels);
    const gz = writeIdxSplit(d, 't10k', 3, { gzip: true });
    expect(readIdxImages(join(d, 't10k-images-idx3-ubyte.gz')).pixels).toEqual(gz.pixels);
    expect(readIdxLabels(join(d, 't10k-labels-idx1-ubyte.gz'))).toEqual(gz.labels);
  });

  it('a truncated file is an error naming the file and the expected size', () => {
    const d = dir();
    const full = idxBytes([3, 4, 5], new Uint8Array(60));
    const file = join(d, 'cut-images');
    writeFileSync(file, full.subarray(0, full.length - 7));
    expect(() => readIdxImages(file)).toThrow(DatasetError);
    expect(() => readIdxImages(file)).toThrow(`${file}: truncated: header says 3×4×5 = 60 data bytes, found 53`);
    writeFileSync(file, full.subarray(0, 10));
    expect(() => readIdxImages(file)).toThrow(/truncated header: IDX images \(magic 0x00000803\) needs 16 header bytes, file has 10/);
    writeFileSync(file, full.subarray(0, 2));
    expect(() => readIdxImages(file)).toThrow(/2 bytes is too short/);
    const extra = new Uint8Array(full.length + 1);
    extra.set(full);
    writeFileSync(file, extra);
    expect(() => readIdxImages(file)).toThrow(/has trailing bytes: header says 3×4×5 = 60 data bytes, found 61/);
  });

  it('a truncated gzip stream is an error naming the file', () => {
    const d = dir();
    const gz = gzipSync(idxBytes([50, 4, 5], new Uint8Array(1000).fill(9)));
    const file = join(d, 'train-images-idx3-ubyte.gz');
    writeFileSync(file, gz.subarray(0, gz.length - 12));
    expect(() => readIdxImages(file)).toThrow(new RegExp(`${file.replace(/[.]/g, '\\.')}: not a valid gzip stream, probably truncated`));
  });

  it('wrong magic numbers are errors that say what was expected and found', () => {
    const d = dir();
    writeIdxSplit(d, 'train', 2);
    const labelsFile = join(d, 'train-labels-idx1-ubyte');
    const imagesFile = join(d, 'train-images-idx3-ubyte');
    expect(() => readIdxImages(labelsFile)).toThrow(
      `${labelsFile}: expected IDX images (magic 0x00000803), found magic 0x00000801 (an unsigned-byte IDX file of rank 1)`,
    );
    expect(() => readIdxLabels(imagesFile)).toThrow(/expected IDX labels \(magic 0x00000801\), found magic 0x00000803/);
    const png = join(d, 'picture.png');
    writeFileSync(png, Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
    expect(() => readIdxImages(png)).toThrow(/found magic 0x89504e47 \(not an unsigned-byte IDX file\)/);
    // float IDX (type 0x0D) is not accepted either
    expect(() => parseIdx(idxBytes([1], new Uint8Array(4), 0x00000d01), 'f', 0x00000801)).toThrow(/found magic 0x00000d01/);
  });

  it('loads an MNIST-format directory (either file spelling, raw or gz) as [rows, cols, 1] uint8 images', () => {
    const d = dir();
    const train = writeIdxSplit(d, 'train', 12, { gzip: true });
    writeIdxSplit(d, 't10k', 5, { dotted: true });
    const { train: tr, test } = loadIdxDirectory(d, { name: 'toy' });
    expect(tr.size).toBe(12);
    expect(test.size).toBe(5);
    expect(tr.sampleShape).toEqual([4, 5, 1]);
    expect(tr.numClasses).toBe(10);
    expect(tr.storageType).toBe('uint8');
    expect(tr.sample(3)).toEqual(train.pixels.subarray(3 * 20, 4 * 20));
    expect(tr.labels()).toEqual(Int32Array.from(train.labels));
    const loaded = loadDataset(`idx:${d}`);
    expect(loaded.name).toBe('idx');
    expect(loaded.source).toBe(d);
    expect(loaded.normalization).toBeNull();
    expect(loaded.augmentation).toBeNull();
    expect(loadDataset('idx', { dataDir: d }).train.size).toBe(12);
    expect(loadDataset('mnist', { dataDir: d }).train.size).toBe(12);
  });

  it('missing files, mismatched counts and shapes are clear errors', () => {
    const d = dir();
    writeIdxSplit(d, 'train', 4);
    expect(() => loadIdxDirectory(d)).toThrow(
      `${d}: no test images file; looked for t10k-images-idx3-ubyte, t10k-images-idx3-ubyte.gz, t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz`,
    );
    expect(() => loadIdxDirectory(join(d, 'nope'))).toThrow(/no such directory/);
    writeIdxSplit(d, 't10k', 3, { rows: 5 });
    expect(() => loadIdxDirectory(d)).toThrow(/training images are 4×5 but test images are 5×5/);
    writeIdxSplit(d, 't10k', 3);
    writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idxBytes([2], Uint8Array.from([1, 2])));
    expect(() => loadIdxDirectory(d)).toThrow(/t10k-labels-idx1-ubyte: 2 labels, but .*t10k-images-idx3-ubyte has 3 images/);
    writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idxBytes([3], Uint8Array.from([1, 2, 11])));
    expect(() => loadIdxDirectory(d, { numClasses: 10 })).toThrow(/labels\[2\] is 11, not below numClasses 10/);
    expect(loadIdxDirectory(d, { numClasses: 12 }).train.numClasses).toBe(12);
    // Inferred, 11 would make 12 classes with classes missing from the training set: a damaged label.
    expect(() => loadIdxDirectory(d)).toThrow(
      /t10k-labels-idx1-ubyte: labels\[2\] is 11, which would make 12 classes, but class \d+ has no training example/,
    );
    expect(() => loadDataset('idx')).toThrow('dataset "idx" needs a directory: write idx:<dir> or pass dataDir');
  });
});

describe('untrusted dataset directories', () => {
  it('a label of 200 among 0–9 is a damaged file, not a 201-class dataset, under every spec', () => {
    const d = dir();
    writeIdxSplit(d, 'train', 30);
    writeIdxSplit(d, 't10k', 10);
    const labels = Uint8Array.from({ length: 30 }, (_, n) => n % 10);
    labels[17] = 200;
    writeFileSync(join(d, 'train-labels-idx1-ubyte'), idxBytes([30], labels));
    const message = /train-labels-idx1-ubyte: labels\[17\] is 200, which would make 201 classes, but class 10 has no training example/;
    expect(() => loadDataset(`idx:${d}`)).toThrow(message);
    expect(() => loadDataset('mnist', { dataDir: d })).toThrow(/labels\[17\] is 200, not below numClasses 10/);
    const error = (() => {
      try {
        loadDataset(`idx:${d}`);
      } catch (e) {
        return e as DatasetError;
      }
    })()!;
    expect([error.file, error.field]).toEqual([join(d, 'train-labels-idx1-ubyte'), 'labels[17]']);
  });

  it('a file of zero images is an error, not an empty dataset', () => {
    const d = dir();
    writeIdxSplit(d, 'train', 0);
    writeIdxSplit(d, 't10k', 3);
    expect(() => loadDataset(`idx:${d}`)).toThrow(/train-images-idx3-ubyte: header: the file holds no images \(count 0\)/);
  });

  it('a FIFO is refused instead of waited on, and a symbolic link loop is named as such', () => {
    const d = dir();
    writeIdxSplit(d, 't10k', 3);
    writeIdxSplit(d, 'train', 3);
    rmSync(join(d, 'train-images-idx3-ubyte'));
    execFileSync('mkfifo', [join(d, 'train-images-idx3-ubyte')]);
    expect(() => loadDataset(`idx:${d}`)).toThrow(/train-images-idx3-ubyte: is not a regular file/);
    rmSync(join(d, 'train-images-idx3-ubyte'));
    symlinkSync(join(d, 'loop-b'), join(d, 'train-images-idx3-ubyte'));
    symlinkSync(join(d, 'train-images-idx3-ubyte'), join(d, 'loop-b'));
    expect(() => loadDataset(`idx:${d}`)).toThrow(/train-images-idx3-ubyte: is a symbolic link loop/);
  });
});
