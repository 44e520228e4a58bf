import * as tf from '@tensorflow/tfjs';
import { check, ModelConfigError } from './errors.js';
import {
  checkSpatial,
  head,
  requireImage,
  resolveBatchNorm,
  resolveOptions,
  type BatchNormOptions,
  type ModelOptions,
  type Resolved,
} from './options.js';

type T = tf.SymbolicTensor;

/** A VGG feature configuration: conv3×3 widths, with `'M'` for a 2×2 max-pool. */
export type VggConfig = ReadonlyArray<number | 'M'>;

/** Config D (VGG-16) as the CIFAR references use it: the last max-pool dropped (13 convs, 4 pools). */
export const VGG16_CONFIG: VggConfig = Object.freeze([64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512]);
/** Config E (VGG-19), same convention (16 convs, 4 pools). */
export const VGG19_CONFIG: VggConfig = Object.freeze([
  64,
  64,
  'M',
  128,
  128,
  'M',
  256,
  256,
  256,
  256,
  'M',
  512,
  512,
  512,
  512,
  'M',
  512,
  512,
  512,
  512,
]);

export interface VggOptions extends ModelOptions, BatchNormOptions {
  /** The feature configuration (required for `vgg`; `vgg16`/`vgg19` set it). */
  config?: VggConfig;
}

export interface VggSmallOptions extends ModelOptions, BatchNormOptions {
  /** Widths of the stages (default [32, 64, 128]); a 2×2 max-pool separates consecutive stages. */
  widths?: readonly number[];
  /** conv3×3 layers per stage (default 2), or one count per stage. */
  convsPerStage?: number | readonly number[];
}

const CIFAR_SHAPE = [32, 32, 3];
const VGG_KEYS = ['config', 'batchNorm'] as const;

function build(r: Resolved, config: VggConfig, bnOverride: VggOptions['batchNorm']): tf.LayersModel {
  requireImage(r);
  check(
    Array.isArray(config) &&
      config.some((c) => c !== 'M') &&
      config.every((c) => c === 'M' || (Number.isSafeInteger(c) && (c as number) > 0)),
    `${r.model} config`,
    config,
    'an array of positive conv widths and "M" (max-pool), with at least one conv',
  );
  const bn = resolveBatchNorm(r, bnOverride);
  const input = tf.input({ shape: r.inputShape, name: 'input' });
  let x: T = input;
  let conv = 0;
  let pool = 0;
  for (const c of config) {
    if (c === 'M') {
      pool++;
      x = checkSpatial(r, tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${pool}` }).apply(x) as T, `pool${pool}`);
      continue;
    }
    conv++;
    const cin = x.shape[3] as number;
    x = tf.layers
      .conv2d({ filters: c, kernelSize: 3, padding: 'same', useBias: true, name: `conv${conv}`, ...r.inits.heNormalConv(3, cin) })
      .apply(x) as T;
    x = tf.layers.batchNormalization({ axis: -1, momentum: bn.momentum, epsilon: bn.epsilon, name: `bn${conv}` }).apply(x) as T;
    x = tf.layers.reLU({ name: `relu${conv}` }).apply(x) as T;
  }
  // The references average-pool the last 2×2 map (AvgPool 2 on 32×32; 4 on 64×64): a global average.
  x = tf.layers.globalAveragePooling2d({ name: 'avgpool' }).apply(x) as T;
  x = tf.layers.dense({ units: r.numClasses, name: 'classifier', ...r.inits.smallNormalLinear() }).apply(x) as T;
  return tf.model({ inputs: input, outputs: head(r, x), name: r.name });
}

/**
 * A CIFAR VGG from a configuration: conv3×3 with bias + BatchNorm + ReLU per width, 2×2 max-pool per
 * `'M'`, global average pooling, one dense classifier (docs/conventions.md, "Reference models"). With `init: 'pytorch'`
 * convs are N(0, √(2/(9·C_in))) untruncated, biases 0, the classifier N(0, 0.01), BatchNorm 0.9 / 1e-5.
 * Layers `conv<i>`, `bn<i>`, `classifier`.
 */
export function vgg(options: VggOptions & { config: VggConfig }): tf.LayersModel {
  const r = resolveOptions('vgg', options, { inputShape: CIFAR_SHAPE, name: 'vgg' }, VGG_KEYS);
  if (options?.config == null) throw new ModelConfigError('vgg needs a config, e.g. [64, "M", 128]');
  return build(r, options.config, options.batchNorm);
}

/** VGG-16-BN for CIFAR (config D; 14,710,464 conv weights, 4,224 conv biases, Linear(512, C)). */
export function vgg16(options: Omit<VggOptions, 'config'> = {}): tf.LayersModel {
  const r = resolveOptions('vgg16', options, { inputShape: CIFAR_SHAPE, name: 'vgg16' }, ['batchNorm']);
  return build(r, VGG16_CONFIG, options?.batchNorm);
}

/** VGG-19-BN for CIFAR (config E; 20,018,880 conv weights + 512·C classifier weights). */
export function vgg19(options: Omit<VggOptions, 'config'> = {}): tf.LayersModel {
  const r = resolveOptions('vgg19', options, { inputShape: CIFAR_SHAPE, name: 'vgg19' }, ['batchNorm']);
  return build(r, VGG19_CONFIG, options?.batchNorm);
}

/** The config `vggSmall` builds from widths and convs per stage. */
export function vggSmallConfig(widths: readonly number[] = [32, 64, 128], convsPerStage: number | readonly number[] = 2): VggConfig {
  check(
    Array.isArray(widths) && widths.length > 0 && widths.every((w) => Number.isSafeInteger(w) && w > 0),
    'vgg-small widths',
    widths,
    'a non-empty array of positive integers',
  );
  const counts = typeof convsPerStage === 'number' ? widths.map(() => convsPerStage) : [...convsPerStage];
  check(
    counts.length === widths.length && counts.every((c) => Number.isSafeInteger(c) && c > 0),
    'vgg-small convsPerStage',
    convsPerStage,
    `a positive integer or ${widths.length} of them (one per stage)`,
  );
  const config: Array<number | 'M'> = [];
  widths.forEach((w, s) => {
    if (s > 0) config.push('M');
    for (let i = 0; i < counts[s]; i++) config.push(w);
  });
  return config;
}

/**
 * A small CIFAR VGG: stages of `convsPerStage` conv3×3(+bias)+BN+ReLU at `widths` (default 2 × [32, 64,
 * 128], ≈ 0.29M parameters), 2×2 max-pools between stages, global average pooling, one dense layer.
 */
export function vggSmall(options: VggSmallOptions = {}): tf.LayersModel {
  const r = resolveOptions('vgg-small', options, { inputShape: CIFAR_SHAPE, name: 'vgg-small' }, ['widths', 'convsPerStage', 'batchNorm']);
  return build(r, vggSmallConfig(options?.widths, options?.convsPerStage), options?.batchNorm);
}
