import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MODEL_NAMES,
  ModelConfigError,
  cifarResNet,
  createModel,
  lenet300100,
  lenet5,
  lenet5Caffe,
  listModels,
  modelInfo,
  vgg,
  vggSmall,
  vggSmallConfig,
} from '../src/index.js';
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

function forward(m: tf.LayersModel, batch: number): tf.Tensor {
  const shape = m.inputs[0].shape.slice(1) as number[];
  return tf.tidy(() => m.predict(tf.randomUniform([batch, ...shape], 0, 1, 'float32', 1)) as tf.Tensor);
}

describe('outputs', () => {
  it('logits of shape [batch, numClasses] for every small model (no softmax by default)', () => {
    for (const name of ['lenet-300-100', 'lenet-5', 'lenet-5-caffe', 'vgg-small', 'resnet-20']) {
      const m = keep(createModel(name, { numClasses: 7 }));
      const y = forward(m, 2);
      expect(y.shape, name).toEqual([2, 7]);
      const rowSums = tf.tidy(() => tf.sum(y, 1).dataSync());
      expect(
        Array.from(rowSums).some((s) => Math.abs(s - 1) > 1e-3),
        `${name} outputs logits`,
      ).toBe(true);
      expect(m.layers[m.layers.length - 1].getClassName(), name).toBe('Dense');
      expect(m.name).toBe(name);
      y.dispose();
    }
  });

  it('softmax: true appends a softmax', () => {
    const m = keep(lenet300100({ softmax: true }));
    const y = forward(m, 3);
    tf.tidy(() => Array.from(tf.sum(y, 1).dataSync()).forEach((s) => expect(s).toBeCloseTo(1, 5)));
    expect(m.layers[m.layers.length - 1].name).toBe('softmax');
    y.dispose();
  });

  it('input shapes: vectors for the MLP, other image sizes for the conv nets', () => {
    const mlp = keep(lenet300100({ inputShape: [784] }));
    expect(mlp.layers.some((l) => l.getClassName() === 'Flatten')).toBe(false);
    expect(mlp.countParams()).toBe(266_610);
    expect(keep(lenet300100({ inputShape: [20] })).countParams()).toBe(20 * 300 + 300 + 30_100 + 1010);
    const big = keep(lenet5({ inputShape: [32, 32, 1] }));
    expect(big.getLayer('flatten').outputShape).toEqual([null, 576]);
    expect(keep(lenet5Caffe({ inputShape: [32, 32, 1] })).getLayer('flatten').outputShape).toEqual([null, 1250]);
    const gray = keep(createModel('resnet-20', { inputShape: [28, 28, 1] }));
    const y = forward(gray, 1);
    expect(y.shape).toEqual([1, 10]);
    y.dispose();
    const v = keep(vggSmall({ widths: [4, 8], convsPerStage: [1, 2], inputShape: [8, 8, 3] }));
    expect(v.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.name)).toEqual(['conv1', 'conv2', 'conv3']);
    expect(vggSmallConfig([4, 8], [1, 2])).toEqual([4, 'M', 8, 8]);
  });

  it('predict leaves no tensors behind', () => {
    const m = keep(lenet5());
    forward(m, 1).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) forward(m, 2).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('LeNet-5 on cpu: one backward pass gives a finite, non-zero gradient for every weight (batch 2)', () => {
    const m = keep(lenet5({ seed: 2 }));
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 5);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([3, 8], 'int32'), 10));
    const { value, grads } = tf.variableGrads(() =>
      tf.tidy(() => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar),
    );
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(Object.keys(grads)).toHaveLength(m.trainableWeights.length);
    for (const [name, g] of Object.entries(grads)) {
      const norm = tf.tidy(() => tf.norm(g).dataSync()[0]);
      expect(Number.isFinite(norm) && norm > 0, name).toBe(true);
    }
    tf.dispose([x, y, value, grads]);
  });
});

describe('registry', () => {
  it('createModel builds every registered name; listModels/modelInfo describe them', () => {
    expect(MODEL_NAMES).toEqual(
      expect.arrayContaining(['lenet-300-100', 'lenet-5', 'lenet-5-caffe', 'vgg-small', 'vgg16', 'resnet-20', 'resnet-32']),
    );
    expect(listModels().map((m) => m.name)).toEqual([...MODEL_NAMES]);
    expect(modelInfo('lenet-5')).toMatchObject({ family: 'mnist', inputShape: [28, 28, 1] });
    expect(modelInfo('resnet-32x2')).toMatchObject({ family: 'cifar', inputShape: [32, 32, 3] });
    expect(modelInfo('resnet-50').description).toMatch(/8 BasicBlocks per stage/);
    const r = keep(createModel('resnet-50', { numClasses: 100 }));
    expect(r.name).toBe('resnet-50');
    expect(r.layers.filter((l) => l.getClassName() === 'Add')).toHaveLength(24);
  });

  it('unknown names list the valid ones', () => {
    expect(() => createModel('resnet-50-imagenet')).toThrow(ModelConfigError);
    expect(() => createModel('lenet')).toThrow(
      `unknown model "lenet"; valid: ${MODEL_NAMES.join(', ')} (or any resnet-<6n+2>, resnet-<6n+2>x<k>)`,
    );
    expect(() => createModel('resnet-21')).toThrow(/unknown model "resnet-21"/);
  });

  it('bad options are clear errors', () => {
    expect(() => createModel('lenet-5', { depth: 20 })).toThrow(
      'lenet-5 has no option "depth"; valid: inputShape, numClasses, seed, init, softmax, name',
    );
    expect(() => createModel('resnet-20', { depth: 32 })).toThrow('resnet-20: option depth 32 contradicts the name');
    expect(() => createModel('lenet-5', { inputShape: [784] })).toThrow('lenet-5 needs image input [H, W, C]; got inputShape [784]');
    expect(() => createModel('lenet-5', { inputShape: [8, 8, 1] })).toThrow(
      /lenet-5: inputShape \[8,8,1\] is too small: the feature map after conv2 would be 0×0/,
    );
    expect(() => createModel('lenet-5', { numClasses: 1 })).toThrow('lenet-5 numClasses must be an integer ≥ 2; got 1');
    expect(() => createModel('lenet-5', { init: 'kaiming' as never })).toThrow('lenet-5 init must be "pytorch" or "tfjs"; got "kaiming"');
    expect(() => createModel('lenet-5', { seed: 0.5 })).toThrow(/seed must be an integer/);
    expect(() => createModel('vgg-small', { widths: [] })).toThrow(/vgg-small widths must be a non-empty array/);
    expect(() => createModel('vgg-small', { convsPerStage: [1] })).toThrow(/convsPerStage must be a positive integer or 3 of them/);
    expect(() => createModel('resnet-20', { batchNorm: { momentum: 1 } })).toThrow(/batchNorm.momentum must be a number in \[0, 1\)/);
    expect(() => cifarResNet({ depth: 21 })).toThrow('resnet depth must be a number 6n+2 with n ≥ 1 (20, 32, 44, 56, 110, …); got 21');
    expect(() => vgg({} as never)).toThrow(/vgg needs a config/);
    expect(() => vgg({ config: ['M'] })).toThrow(/with at least one conv/);
  });
});
