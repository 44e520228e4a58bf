import { Dataset } from './dataset.js';
import { check, checkInteger, checkSeed } from './errors.js';
import { deriveSeed, Rng } from './random.js';

export type SyntheticKind = 'clusters' | 'teacher';

export interface SyntheticOptions {
  /**
   * `clusters` (default): one Gaussian cluster per class, centres ~ N(0, 1) per value, samples =
   * centre + noise·N(0, 1). `teacher`: inputs ~ N(0, 1), labels = argmax of a random seeded ReLU
   * network d → hidden → numClasses (not linearly separable, learnable by an MLP).
   */
  kind?: SyntheticKind;
  /** Shape of one sample: `[H, W, C]` (image-like) or `[d]` (default `[28, 28, 1]`). */
  shape?: readonly number[];
  /** Default 10. */
  numClasses?: number;
  /** Default 2048. */
  trainSize?: number;
  /** Default 512. */
  testSize?: number;
  /** Default 0. Same seed and options, same data. */
  seed?: number;
  /** `clusters`: within-class standard deviation (default 1). */
  noise?: number;
  /** `teacher`: hidden width (default 32). */
  hidden?: number;
}

export const SYNTHETIC_DEFAULTS = {
  kind: 'clusters' as SyntheticKind,
  shape: [28, 28, 1] as readonly number[],
  numClasses: 10,
  trainSize: 2048,
  testSize: 512,
  seed: 0,
  noise: 1,
  hidden: 32,
};

/**
 * Seeded synthetic classification data, float32 storage (scale 1, no normalisation), for tests and
 * smoke runs without any files. Train and test are drawn from the same distribution.
 */
export function syntheticDataset(options: SyntheticOptions = {}): { train: Dataset; test: Dataset } {
  const o = { ...SYNTHETIC_DEFAULTS, ...options };
  check(o.kind === 'clusters' || o.kind === 'teacher', 'synthetic kind', o.kind, '"clusters" or "teacher"');
  check(
    Array.isArray(o.shape) && o.shape.length > 0 && o.shape.every((d) => Number.isSafeInteger(d) && d > 0),
    'synthetic shape',
    o.shape,
    'a non-empty array of positive integers, e.g. [28, 28, 1] or [20]',
  );
  checkInteger('synthetic numClasses', o.numClasses, 2);
  checkInteger('synthetic trainSize', o.trainSize, 1);
  checkInteger('synthetic testSize', o.testSize, 1);
  checkSeed('synthetic seed', o.seed);
  check(Number.isFinite(o.noise) && o.noise >= 0, 'synthetic noise', o.noise, 'a finite number ≥ 0');
  checkInteger('synthetic hidden', o.hidden, 1);
  const d = o.shape.reduce((a, b) => a * b, 1);
  const n = o.trainSize + o.testSize;
  const x = new Float32Array(n * d);
  const y = new Uint8Array(n);
  check(o.numClasses <= 255, 'synthetic numClasses', o.numClasses, '≤ 255');

  if (o.kind === 'clusters') {
    const centres = new Float32Array(o.numClasses * d);
    const modelRng = new Rng(deriveSeed(o.seed, 1));
    for (let i = 0; i < centres.length; i++) centres[i] = modelRng.normal();
    const rng = new Rng(deriveSeed(o.seed, 2));
    for (let s = 0; s < n; s++) {
      const label = rng.int(o.numClasses);
      y[s] = label;
      for (let k = 0; k < d; k++) x[s * d + k] = centres[label * d + k] + o.noise * rng.normal();
    }
  } else {
    const h = o.hidden;
    const modelRng = new Rng(deriveSeed(o.seed, 3));
    const w1 = new Float32Array(d * h);
    const b1 = new Float32Array(h);
    const w2 = new Float32Array(h * o.numClasses);
    for (let i = 0; i < w1.length; i++) w1[i] = modelRng.normal() / Math.sqrt(d);
    for (let i = 0; i < h; i++) b1[i] = 0.5 * modelRng.normal();
    for (let i = 0; i < w2.length; i++) w2[i] = modelRng.normal() / Math.sqrt(h);
    const rng = new Rng(deriveSeed(o.seed, 4));
    const C = o.numClasses;
    const hid = new Float64Array(h);
    const logits = new Float64Array(n * C);
    for (let s = 0; s < n; s++) {
      const row = s * d;
      for (let k = 0; k < d; k++) x[row + k] = rng.normal();
      hid.set(b1);
      for (let k = 0; k < d; k++) {
        const v = x[row + k];
        const wr = k * h;
        for (let j = 0; j < h; j++) hid[j] += v * w1[wr + j];
      }
      for (let j = 0; j < h; j++) {
        if (hid[j] <= 0) continue;
        for (let c = 0; c < C; c++) logits[s * C + c] += hid[j] * w2[j * C + c];
      }
    }
    // Standardise each class's logit over the drawn samples before the argmax, so that classes are
    // roughly balanced (a raw random teacher gives a few classes most of the samples).
    for (let c = 0; c < C; c++) {
      let sum = 0;
      let sq = 0;
      for (let s = 0; s < n; s++) sum += logits[s * C + c];
      const mean = sum / n;
      for (let s = 0; s < n; s++) sq += (logits[s * C + c] - mean) ** 2;
      const std = Math.sqrt(sq / n) || 1;
      for (let s = 0; s < n; s++) logits[s * C + c] = (logits[s * C + c] - mean) / std;
    }
    for (let s = 0; s < n; s++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (logits[s * C + c] > logits[s * C + best]) best = c;
      y[s] = best;
    }
  }
  const name = `synthetic-${o.kind}`;
  const common = { sampleShape: o.shape.slice(), numClasses: o.numClasses, scale: 1 };
  return {
    train: Dataset.fromArrays({ name: `${name}/train`, x: x.subarray(0, o.trainSize * d), y: y.subarray(0, o.trainSize), ...common }),
    test: Dataset.fromArrays({ name: `${name}/test`, x: x.subarray(o.trainSize * d), y: y.subarray(o.trainSize), ...common }),
  };
}
