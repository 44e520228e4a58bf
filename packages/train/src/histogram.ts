import type { MagnitudeHistogram } from './types.js';

/**
 * Histogram of log10|w| over [min, max] in `bins` equal bins (values outside are clamped into the
 * end bins); exact zeros are counted apart, since a log scale has no place for them.
 */
export function magnitudeHistogram(
  values: readonly (Float32Array | ArrayLike<number>)[],
  options: { bins?: number; min?: number; max?: number } = {},
): MagnitudeHistogram {
  const bins = options.bins ?? 40;
  const min = options.min ?? -6;
  const max = options.max ?? 1;
  const counts = new Array<number>(bins).fill(0);
  let zeros = 0;
  let total = 0;
  const width = (max - min) / bins;
  for (const array of values) {
    for (let i = 0; i < array.length; i++) {
      const v = Math.abs(array[i]);
      total++;
      if (v === 0) {
        zeros++;
        continue;
      }
      const b = Math.floor((Math.log10(v) - min) / width);
      counts[Math.min(bins - 1, Math.max(0, b))]++;
    }
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => min + i * width);
  return { edges, counts, zeros, total };
}
