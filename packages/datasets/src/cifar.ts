import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset } from './dataset.js';
import { check, DatasetError } from './errors.js';
import { probeFile, readDatasetFile } from './files.js';

/** Pixels per CIFAR image: 32×32×3. */
export const CIFAR_IMAGE_BYTES = 3072;
const SIDE = 32;
const PLANE = SIDE * SIDE;

export const CIFAR10_TRAIN_FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
] as const;
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR100_TRAIN_FILE = 'train.bin';
export const CIFAR100_TEST_FILE = 'test.bin';

export type Cifar100Labels = 'fine' | 'coarse';

interface Format {
  /** 'CIFAR-10' or 'CIFAR-100'. */
  label: string;
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Which label byte is used. */
  labelOffset: 0 | 1;
  numClasses: number;
  /** Upper bound of the unused label byte, checked too (CIFAR-100's other label). */
  otherLimit?: number;
}

const CIFAR10: Format = { label: 'CIFAR-10', labelBytes: 1, labelOffset: 0, numClasses: 10 };
const cifar100 = (labels: Cifar100Labels): Format =>
  labels === 'fine'
    ? { label: 'CIFAR-100', labelBytes: 2, labelOffset: 1, numClasses: 100, otherLimit: 20 }
    : { label: 'CIFAR-100', labelBytes: 2, labelOffset: 0, numClasses: 20, otherLimit: 100 };

function recordCount(file: string, bytes: number, format: Format): number {
  const record = format.labelBytes + CIFAR_IMAGE_BYTES;
  if (bytes === 0 || bytes % record !== 0) {
    const layout = format.labelBytes === 1 ? '1 label byte + 3072 pixel bytes' : '2 label bytes (coarse, fine) + 3072 pixel bytes';
    throw new DatasetError(
      `${file}: ${bytes} bytes is not a whole, non-zero number of ${record}-byte ${format.label} records (${layout}); ` +
        `the file is truncated or not a ${format.label} binary file (a full 10000-image batch is ${10000 * record} bytes)`,
      file,
      '(length)',
    );
  }
  return bytes / record;
}

/**
 * Reads CIFAR binary files (records of label byte(s) + 1024 R + 1024 G + 1024 B, each plane row-major)
 * into one HWC uint8 array, validating record lengths and label ranges.
 */
