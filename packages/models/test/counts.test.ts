import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cifarResNet, createModel, lenet300100, lenet5, lenet5Caffe, parameterCounts, resnet32, vgg16, vgg19 } from '../src/index.js';
import { useCpu } from './helpers.js';

beforeAll(() => useCpu());

const models: tf.LayersModel[] = [];
function keep(m: tf.LayersModel): tf.LayersModel {
  models.push(m);
  return m;
}
afterEach(() => {
  models.splice(0).forEach((m) => m.dispose());
});

describe('parameter counts (docs/conventions.md, reference models)', () => {
  it('LeNet-300-100: 266,200 weights + 410 biases = 266,610', () => {
    const c = parameterCounts(keep(lenet300100()));
    expect([c.denseKernels, c.biases, c.total]).toEqual([266_200, 410, 266_610]);
    expect(keep(lenet300100()).countParams()).toBe(266_610);
  });

  it('LeNet-5 (HALO): 61,470 weights + 236 biases', () => {
    const m = keep(lenet5());
    const c = parameterCounts(m);
    expect([c.kernels, c.biases, c.total]).toEqual([61_470, 236, 61_706]);
    expect(
      m.layers
        .filter((l) => l.getClassName() === 'Conv2D' || l.getClassName() === 'Dense')
        .map((l) => (l.weights[0].shape as number[]).join('x')),
    ).toEqual(['5x5x1x6', '5x5x6x16', '400x120', '120x84', '84x10']);
  });

  it('LeNet-5-Caffe (DeepHoyer): 431,080 including biases, flatten 800', () => {
    const m = keep(lenet5Caffe());
    expect(parameterCounts(m).total).toBe(431_080);
    expect(m.getLayer('flatten').outputShape).toEqual([null, 800]);
  });

  it('VGG-16-BN: 14,710,464 conv weights and 4,224 conv biases; Linear(512, C)', () => {
    const m = keep(vgg16());
    const c = parameterCounts(m);
    expect(c.convKernels).toBe(14_710_464);
    expect(c.biases - 10).toBe(4_224);
    expect(m.getLayer('classifier').weights[0].shape).toEqual([512, 10]);
    expect(m.layers.filter((l) => l.getClassName() === 'Conv2D')).toHaveLength(13);
    expect(m.layers.filter((l) => l.getClassName() === 'MaxPooling2D')).toHaveLength(4);
  });

  it('VGG-19-BN: N = 20,024,000 kernel weights on CIFAR-10', () => {
    expect(parameterCounts(keep(vgg19())).kernels).toBe(20_024_000);
  });

  it('CIFAR ResNet "50" (HALO, n = 8): 754,096 conv weights, ≈ 0.76M parameters', () => {
    const c = parameterCounts(keep(cifarResNet({ depth: 50, numClasses: 100 })));
    expect(c.convKernels).toBe(754_096);
    expect(c.trainable / 1e6).toBeCloseTo(0.76, 2);
  });

  it('ResNet-32×2 (HyperSparse): N = 1,855,584 kernel weights (C10), 1,867,104 (C100)', () => {
    expect(parameterCounts(keep(resnet32({ widthMultiplier: 2 }))).kernels).toBe(1_855_584);
    expect(parameterCounts(keep(createModel('resnet-32x2', { numClasses: 100 }))).kernels).toBe(1_867_104);
  });

  it('ResNet-20/32/56: the usual sizes (0.27M / 0.47M / ≈ 0.85M)', () => {
    const trainable = (name: string) => parameterCounts(keep(createModel(name))).trainable;
    expect(trainable('resnet-20')).toBe(272_474);
    expect(trainable('resnet-32')).toBe(466_906);
    expect(trainable('resnet-56') / 1e6).toBeCloseTo(0.85, 1);
  });

  it('building and disposing a model leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    lenet5().dispose();
    createModel('resnet-20').dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
