import * as tf from '@tensorflow/tfjs';
import { createModel } from '@sparsify/models';

export type WorkloadName = 'lenet-300-100' | 'lenet-5-caffe' | 'resnet-8' | 'resnet-20' | 'resnet-32' | 'vgg-small';

export interface Workload {
  readonly name: WorkloadName;
  readonly label: string;
  readonly batch: number;
  readonly inputShape: number[];
  build(seed: number): tf.LayersModel;
  /** PyTorch 1.13 CPU on the 2-core development machine, samples/s (docs/performance.md, "Reference figures"); LeNets only. */
  readonly pytorch?: [number, number];
}

const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotNormal({ seed }) });

/** LeNet-300-100: 784-300-100-10, ReLU. */
function lenet300100(seed: number): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 300, activation: 'relu', inputShape: [784], ...init(seed) }));
  m.add(tf.layers.dense({ units: 100, activation: 'relu', ...init(seed + 1) }));
  m.add(tf.layers.dense({ units: 10, ...init(seed + 2) }));
  return m;
}

/** LeNet-5-Caffe: conv 20@5×5 → maxpool 2 → conv 50@5×5 → maxpool 2 → fc 500 (ReLU) → fc 10. */
function lenet5Caffe(seed: number): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ filters: 20, kernelSize: 5, inputShape: [28, 28, 1], ...init(seed) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 50, kernelSize: 5, ...init(seed + 1) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 500, activation: 'relu', ...init(seed + 2) }));
  m.add(tf.layers.dense({ units: 10, ...init(seed + 3) }));
  return m;
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  'lenet-300-100': {
    name: 'lenet-300-100',
    label: 'LeNet-300-100 b=128',
    batch: 128,
    inputShape: [784],
    build: lenet300100,
    pytorch: [15000, 18000],
  },
  'lenet-5-caffe': {
    name: 'lenet-5-caffe',
    label: 'LeNet-5-Caffe b=64',
    batch: 64,
    inputShape: [28, 28, 1],
    build: lenet5Caffe,
    pytorch: [1600, 2100],
  },
  // @sparsify/models' CIFAR networks (pytorch/models.py mirrors them), on CIFAR-shaped random batches.
  // The cpu backend's stand-in for the CIFAR ResNets, whose conv backprop takes minutes a step at b=128.
  // A penalty's cost does not depend on the batch, so its overhead here bounds larger batches' from above.
  'resnet-8': {
    name: 'resnet-8',
    label: 'CIFAR ResNet-8 b=4',
    batch: 4,
    inputShape: [32, 32, 3],
    build: (seed) => createModel('resnet-8', { seed }),
  },
  'resnet-20': {
    name: 'resnet-20',
    label: 'CIFAR ResNet-20 b=128',
    batch: 128,
    inputShape: [32, 32, 3],
    build: (seed) => createModel('resnet-20', { seed }),
  },
  'resnet-32': {
    name: 'resnet-32',
    label: 'CIFAR ResNet-32 b=128',
    batch: 128,
    inputShape: [32, 32, 3],
    build: (seed) => createModel('resnet-32', { seed }),
  },
  'vgg-small': {
    name: 'vgg-small',
    label: 'CIFAR VGG-small b=128',
    batch: 128,
    inputShape: [32, 32, 3],
    build: (seed) => createModel('vgg-small', { seed }),
  },
};

/** A fixed random batch (the input pipeline is kept off the measured path). */
export function batchFor(w: Workload, seed = 7): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => ({
    x: tf.randomNormal([w.batch, ...w.inputShape], 0, 1, 'float32', seed),
    y: tf.oneHot(tf.randomUniform([w.batch], 0, 10, 'int32', seed + 1), 10),
  }));
}
