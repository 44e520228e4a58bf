import * as tf from '@tensorflow/tfjs';
import { check, checkInteger, checkSeed, DatasetError, show } from './errors.js';
import { deriveSeed, mulberry32, permutation } from './random.js';

/** Compact sample storage, row-major `[n, ...sampleShape]` (HWC for images). */
export type SampleStorage = Uint8Array | Float32Array;
/** Class ids, one per sample. */
export type LabelStorage = Uint8Array | Int32Array;

/**
 * Per-channel normalisation applied when batches are made: `x = (raw / scale − mean[c]) / std[c]`.
 * `mean` and `std` have length 1 (every value) or the size of the last sample axis (the channels of an
 * HWC image, the features of a vector).
 */
export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * Training augmentation for HWC images (docs/conventions.md, "Data preprocessing"): a random crop of the original size
 * from the image zero-padded by `padCrop` pixels on each side (the padding is raw pixel 0, before
 * normalisation, as torchvision's `RandomCrop(32, padding=4)`), then a horizontal flip with
 * probability 1/2. Seeded per batch from (seed, epoch, batch index).
 */
export interface Augmentation {
  readonly padCrop?: number;
  readonly horizontalFlip?: boolean;
}

/** What `Dataset.fromArrays` needs. */
export interface DatasetInit {
  /** A label for messages and reports, e.g. `"mnist/train"`. */
  name: string;
  /** Samples, row-major `[n, ...sampleShape]`; images are HWC. */
  x: SampleStorage;
  /** Class ids in `[0, numClasses)`. */
  y: LabelStorage;
  /** Shape of one sample: `[H, W, C]` for images, `[d]` for vectors. */
  sampleShape: readonly number[];
  numClasses: number;
  /** Divisor applied to raw values when batches are made; default 255 for Uint8 storage, 1 for Float32. */
  scale?: number;
  classNames?: readonly string[];
  normalization?: Normalization | null;
  augmentation?: Augmentation | null;
}

/** One mini-batch. The caller owns the tensors: call `dispose()` (or `tf.dispose`) when done. */
export interface Batch {
  /** float32 `[b, ...sampleShape]` (NHWC for images), or `[b, sampleSize]` with `flatten`. */
  x: tf.Tensor;
  /** int32 class ids `[b]`. */
  y: tf.Tensor1D;
  /** float32 one-hot labels `[b, numClasses]` when `oneHot` was asked for, else null. */
  oneHot: tf.Tensor2D | null;
  /** Number of samples in this batch. */
  size: number;
  /** Position of this batch in its epoch (0-based). */
  index: number;
  dispose(): void;
}

export interface BatchOptions {
  /** Visit samples in a seeded random order (default false: dataset order). */
  shuffle?: boolean;
  /** Base seed for the order and the augmentation (default 0). */
  seed?: number;
  /** Epoch number: with `shuffle`, every epoch gets its own order from (seed, epoch) (default 0). */
  epoch?: number;
  /** Drop the last, smaller batch (default false). */
  dropRemainder?: boolean;
  /** Start at this batch index: resuming mid-epoch yields exactly the batches that remained (default 0). */
  startBatch?: number;
  /** Apply the dataset's augmentation (default true when it has one; false turns it off). */
  augment?: boolean;
  /** Also make float32 one-hot labels (default false). */
  oneHot?: boolean;
  /** Make `x` `[b, sampleSize]` instead of `[b, ...sampleShape]` (default false). */
  flatten?: boolean;
}

export interface DatasetSummary {
  name: string;
  size: number;
  sampleShape: number[];
  numClasses: number;
  storage: 'uint8' | 'float32';
  normalization: Normalization | null;
  augmentation: Augmentation | null;
}

interface Storage {
  readonly x: SampleStorage;
  readonly y: LabelStorage;
  readonly n: number;
}

interface ViewState {
  name: string;
  sampleShape: readonly number[];
  numClasses: number;
  scale: number;
  classNames: readonly string[] | null;
  normalization: Normalization | null;
  augmentation: Augmentation | null;
}

const AUGMENT_STREAM = 0x61756701;

/**
 * A labelled dataset held in compact storage (uint8 pixels or float32 values plus uint8/int32 labels).
 * Float tensors are only ever made one batch at a time. `subset`, `shuffle`, `split` and `take` return
 * views that share the storage (they hold an index array, not a copy of the samples).
 */
export class Dataset {
  readonly name: string;
  readonly sampleShape: readonly number[];
  /** Values per sample (product of `sampleShape`). */
  readonly sampleSize: number;
  readonly numClasses: number;
  /** Raw values are divided by this when batches are made (255 for uint8 pixels). */
  readonly scale: number;
  readonly classNames: readonly string[] | null;
  readonly normalization: Normalization | null;
  readonly augmentation: Augmentation | null;
  private readonly storage: Storage;
  /** Storage rows in view order; null means all rows in order. */
  private readonly index: Int32Array | null;

  private constructor(storage: Storage, index: Int32Array | null, state: ViewState) {
    this.storage = storage;
    this.index = index;
    this.name = state.name;
    this.sampleShape = Object.freeze(state.sampleShape.slice());
    this.sampleSize = state.sampleShape.reduce((a, b) => a * b, 1);
    this.numClasses = state.numClasses;
    this.scale = state.scale;
    this.classNames = state.classNames;
    this.normalization = state.normalization;
    this.augmentation = state.augmentation;
  }

  /** Wraps compact arrays (not copied) after validating shapes and labels. */
  static fromArrays(init: DatasetInit): Dataset {
    check(typeof init.name === 'string' && init.name.length > 0, 'name', init.name, 'a non-empty string');
    check(
      init.x instanceof Uint8Array || init.x instanceof Float32Array,
      `${init.name}: x`,
      typeName(init.x),
      'a Uint8Array or Float32Array',
    );
    check(init.y instanceof Uint8Array || init.y instanceof Int32Array, `${init.name}: y`, typeName(init.y), 'a Uint8Array or Int32Array');
    check(
      Array.isArray(init.sampleShape) && init.sampleShape.length > 0 && init.sampleShape.every((d) => Number.isSafeInteger(d) && d > 0),
      `${init.name}: sampleShape`,
      init.sampleShape,
      'a non-empty array of positive integers',
    );
    checkInteger(`${init.name}: numClasses`, init.numClasses, 1);
    const sampleSize = init.sampleShape.reduce((a, b) => a * b, 1);
    const n = init.y.length;
    if (init.x.length !== n * sampleSize) {
      throw new DatasetError(
        `${init.name}: x has ${init.x.length} values, expected ${n} samples × ${sampleSize} (sampleShape ${show(init.sampleShape)}) = ${n * sampleSize}`,
      );
    }
    for (let i = 0; i < n; i++) {
      const label = init.y[i];
      if (!(label >= 0 && label < init.numClasses)) {
        throw new DatasetError(`${init.name}: label ${label} of sample ${i} is outside [0, ${init.numClasses})`);
      }
    }
    const scale = init.scale ?? (init.x instanceof Uint8Array ? 255 : 1);
    check(Number.isFinite(scale) && scale > 0, `${init.name}: scale`, scale, 'a finite number > 0');
    if (init.classNames != null) {
      check(
        init.classNames.length === init.numClasses,
        `${init.name}: classNames`,
        init.classNames.length,
        `${init.numClasses} names (numClasses)`,
      );
    }
    const state: ViewState = {
      name: init.name,
      sampleShape: init.sampleShape,
      numClasses: init.numClasses,
      scale,
      classNames: init.classNames ? Object.freeze(init.classNames.slice()) : null,
      normalization: null,
      augmentation: null,
    };
    state.normalization = validateNormalization(init.normalization ?? null, state);
    state.augmentation = validateAugmentation(init.augmentation ?? null, state);
    return new Dataset({ x: init.x, y: init.y, n }, null, state);
  }

  /** Number of samples in this view. */
  get size(): number {
    return this.index ? this.index.length : this.storage.n;
  }

  /** True for `[H, W, C]` samples. */
  get isImage(): boolean {
    return this.sampleShape.length === 3;
  }

  /** The storage type of the samples. */
  get storageType(): 'uint8' | 'float32' {
    return this.storage.x instanceof Uint8Array ? 'uint8' : 'float32';
  }

  private state(overrides: Partial<ViewState> = {}): ViewState {
    return {
      name: this.name,
      sampleShape: this.sampleShape,
      numClasses: this.numClasses,
      scale: this.scale,
      classNames: this.classNames,
      normalization: this.normalization,
      augmentation: this.augmentation,
      ...overrides,
    };
  }

  private row(position: number): number {
    return this.index ? this.index[position] : position;
  }

  private checkPosition(position: number): void {
    if (!(Number.isInteger(position) && position >= 0 && position < this.size)) {
      throw new DatasetError(`${this.name}: sample index must be an integer in [0, ${this.size}); got ${show(position)}`);
    }
  }

  /** The class id of sample `position`. */
  label(position: number): number {
    this.checkPosition(position);
    return this.storage.y[this.row(position)];
  }

  /** All class ids, in view order (a copy). */
  labels(): Int32Array {
    const out = new Int32Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = this.storage.y[this.row(i)];
    return out;
  }

  /** Raw stored values of sample `position` (a copy, before scaling and normalisation). */
  sample(position: number): Uint8Array | Float32Array {
    this.checkPosition(position);
    const start = this.row(position) * this.sampleSize;
    return this.storage.x.slice(start, start + this.sampleSize);
  }

  /** Samples per class, in view order. */
  classCounts(): number[] {
    const counts = new Array<number>(this.numClasses).fill(0);
    for (let i = 0; i < this.size; i++) counts[this.storage.y[this.row(i)]]++;
    return counts;
  }

  /** A view of the given positions (in that order); shares storage. */
  subset(positions: ArrayLike<number>, name = this.name): Dataset {
    const index = new Int32Array(positions.length);
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i];
      this.checkPosition(p);
      index[i] = this.row(p);
    }
    return new Dataset(this.storage, index, this.state({ name }));
  }

  /** The first `count` samples (all of them when `count` ≥ size). */
  take(count: number, name = this.name): Dataset {
    checkInteger(`${this.name}: take count`, count, 0);
    if (count >= this.size) return name === this.name ? this : this.subset(range(this.size), name);
    return this.subset(range(count), name);
  }

  /** A view in a seeded random order (mulberry32 Fisher–Yates). */
  shuffle(seed: number): Dataset {
    checkSeed(`${this.name}: shuffle seed`, seed);
    return this.subset(permutation(this.size, seed));
  }

  /**
   * Seeded train/validation split. `validation` is a fraction in (0, 1) (rounded to a count) or a count
   * ≥ 1; both parts keep the dataset's relative order (shuffle them in `batches`). The validation part
   * keeps the normalisation and drops the augmentation (it is for evaluation).
   */
  split(validation: number, options: { seed?: number } = {}): { train: Dataset; validation: Dataset } {
    const seed = options.seed ?? 0;
    checkSeed(`${this.name}: split seed`, seed);
    const n = this.size;
    let count: number;
    if (typeof validation === 'number' && validation > 0 && validation < 1) count = Math.round(validation * n);
    else if (Number.isSafeInteger(validation) && validation >= 1) count = validation;
    else throw new DatasetError(`${this.name}: validation must be a fraction in (0, 1) or a count ≥ 1; got ${show(validation)}`);
    if (count < 1 || count >= n) {
      throw new DatasetError(
        `${this.name}: a validation split of ${show(validation)} leaves ${count} of ${n} samples for validation; need between 1 and ${n - 1}`,
      );
    }
    const perm = permutation(n, seed);
    const valPositions = perm.slice(0, count).sort();
    const trainPositions = perm.slice(count).sort();
    const valName = this.name.endsWith('/train') ? `${this.name.slice(0, -'/train'.length)}/validation` : `${this.name}/validation`;
    // The validation part is for evaluation: it keeps the normalisation but not the augmentation.
    return { train: this.subset(trainPositions), validation: this.subset(valPositions, valName).withAugmentation(null) };
  }

  /** The same samples with a different (or no) normalisation. */
  withNormalization(normalization: Normalization | null): Dataset {
    const state = this.state();
    state.normalization = validateNormalization(normalization, state);
    return new Dataset(this.storage, this.index, state);
  }

  /** The same samples with a different (or no) training augmentation. */
  withAugmentation(augmentation: Augmentation | null): Dataset {
    const state = this.state();
    state.augmentation = validateAugmentation(augmentation, state);
    return new Dataset(this.storage, this.index, state);
  }

  /** Number of batches `batches(batchSize, {dropRemainder})` yields. */
  numBatches(batchSize: number, dropRemainder = false): number {
    checkInteger(`${this.name}: batchSize`, batchSize, 1);
    return dropRemainder ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
  }

  /** The order (positions) one epoch visits: identity, or a permutation from (seed, epoch). */
  epochOrder(options: Pick<BatchOptions, 'shuffle' | 'seed' | 'epoch'> = {}): Int32Array {
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    checkSeed(`${this.name}: seed`, seed);
    checkInteger(`${this.name}: epoch`, epoch, 0);
    return options.shuffle ? permutation(this.size, deriveSeed(seed, epoch)) : range(this.size);
  }

  /**
   * Yields the epoch's mini-batches, made on demand: float32 tensors exist only for the batch being
   * used, and the caller disposes each one. Deterministic in (seed, epoch); `startBatch` resumes
   * mid-epoch with the same batches (and augmentation) an uninterrupted run would have seen.
   */
  *batches(batchSize: number, options: BatchOptions = {}): Generator<Batch, void, undefined> {
    const total = this.numBatches(batchSize, options.dropRemainder ?? false);
    const startBatch = options.startBatch ?? 0;
    checkInteger(`${this.name}: startBatch`, startBatch, 0);
    const order = this.epochOrder(options);
    const augment = this.augmentationFor(options.augment);
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    for (let b = startBatch; b < total; b++) {
      const positions = order.subarray(b * batchSize, Math.min((b + 1) * batchSize, this.size));
      yield this.makeBatch(positions, b, options, augment ? { aug: augment, seed: deriveSeed(seed, epoch, b, AUGMENT_STREAM) } : null);
    }
  }

  /** One batch of the given positions, in that order (no augmentation unless `augment: true` and `seed`). */
  batch(positions: ArrayLike<number>, options: Pick<BatchOptions, 'oneHot' | 'flatten' | 'augment' | 'seed'> = {}): Batch {
    check(positions.length > 0, `${this.name}: batch positions`, positions.length, 'a non-empty list');
    const pos = Int32Array.from(positions as ArrayLike<number>);
    for (const p of pos) this.checkPosition(p);
    const augment = options.augment === true ? this.augmentationFor(true) : null;
    return this.makeBatch(pos, 0, options, augment ? { aug: augment, seed: deriveSeed(options.seed ?? 0, AUGMENT_STREAM) } : null);
  }

  private augmentationFor(flag: boolean | undefined): Augmentation | null {
    if (flag === false) return null;
    if (flag === true && !this.augmentation) {
      throw new DatasetError(`${this.name}: augment: true but the dataset has no augmentation (use withAugmentation)`);
    }
    return this.augmentation;
  }

  private makeBatch(
    positions: ArrayLike<number>,
    index: number,
    options: Pick<BatchOptions, 'oneHot' | 'flatten'>,
    augment: { aug: Augmentation; seed: number } | null,
  ): Batch {
    const b = positions.length;
    const size = this.sampleSize;
    const xs = new Float32Array(b * size);
    const ys = new Int32Array(b);
    const rand = augment ? mulberry32(augment.seed) : null;
    const { offset, factor } = this.affine();
    const channels = offset.length;
    const src = this.storage.x;
    for (let i = 0; i < b; i++) {
      const row = this.row(positions[i]);
      ys[i] = this.storage.y[row];
      const base = row * size;
      const out = i * size;
      if (augment && rand) {
        this.augmentInto(xs, out, base, augment.aug, rand, offset, factor);
      } else if (channels === 1) {
        const o = offset[0];
        const f = factor[0];
        for (let k = 0; k < size; k++) xs[out + k] = src[base + k] * f + o;
      } else {
        for (let k = 0; k < size; k++) {
          const c = k % channels;
          xs[out + k] = src[base + k] * factor[c] + offset[c];
        }
      }
    }
    const shape = options.flatten ? [b, size] : [b, ...this.sampleShape];
    const x = tf.tensor(xs, shape, 'float32');
    const y = tf.tensor1d(ys, 'int32');
    let oneHot: tf.Tensor2D | null = null;
    if (options.oneHot) {
      const oh = new Float32Array(b * this.numClasses);
      for (let i = 0; i < b; i++) oh[i * this.numClasses + ys[i]] = 1;
      oneHot = tf.tensor2d(oh, [b, this.numClasses], 'float32');
    }
    return {
      x,
      y,
      oneHot,
      size: b,
      index,
      dispose() {
        x.dispose();
        y.dispose();
        oneHot?.dispose();
      },
    };
  }

  /** value = raw·factor[c] + offset[c], folding /scale and the normalisation together. */
  private affine(): { offset: Float64Array; factor: Float64Array } {
    const norm = this.normalization;
    const channels = norm ? Math.max(norm.mean.length, norm.std.length) : 1;
    const offset = new Float64Array(channels);
    const factor = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      const mean = norm ? norm.mean[norm.mean.length === 1 ? 0 : c] : 0;
      const std = norm ? norm.std[norm.std.length === 1 ? 0 : c] : 1;
      factor[c] = 1 / (this.scale * std);
      offset[c] = -mean / std;
    }
    return { offset, factor };
  }

  private augmentInto(
    xs: Float32Array,
    out: number,
    base: number,
    aug: Augmentation,
    rand: () => number,
    offset: Float64Array,
    factor: Float64Array,
  ): void {
    const [H, W, C] = this.sampleShape;
    const pad = aug.padCrop ?? 0;
    const dy = pad > 0 ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
    const dx = pad > 0 ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
    const flip = aug.horizontalFlip ? rand() < 0.5 : false;
    const channels = offset.length;
    const src = this.storage.x;
    for (let i = 0; i < H; i++) {
      const si = i + dy;
      for (let j = 0; j < W; j++) {
        const sj = (flip ? W - 1 - j : j) + dx;
        const inside = si >= 0 && si < H && sj >= 0 && sj < W;
        const o = out + (i * W + j) * C;
        const s = base + (si * W + sj) * C;
        for (let c = 0; c < C; c++) {
          const ch = channels === 1 ? 0 : c;
          xs[o + c] = (inside ? src[s + c] : 0) * factor[ch] + offset[ch];
        }
      }
    }
  }

  /** Plain-object description for logs and reports. */
  summary(): DatasetSummary {
    return {
      name: this.name,
      size: this.size,
      sampleShape: this.sampleShape.slice(),
      numClasses: this.numClasses,
      storage: this.storageType,
      normalization: this.normalization,
      augmentation: this.augmentation,
    };
  }

  toString(): string {
    return `${this.name}: ${this.size} × [${this.sampleShape.join(', ')}] ${this.storageType}, ${this.numClasses} classes`;
  }
}

