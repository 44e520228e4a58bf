import type * as tf from '@tensorflow/tfjs';
import { ModelConfigError, show } from './errors.js';
import { lenet300100, lenet5, lenet5Caffe } from './lenet.js';
import type { ModelOptions } from './options.js';
import { cifarResNet, type ResNetOptions } from './resnet.js';
import { vgg16, vgg19, vggSmall, type VggSmallOptions } from './vgg.js';

/** Everything `createModel` may pass on; each model accepts the common options plus its own. */
export type CreateModelOptions = ModelOptions & Omit<VggSmallOptions, keyof ModelOptions> & Omit<ResNetOptions, keyof ModelOptions>;

export interface ModelInfo {
  name: string;
  description: string;
  /** Default input shape (one sample). */
  inputShape: number[];
  /** `mnist` models take 28×28×1 (or vectors, LeNet-300-100); `cifar` models take 32×32×3. */
  family: 'mnist' | 'cifar';
  /** Options beyond the common ones (inputShape, numClasses, seed, init, softmax, name). */
  options: string[];
}

interface Entry extends ModelInfo {
  build: (options: CreateModelOptions) => tf.LayersModel;
}

const MNIST = [28, 28, 1];
const CIFAR = [32, 32, 3];

const resnet = (depth: number, k = 1): Entry => ({
  name: `resnet-${depth}${k > 1 ? `x${k}` : ''}`,
  description: `CIFAR ResNet-${depth}${k > 1 ? ` ×${k}` : ''}: ${(depth - 2) / 6} BasicBlocks per stage, widths ${[16, 32, 64].map((w) => w * k).join('/')}, projection shortcuts`,
  inputShape: CIFAR,
  family: 'cifar',
  options: ['batchNorm'],
  build: (o) => {
    const { depth: d, widthMultiplier: w, ...rest } = o;
    if (d !== undefined && d !== depth)
      throw new ModelConfigError(`resnet-${depth}${k > 1 ? `x${k}` : ''}: option depth ${show(d)} contradicts the name`);
    if (w !== undefined && w !== k)
      throw new ModelConfigError(`resnet-${depth}${k > 1 ? `x${k}` : ''}: option widthMultiplier ${show(w)} contradicts the name`);
    return cifarResNet({ ...rest, depth, widthMultiplier: k });
  },
});

const ENTRIES: Entry[] = [
  {
    name: 'lenet-300-100',
    description: 'MLP 784-300-100-10, ReLU (266,610 parameters)',
    inputShape: MNIST,
    family: 'mnist',
    options: [],
    build: lenet300100,
  },
  {
    name: 'lenet-5',
    description: "LeNet-5 of HALO's MNIST code: conv 6/16, fc 400-120-84-10 (61,706 parameters)",
    inputShape: MNIST,
    family: 'mnist',
    options: [],
    build: lenet5,
  },
  {
    name: 'lenet-5-caffe',
    description: 'LeNet-5-Caffe of DeepHoyer: conv 20/50, fc 800-500-10 (431,080 parameters)',
    inputShape: MNIST,
    family: 'mnist',
    options: [],
    build: lenet5Caffe,
  },
  {
    name: 'vgg-small',
    description: 'small CIFAR VGG: 2 × conv3×3-BN-ReLU at widths 32/64/128, GAP, one dense layer',
    inputShape: CIFAR,
    family: 'cifar',
    options: ['widths', 'convsPerStage', 'batchNorm'],
    build: vggSmall,
  },
  {
    name: 'vgg16',
    description: 'VGG-16-BN for CIFAR (config D, conv biases, GAP, Linear(512, C))',
    inputShape: CIFAR,
    family: 'cifar',
    options: ['batchNorm'],
    build: vgg16,
  },
  {
    name: 'vgg19',
    description: 'VGG-19-BN for CIFAR (config E, conv biases, GAP, Linear(512, C))',
    inputShape: CIFAR,
    family: 'cifar',
    options: ['batchNorm'],
    build: vgg19,
  },
  resnet(20),
  resnet(32),
  resnet(32, 2),
  resnet(44),
  resnet(56),
  resnet(110),
];

/** The registered names (`resnet-<6n+2>` and `resnet-<6n+2>x<k>` are accepted too). */
export const MODEL_NAMES: readonly string[] = Object.freeze(ENTRIES.map((e) => e.name));

function lookup(name: unknown): Entry {
  const found = ENTRIES.find((e) => e.name === name);
  if (found) return found;
  if (typeof name === 'string') {
    const m = /^resnet-(\d+)(?:x(\d+))?$/.exec(name);
    if (m) {
      const depth = Number(m[1]);
      const k = m[2] === undefined ? 1 : Number(m[2]);
      if (depth >= 8 && (depth - 2) % 6 === 0 && k >= 1) return resnet(depth, k);
    }
  }
  throw new ModelConfigError(`unknown model ${show(name)}; valid: ${MODEL_NAMES.join(', ')} (or any resnet-<6n+2>, resnet-<6n+2>x<k>)`);
}

/** Builds a registered model by name; options as the builder takes them (unknown options are errors). */
export function createModel(name: string, options: CreateModelOptions = {}): tf.LayersModel {
  const entry = lookup(name);
  return entry.build({ name: entry.name, ...options });
}

/** Description, default input shape and extra options of a model name. */
export function modelInfo(name: string): ModelInfo {
  const { build: _build, ...info } = lookup(name);
  return { ...info, inputShape: info.inputShape.slice(), options: info.options.slice() };
}

/** Every registered model. */
export function listModels(): ModelInfo[] {
  return MODEL_NAMES.map(modelInfo);
}