function readCifarFiles(files: readonly string[], format: Format): { pixels: Uint8Array; labels: Uint8Array } {
  const contents = files.map((f) => readDatasetFile(f));
  const counts = contents.map((bytes, f) => recordCount(files[f], bytes.length, format));
  const total = counts.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(total * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(total);
  const record = format.labelBytes + CIFAR_IMAGE_BYTES;
  let n = 0;
  files.forEach((file, f) => {
    const bytes = contents[f];
    for (let r = 0; r < counts[f]; r++, n++) {
      const at = r * record;
      const label = bytes[at + format.labelOffset];
      if (label >= format.numClasses) {
        const which = format.labelBytes === 2 ? (format.labelOffset === 1 ? 'fine ' : 'coarse ') : '';
        throw new DatasetError(
          `${file}: record ${r} has ${which}label ${label}, not below ${format.numClasses}; not a ${format.label} file`,
          file,
          `record ${r} label`,
        );
      }
      if (format.otherLimit !== undefined && bytes[at + 1 - format.labelOffset] >= format.otherLimit) {
        throw new DatasetError(
          `${file}: record ${r} has label byte ${bytes[at + 1 - format.labelOffset]} out of range; not a ${format.label} file`,
          file,
          `record ${r} label`,
        );
      }
      labels[n] = label;
      const src = at + format.labelBytes;
      const dst = n * CIFAR_IMAGE_BYTES;
      for (let p = 0; p < PLANE; p++) {
        pixels[dst + 3 * p] = bytes[src + p];
        pixels[dst + 3 * p + 1] = bytes[src + PLANE + p];
        pixels[dst + 3 * p + 2] = bytes[src + 2 * PLANE + p];
      }
    }
  });
  return { pixels, labels };
}

/** Reads one CIFAR-10 binary batch (e.g. `data_batch_1.bin`) as HWC uint8 images and labels. */
export function readCifar10Batch(file: string): { count: number; pixels: Uint8Array; labels: Uint8Array } {
  const { pixels, labels } = readCifarFiles([file], CIFAR10);
  return { count: labels.length, pixels, labels };
}

/** Reads one CIFAR-100 binary file (`train.bin`/`test.bin`), keeping the fine (default) or coarse labels. */
export function readCifar100File(file: string, labels: Cifar100Labels = 'fine'): { count: number; pixels: Uint8Array; labels: Uint8Array } {
  const read = readCifarFiles([file], cifar100(labels));
  return { count: read.labels.length, pixels: read.pixels, labels: read.labels };
}

/** `dir` itself if it holds `marker`, else `dir/sub` if that does; otherwise an error naming both. */
function resolveDir(dir: string, sub: string, marker: string, label: string): string {
  check(typeof dir === 'string' && dir.length > 0, `${label} directory`, dir, 'a path');
  if (existsSync(join(dir, marker))) return dir;
  if (existsSync(join(dir, sub, marker))) return join(dir, sub);
  throw new DatasetError(
    `${dir}: no ${label} binary files: looked for ${join(dir, marker)} and ${join(dir, sub, marker)} ` +
      `(extract the "binary version" archive, e.g. tar xzf ${sub === 'cifar-10-batches-bin' ? 'cifar-10-binary.tar.gz' : 'cifar-100-binary.tar.gz'})`,
    dir,
  );
}

function readNames(file: string, count: number): string[] | undefined {
  if (probeFile(file) === 'missing') return undefined;
  const names = new TextDecoder()
    .decode(readDatasetFile(file, 2 ** 20))
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return names.length === count ? names : undefined;
}

function requireFiles(dir: string, names: readonly string[], label: string): string[] {
  const paths = names.map((n) => join(dir, n));
  for (const path of paths) {
    const found = probeFile(path);
    if (typeof found === 'object') throw new DatasetError(`${path}: ${found.problem}`, path, '(file)');
  }
  const missing = paths.filter((p) => probeFile(p) === 'missing');
  if (missing.length > 0) throw new DatasetError(`${dir}: ${label} is incomplete: missing ${missing.join(', ')}`, missing[0], '(file)');
  return paths;
}

const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/**
 * CIFAR-10 from the binary version: `data_batch_1..5.bin` and `test_batch.bin` in `dir` or in
 * `dir/cifar-10-batches-bin`. 50,000 + 10,000 images of `[32, 32, 3]` uint8 (HWC).
 */
export function loadCifar10Directory(dir: string): { train: Dataset; test: Dataset; dir: string } {
  const root = resolveDir(dir, 'cifar-10-batches-bin', CIFAR10_TEST_FILE, 'CIFAR-10');
  const trainFiles = requireFiles(root, CIFAR10_TRAIN_FILES, 'CIFAR-10');
  const [testFile] = requireFiles(root, [CIFAR10_TEST_FILE], 'CIFAR-10');
  const classNames = readNames(join(root, 'batches.meta.txt'), 10) ?? CIFAR10_NAMES;
  const make = (files: string[], split: string) => {
    const { pixels, labels } = readCifarFiles(files, CIFAR10);
    return Dataset.fromArrays({ name: `cifar10/${split}`, x: pixels, y: labels, sampleShape: [SIDE, SIDE, 3], numClasses: 10, classNames });
  };
  return { train: make(trainFiles, 'train'), test: make([testFile], 'test'), dir: root };
}

/**
 * CIFAR-100 from the binary version: `train.bin` and `test.bin` in `dir` or `dir/cifar-100-binary`;
 * each record carries a coarse (20) and a fine (100) label: `labels` picks one (default fine).
 */
export function loadCifar100Directory(dir: string, labels: Cifar100Labels = 'fine'): { train: Dataset; test: Dataset; dir: string } {
  check(labels === 'fine' || labels === 'coarse', 'cifar100 labels', labels, '"fine" or "coarse"');
  const root = resolveDir(dir, 'cifar-100-binary', CIFAR100_TEST_FILE, 'CIFAR-100');
  const [trainFile, testFile] = requireFiles(root, [CIFAR100_TRAIN_FILE, CIFAR100_TEST_FILE], 'CIFAR-100');
  const format = cifar100(labels);
  const classNames = readNames(join(root, labels === 'fine' ? 'fine_label_names.txt' : 'coarse_label_names.txt'), format.numClasses);
  const make = (file: string, split: string) => {
    const read = readCifarFiles([file], format);
    return Dataset.fromArrays({
      name: `cifar100${labels === 'coarse' ? '-coarse' : ''}/${split}`,
      x: read.pixels,
      y: read.labels,
      sampleShape: [SIDE, SIDE, 3],
      numClasses: format.numClasses,
      classNames,
    });
  };
  return { train: make(trainFile, 'train'), test: make(testFile, 'test'), dir: root };
}
