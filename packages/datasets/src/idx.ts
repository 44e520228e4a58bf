import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { MAX_DATASET_FILE_BYTES, probeFile, readDatasetFile } from './files.js';

import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parseIdx } from './idx-parse.js';

/**
 * Reads a file (see `readDatasetFile`), gunzipping it when it starts with the gzip magic (whatever its
 * name), to at most `MAX_DATASET_FILE_BYTES` either way.
 */
export function readMaybeGzip(file: string): Uint8Array {
  const bytes = readDatasetFile(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes, { maxOutputLength: MAX_DATASET_FILE_BYTES });
    } catch (err) {
      const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new DatasetError(
        `${file}: ${tooLarge ? `decompresses to more than ${MAX_DATASET_FILE_BYTES} bytes` : 'not a valid gzip stream, probably truncated'} (${(err as Error).message})`,
        file,
        'gzip',
      );
    }
  }
  return bytes;
}

/** Reads an IDX images file (`.gz` or raw): `{count, rows, cols, pixels}`. */
export function readIdxImages(file: string): { count: number; rows: number; cols: number; pixels: Uint8Array } {
  const { dims, data } = parseIdx(readMaybeGzip(file), file, IDX_IMAGES_MAGIC);
  const [count, rows, cols] = dims;
  if (rows === 0 || cols === 0) throw new DatasetError(`${file}: header: images of ${rows}×${cols} pixels`, file, 'header');
  if (count === 0) throw new DatasetError(`${file}: header: the file holds no images (count 0)`, file, 'header');
  return { count, rows, cols, pixels: data };
}

/** Reads an IDX labels file (`.gz` or raw). */
export function readIdxLabels(file: string): Uint8Array {
  return parseIdx(readMaybeGzip(file), file, IDX_LABELS_MAGIC).data;
}

export type IdxSplit = 'train' | 't10k';

/** Base names tried for a split's files, each with and without `.gz`. */
function candidates(split: IdxSplit, kind: 'images' | 'labels'): string[] {
  const rank = kind === 'images' ? 3 : 1;
  const bases = [`${split}-${kind}-idx${rank}-ubyte`, `${split}-${kind}.idx${rank}-ubyte`];
  return bases.flatMap((b) => [b, `${b}.gz`]);
}

/** Finds a split's images or labels file in `dir` (`train-images-idx3-ubyte[.gz]` and the `.idx3-ubyte` spelling). */
export function findIdxFile(dir: string, split: IdxSplit, kind: 'images' | 'labels'): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DatasetError(`${dir}: no such directory (expected IDX files such as ${candidates(split, kind)[1]})`, dir, '(directory)');
  }
  const names = candidates(split, kind);
  for (const name of names) {
    const path = join(dir, name);
    const found = probeFile(path);
    if (found === 'file') return path;
    if (found !== 'missing') throw new DatasetError(`${path}: ${found.problem}`, path, '(file)');
  }
  throw new DatasetError(
    `${dir}: no ${split === 'train' ? 'training' : 'test'} ${kind} file; looked for ${names.join(', ')}`,
    dir,
    '(directory)',
  );
}

export interface IdxDatasetOptions {
  /** Name prefix for the datasets (default `"idx"`). */
  name?: string;
  /**
   * Number of classes. Default: the largest label + 1 (at least 10), and then every class below it
   * must have training examples: a label past a gap (0–9 and 200) is a damaged file, not 191 classes.
   */
  numClasses?: number;
  classNames?: readonly string[];
}

/**
 * Reads an MNIST-format directory (MNIST, Fashion-MNIST, KMNIST): `train-images-idx3-ubyte[.gz]`,
 * `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`.
 * Samples are `[rows, cols, 1]` uint8 images.
 */
export function loadIdxDirectory(dir: string, options: IdxDatasetOptions = {}): { train: Dataset; test: Dataset } {
  const name = options.name ?? 'idx';
  const parts = (['train', 't10k'] as const).map((split) => {
    const imagesFile = findIdxFile(dir, split, 'images');
    const labelsFile = findIdxFile(dir, split, 'labels');
    const images = readIdxImages(imagesFile);
    const labels = readIdxLabels(labelsFile);
    if (labels.length !== images.count) {
      throw new DatasetError(`${labelsFile}: ${labels.length} labels, but ${imagesFile} has ${images.count} images`, labelsFile, 'header');
    }
    return { split, images, labels, labelsFile };
  });
  const [train, test] = parts;
  if (train.images.rows !== test.images.rows || train.images.cols !== test.images.cols) {
    throw new DatasetError(
      `${dir}: training images are ${train.images.rows}×${train.images.cols} but test images are ${test.images.rows}×${test.images.cols}`,
      dir,
    );
  }
  let maxLabel = 0;
  for (const p of parts) for (const l of p.labels) if (l > maxLabel) maxLabel = l;
  const numClasses = options.numClasses ?? Math.max(10, maxLabel + 1);
  for (const p of parts) {
    const bad = p.labels.findIndex((l) => l >= numClasses);
    if (bad >= 0)
      throw new DatasetError(
        `${p.labelsFile}: labels[${bad}] is ${p.labels[bad]}, not below numClasses ${numClasses}`,
        p.labelsFile,
        `labels[${bad}]`,
      );
  }
  if (options.numClasses === undefined && numClasses > 10) {
    const present = new Uint8Array(numClasses);
    for (const l of train.labels) present[l] = 1;
    const absent = present.indexOf(0);
    if (absent >= 0) {
      const p = parts.find((q) => q.labels.includes(maxLabel))!;
      const at = p.labels.indexOf(maxLabel);
      throw new DatasetError(
        `${p.labelsFile}: labels[${at}] is ${maxLabel}, which would make ${numClasses} classes, but class ${absent} has no training example: ` +
          'a damaged label rather than a class. Labels must be 0…K−1 with every class in the training set (or give numClasses)',
        p.labelsFile,
        `labels[${at}]`,
      );
    }
  }
  const make = (p: (typeof parts)[number], suffix: string) =>
    Dataset.fromArrays({
      name: `${name}/${suffix}`,
      x: p.images.pixels,
      y: p.labels,
      sampleShape: [p.images.rows, p.images.cols, 1],
      numClasses,
      classNames: options.classNames,
    });
  return { train: make(train, 'train'), test: make(test, 'test') };
}
