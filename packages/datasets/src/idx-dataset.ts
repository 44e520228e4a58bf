import { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parseIdx } from './idx-parse.js';

/** The largest dataset file read, compressed or decompressed (1 GiB; full MNIST's training images are 47 MB). */
export const MAX_DATASET_FILE_BYTES = 2 ** 30;

export type IdxSplit = 'train' | 't10k';

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

/** An IDX images file's decoded bytes (gunzipped already) as `{count, rows, cols, pixels}`; `source` names it in errors. */
export function idxImagesFromBytes(bytes: Uint8Array, source: string): IdxImages {
  const { dims, data } = parseIdx(bytes, source, IDX_IMAGES_MAGIC);
  const [count, rows, cols] = dims;
  if (rows === 0 || cols === 0) throw new DatasetError(`${source}: header: images of ${rows}×${cols} pixels`, source, 'header');
  if (count === 0) throw new DatasetError(`${source}: header: the file holds no images (count 0)`, source, 'header');
  return { count, rows, cols, pixels: data };
}

/** An IDX labels file's decoded bytes (gunzipped already); `source` names it in errors. */
export function idxLabelsFromBytes(bytes: Uint8Array, source: string): Uint8Array {
  return parseIdx(bytes, source, IDX_LABELS_MAGIC).data;
}

/**
 * Names tried for a split's file, in order: `train-images-idx3-ubyte` and the `.idx3-ubyte` spelling,
 * each without and with `.gz` (`gzFirst` puts the `.gz` names first: fewer misses over a network).
 */
export function idxFileNames(split: IdxSplit, kind: 'images' | 'labels', gzFirst = false): string[] {
  const rank = kind === 'images' ? 3 : 1;
  const bases = [`${split}-${kind}-idx${rank}-ubyte`, `${split}-${kind}.idx${rank}-ubyte`];
  return bases.flatMap((b) => (gzFirst ? [`${b}.gz`, b] : [b, `${b}.gz`]));
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

/** One split as read: its images and labels, and the names of their files (for errors). */
export interface IdxSplitData {
  images: IdxImages;
  labels: Uint8Array;
  imagesFile: string;
  labelsFile: string;
}

/**
 * The training and test datasets of an MNIST-format pair of splits, after the checks every IDX reader
 * shares: as many labels as images, the same image size in both splits, labels below `numClasses`,
 * and no label past a gap (see `IdxDatasetOptions.numClasses`). `where` names the pair in errors.
 */
export function idxDatasets(
  train: IdxSplitData,
  test: IdxSplitData,
  where: string,
  options: IdxDatasetOptions = {},
): { train: Dataset; test: Dataset } {
  const name = options.name ?? 'idx';
  const parts = [train, test];
  for (const p of parts) {
    if (p.labels.length !== p.images.count) {
      throw new DatasetError(
        `${p.labelsFile}: ${p.labels.length} labels, but ${p.imagesFile} has ${p.images.count} images`,
        p.labelsFile,
        'header',
      );
    }
  }
  if (train.images.rows !== test.images.rows || train.images.cols !== test.images.cols) {
    throw new DatasetError(
      `${where}: training images are ${train.images.rows}×${train.images.cols} but test images are ${test.images.rows}×${test.images.cols}`,
      where,
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
  const make = (p: IdxSplitData, suffix: string) =>
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
