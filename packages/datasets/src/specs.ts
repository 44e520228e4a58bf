import type { Augmentation, Dataset, Normalization } from './dataset.js';

/** Where Debian's `dataset-fashion-mnist` package installs the four IDX `.gz` files. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** CIFAR-10 normalisation of the references (docs/conventions.md, "Data preprocessing"). */
export const CIFAR10_NORMALIZATION: Normalization = Object.freeze({ mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] });
/** CIFAR-100 normalisation of the references (HyperSparse; docs/conventions.md, "Data preprocessing"). */
export const CIFAR100_NORMALIZATION: Normalization = Object.freeze({ mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761] });
/** The usual MNIST statistics; the references use none, so they apply only with `normalize: true`. */
export const MNIST_NORMALIZATION: Normalization = Object.freeze({ mean: [0.1307], std: [0.3081] });
/** The usual Fashion-MNIST statistics (only with `normalize: true`). */
export const FASHION_MNIST_NORMALIZATION: Normalization = Object.freeze({ mean: [0.286], std: [0.353] });
/** CIFAR training augmentation of the references: random 32×32 crop of the image zero-padded by 4, horizontal flip. */
export const CIFAR_AUGMENTATION: Augmentation = Object.freeze({ padCrop: 4, horizontalFlip: true });

/** Spec forms `loadDataset` accepts (for help texts). */
export const DATASET_SPECS = [
  'mnist',
  'fashion-mnist',
  'idx:<dir>',
  'cifar10:<dir>',
  'cifar100:<dir>',
  'synthetic[:<kind>][:<shape>]',
] as const;

/** Per-channel mean and std (population) of a dataset's values after `/scale`, over its current view. */
export function computeNormalization(dataset: Dataset): Normalization {
  const channels = dataset.sampleShape[dataset.sampleShape.length - 1];
  const perChannel = dataset.isImage ? channels : 1;
  const sum = new Float64Array(perChannel);
  const sq = new Float64Array(perChannel);
  for (let i = 0; i < dataset.size; i++) {
    const s = dataset.sample(i);
    for (let k = 0; k < s.length; k++) {
      const v = s[k] / dataset.scale;
      const c = perChannel === 1 ? 0 : k % perChannel;
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const count = (dataset.size * dataset.sampleSize) / perChannel;
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sq, (s, c) => Math.sqrt(Math.max(s / count - mean[c] * mean[c], 0)) || 1);
  return { mean, std };
}
