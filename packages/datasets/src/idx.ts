import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { probeFile, readDatasetFile } from './files.js';
import {
  type IdxDatasetOptions,
  type IdxImages,
  type IdxSplit,
  MAX_DATASET_FILE_BYTES,
  idxDatasets,
  idxFileNames,
  idxImagesFromBytes,
  idxLabelsFromBytes,
} from './idx-dataset.js';

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
export function readIdxImages(file: string): IdxImages {
  return idxImagesFromBytes(readMaybeGzip(file), file);
}

/** Reads an IDX labels file (`.gz` or raw). */
export function readIdxLabels(file: string): Uint8Array {
  return idxLabelsFromBytes(readMaybeGzip(file), file);
}

/** Finds a split's images or labels file in `dir` (`train-images-idx3-ubyte[.gz]` and the `.idx3-ubyte` spelling). */
export function findIdxFile(dir: string, split: IdxSplit, kind: 'images' | 'labels'): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DatasetError(`${dir}: no such directory (expected IDX files such as ${idxFileNames(split, kind)[1]})`, dir, '(directory)');
  }
  const names = idxFileNames(split, kind);
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

/**
 * Reads an MNIST-format directory (MNIST, Fashion-MNIST, KMNIST): `train-images-idx3-ubyte[.gz]`,
 * `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`.
 * Samples are `[rows, cols, 1]` uint8 images.
 */
export function loadIdxDirectory(dir: string, options: IdxDatasetOptions = {}): { train: Dataset; test: Dataset } {
  const [train, test] = (['train', 't10k'] as const).map((split) => {
    const imagesFile = findIdxFile(dir, split, 'images');
    const labelsFile = findIdxFile(dir, split, 'labels');
    return { images: readIdxImages(imagesFile), labels: readIdxLabels(labelsFile), imagesFile, labelsFile };
  });
  return idxDatasets(train, test, dir, options);
}
