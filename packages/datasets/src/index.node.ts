// The Node entry (export condition `node`, and `@sparsify/datasets/node`): the portable entry plus
// the readers of files and directories (IDX, CIFAR, the bundled digits from the installed package).
export * from './index.js';
export {
  findIdxFile,
  loadIdxDirectory,
  readIdxImages,
  readIdxLabels,
  readMaybeGzip,
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
export { loadBundledMnist } from './mnist-bundled.js';
export { fashionMnistAvailable, loadDataset, type LoadDatasetOptions, type LoadedDataset } from './load.js';
