import * as tf from '@tensorflow/tfjs';
import { check } from './errors.js';
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
import type { BatchNormSettings } from './init.js';

type T = tf.SymbolicTensor;

export interface ResNetOptions extends ModelOptions, BatchNormOptions {
  /** 6n+2 (20, 32, 44, 56, 110, …); default 20. */
  depth?: number;
  /** Multiplies the stage widths 16/32/64 (default 1; 2 gives ResNet-32×2's 32/64/128). */
  widthMultiplier?: number;
}

const CIFAR_SHAPE = [32, 32, 3];

function convBn(
  r: Resolved,
  bn: BatchNormSettings,
  x: T,
  filters: number,
  kernelSize: number,
  strides: number,
  name: string,
  bnName: string,
): T {
  const y = tf.layers
    .conv2d({
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      name,
      kernelInitializer: r.inits.heNormalConv(kernelSize, filters).kernelInitializer,
    })
    .apply(x) as T;
  checkSpatial(r, y, name);
  return tf.layers.batchNormalization({ axis: -1, momentum: bn.momentum, epsilon: bn.epsilon, name: bnName }).apply(y) as T;
}

/**
 * BasicBlock: conv3×3(stride)–BN–ReLU–conv3×3–BN, plus the shortcut (identity, or 1×1 conv(stride) + BN
 * when the shape changes), then ReLU.
 */
function basicBlock(r: Resolved, bn: BatchNormSettings, x: T, filters: number, strides: number, prefix: string): T {
  let y = convBn(r, bn, x, filters, 3, strides, `${prefix}.conv1`, `${prefix}.bn1`);
  y = tf.layers.reLU({ name: `${prefix}.relu1` }).apply(y) as T;
  y = convBn(r, bn, y, filters, 3, 1, `${prefix}.conv2`, `${prefix}.bn2`);
  const cin = x.shape[3] as number;
  const shortcut =
    strides !== 1 || cin !== filters ? convBn(r, bn, x, filters, 1, strides, `${prefix}.shortcut.conv`, `${prefix}.shortcut.bn`) : x;
  const sum = tf.layers.add({ name: `${prefix}.add` }).apply([y, shortcut]) as T;
  return tf.layers.reLU({ name: `${prefix}.relu2` }).apply(sum) as T;
}

/**
 * CIFAR ResNet (He et al. 2016, §4.2; docs/conventions.md, "Reference models"): stem conv3×3 + BN + ReLU, three stages
 * of n = (depth − 2)/6 BasicBlocks at widths 16/32/64 × `widthMultiplier`, strides 1/2/2, projection
 * shortcuts (1×1 conv + BN) where the shape changes, global average pooling, Linear(64·k, C). Convs have
 * no bias. With `init: 'pytorch'` convs are N(0, √(2/(k²·C_out))) untruncated (fan-out), the classifier
 * N(0, 0.01) with zero bias, BatchNorm γ = 1, β = 0, momentum 0.9 (PyTorch 0.1), ε 1e-5.
 * Layers `conv1`, `bn1`, `layer<s>.<b>.conv1|bn1|conv2|bn2|shortcut.conv|shortcut.bn`, `fc`.
 */
export function cifarResNet(options: ResNetOptions = {}): tf.LayersModel {
  const o = options ?? {};
  const depth = o.depth ?? 20;
  const k = o.widthMultiplier ?? 1;
  check(
    Number.isSafeInteger(depth) && depth >= 8 && (depth - 2) % 6 === 0,
    'resnet depth',
    depth,
    'a number 6n+2 with n ≥ 1 (20, 32, 44, 56, 110, …)',
  );
  check(Number.isSafeInteger(k) && k >= 1, 'resnet widthMultiplier', k, 'an integer ≥ 1');
  const defaultName = `resnet-${depth}${k > 1 ? `x${k}` : ''}`;
  const r = resolveOptions(defaultName, o, { inputShape: CIFAR_SHAPE, name: defaultName }, ['depth', 'widthMultiplier', 'batchNorm']);
  requireImage(r);
  const bn = resolveBatchNorm(r, o.batchNorm);
  const n = (depth - 2) / 6;
  const input = tf.input({ shape: r.inputShape, name: 'input' });
  let x = convBn(r, bn, input, 16 * k, 3, 1, 'conv1', 'bn1');
  x = tf.layers.reLU({ name: 'relu1' }).apply(x) as T;
  [16 * k, 32 * k, 64 * k].forEach((filters, s) => {
    for (let b = 0; b < n; b++) {
      x = basicBlock(r, bn, x, filters, s > 0 && b === 0 ? 2 : 1, `layer${s + 1}.${b}`);
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'avgpool' }).apply(x) as T;
  x = tf.layers.dense({ units: r.numClasses, name: 'fc', ...r.inits.smallNormalLinear() }).apply(x) as T;
  return tf.model({ inputs: input, outputs: head(r, x), name: r.name });
}

/** CIFAR ResNet-20 (n = 3): 270,256 conv weights with projection shortcuts. */
export function resnet20(options: Omit<ResNetOptions, 'depth'> = {}): tf.LayersModel {
  return cifarResNet({ ...options, depth: 20 });
}

/** CIFAR ResNet-32 (n = 5); `widthMultiplier: 2` gives HyperSparse's ResNet-32×2 (1,855,584 kernel weights on CIFAR-10). */
export function resnet32(options: Omit<ResNetOptions, 'depth'> = {}): tf.LayersModel {
  return cifarResNet({ ...options, depth: 32 });
}
