import * as tf from '@tensorflow/tfjs';
import { checkSpatial, head, requireImage, resolveOptions, type ModelOptions, type Resolved } from './options.js';

type T = tf.SymbolicTensor;

const MNIST_SHAPE = [28, 28, 1];

function dense(r: Resolved, x: T, units: number, name: string, relu: boolean): T {
  const fanIn = x.shape[x.shape.length - 1] as number;
  return tf.layers.dense({ units, activation: relu ? 'relu' : 'linear', name, ...r.inits.torchDefault(fanIn) }).apply(x) as T;
}

function conv(r: Resolved, x: T, filters: number, padding: 'same' | 'valid', name: string): T {
  const fanIn = 5 * 5 * (x.shape[3] as number);
  const y = tf.layers.conv2d({ filters, kernelSize: 5, padding, activation: 'relu', name, ...r.inits.torchDefault(fanIn) }).apply(x) as T;
  return checkSpatial(r, y, name);
}

function pool(r: Resolved, x: T, name: string): T {
  return checkSpatial(r, tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name }).apply(x) as T, name);
}

function finish(r: Resolved, input: T, logits: T): tf.LayersModel {
  return tf.model({ inputs: input, outputs: head(r, logits), name: r.name });
}

/**
 * LeNet-300-100 (docs/conventions.md, "Reference models"): 784-300-100-10 with ReLU, 266,610 parameters. Image
 * input (default `[28, 28, 1]`) is flattened first; `inputShape: [d]` takes vectors. Outputs logits.
 * Layers `fc1`, `fc2`, `fc3`.
 */
export function lenet300100(options: ModelOptions = {}): tf.LayersModel {
  const r = resolveOptions('lenet-300-100', options, { inputShape: MNIST_SHAPE, name: 'lenet-300-100' });
  const input = tf.input({ shape: r.inputShape, name: 'input' });
  let x: T = input;
  if (r.inputShape.length > 1) x = tf.layers.flatten({ name: 'flatten' }).apply(x) as T;
  x = dense(r, x, 300, 'fc1', true);
  x = dense(r, x, 100, 'fc2', true);
  return finish(r, input, dense(r, x, r.numClasses, 'fc3', false));
}

/**
 * LeNet-5 as in HALO's MNIST code: conv 6@5×5 'same' (PyTorch pad 2) → max-pool 2 →
 * conv 16@5×5 valid → max-pool 2 → fc 400-120-84-10, ReLU; 61,470 weights + 236 biases on 28×28.
 * Layers `conv1`, `conv2`, `fc1`, `fc2`, `fc3`.
 */
export function lenet5(options: ModelOptions = {}): tf.LayersModel {
  const r = resolveOptions('lenet-5', options, { inputShape: MNIST_SHAPE, name: 'lenet-5' });
  requireImage(r);
  const input = tf.input({ shape: r.inputShape, name: 'input' });
  let x = conv(r, input, 6, 'same', 'conv1');
  x = pool(r, x, 'pool1');
  x = conv(r, x, 16, 'valid', 'conv2');
  x = pool(r, x, 'pool2');
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as T;
  x = dense(r, x, 120, 'fc1', true);
  x = dense(r, x, 84, 'fc2', true);
  return finish(r, input, dense(r, x, r.numClasses, 'fc3', false));
}

/**
 * LeNet-5-Caffe as in DeepHoyer: conv 20@5×5 valid → max-pool 2 → conv 50@5×5 valid →
 * max-pool 2 → flatten 800 → fc 500 (ReLU) → fc 10; 431,080 parameters on 28×28.
 * Layers `conv1`, `conv2`, `fc1`, `fc2`.
 */
export function lenet5Caffe(options: ModelOptions = {}): tf.LayersModel {
  const r = resolveOptions('lenet-5-caffe', options, { inputShape: MNIST_SHAPE, name: 'lenet-5-caffe' });
  requireImage(r);
  const input = tf.input({ shape: r.inputShape, name: 'input' });
  let x = conv(r, input, 20, 'valid', 'conv1');
  x = pool(r, x, 'pool1');
  x = conv(r, x, 50, 'valid', 'conv2');
  x = pool(r, x, 'pool2');
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as T;
  x = dense(r, x, 500, 'fc1', true);
  return finish(r, input, dense(r, x, r.numClasses, 'fc2', false));
}
