export { DatasetError } from './errors.js';
export { Rng, deriveSeed, mulberry32, permutation } from './random.js';
export {
  Dataset,
  type Augmentation,
  type Batch,
  type BatchOptions,
  type DatasetInit,
  type DatasetSummary,
  type LabelStorage,
  type Normalization,
  type SampleStorage,
} from './dataset.js';
export {
  MAX_DATASET_FILE_BYTES,
  idxDatasets,
  idxFileNames,
  idxImagesFromBytes,
  idxLabelsFromBytes,
  type IdxDatasetOptions,
  type IdxImages,
  type IdxSplit,
  type IdxSplitData,
} from './idx-dataset.js';
export {
  gunzip,
  loadIdx,
  loadIdxFromUrl,
  readDatasetBytes,
  readIdxImagesFrom,
  readIdxLabelsFrom,
  type ByteSource,
  type ByteSourceOptions,
  type IdxLoadOptions,
  type IdxSources,
} from './idx-fetch.js';
export { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parseIdx, type IdxArray } from './idx-parse.js';
export {
  BUNDLED_MNIST_SIZE,
  BUNDLED_MNIST_SPLIT_SEED,
  BUNDLED_MNIST_TEST_SIZE,
  BUNDLED_MNIST_TRAIN_SIZE,
  bundledMnistFromDigits,
} from './mnist-digits.js';
export { SYNTHETIC_DEFAULTS, syntheticDataset, type SyntheticKind, type SyntheticOptions } from './synthetic.js';
export {
  CIFAR10_NORMALIZATION,
  CIFAR100_NORMALIZATION,
  CIFAR_AUGMENTATION,
  DATASET_SPECS,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEBIAN_DIR,
  FASHION_MNIST_NORMALIZATION,
  MNIST_NORMALIZATION,
  computeNormalization,
} from './specs.js';