function range(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

function typeName(value: unknown): string {
  return value == null ? String(value) : ((value as object).constructor?.name ?? typeof value);
}

function validateNormalization(norm: Normalization | null, state: ViewState): Normalization | null {
  if (norm == null) return null;
  const last = state.sampleShape[state.sampleShape.length - 1];
  const okLength = (a: unknown): a is number[] => Array.isArray(a) && (a.length === 1 || a.length === last);
  check(
    okLength(norm.mean) && norm.mean.every(Number.isFinite),
    `${state.name}: normalization.mean`,
    norm.mean,
    `1 or ${last} finite numbers`,
  );
  check(
    okLength(norm.std) && norm.std.every((s) => Number.isFinite(s) && s > 0),
    `${state.name}: normalization.std`,
    norm.std,
    `1 or ${last} finite numbers > 0`,
  );
  return Object.freeze({ mean: Object.freeze(norm.mean.slice()), std: Object.freeze(norm.std.slice()) });
}

function validateAugmentation(aug: Augmentation | null, state: ViewState): Augmentation | null {
  if (aug == null) return null;
  check(typeof aug === 'object', `${state.name}: augmentation`, aug, 'an object { padCrop?, horizontalFlip? } or null');
  const pad = aug.padCrop ?? 0;
  checkInteger(`${state.name}: augmentation.padCrop`, pad, 0);
  check(
    aug.horizontalFlip === undefined || typeof aug.horizontalFlip === 'boolean',
    `${state.name}: augmentation.horizontalFlip`,
    aug.horizontalFlip,
    'a boolean',
  );
  if (state.sampleShape.length !== 3) {
    throw new DatasetError(`${state.name}: augmentation needs [H, W, C] image samples; sampleShape is ${show(state.sampleShape)}`);
  }
  if (pad === 0 && !aug.horizontalFlip) return null;
  return Object.freeze({ padCrop: pad, horizontalFlip: aug.horizontalFlip ?? false });
}
