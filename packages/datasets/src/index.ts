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
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  findIdxFile,
  loadIdxDirectory,
  parseIdx,
  readIdxImages,
  readIdxLabels,
  readMaybeGzip,
  type IdxArray,
  type IdxDatasetOptions,
  type IdxSplit,
} from './idx.js';
export {
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  CIFAR100_TEST_FILE,
  CIFAR100_TRAIN_FILE,
  CIFAR_IMAGE_BYTES,
  loadCifar100Directory,
  loadCifar10Directory,
  readCifar100File,
  readCifar10Batch,
  type Cifar100Labels,
} from './cifar.js';
export {
  BUNDLED_MNIST_SIZE,
  BUNDLED_MNIST_SPLIT_SEED,
  BUNDLED_MNIST_TEST_SIZE,
  BUNDLED_MNIST_TRAIN_SIZE,
  loadBundledMnist,
} from './mnist-bundled.js';
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
  fashionMnistAvailable,
  loadDataset,
  type LoadDatasetOptions,
  type LoadedDataset,
} from './load.js';
