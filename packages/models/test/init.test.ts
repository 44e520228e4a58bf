import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Initializers, PYTORCH_BATCH_NORM, TFJS_BATCH_NORM, createModel, lenet300100, lenet5, resnet20, vgg, vgg16 } from '../src/index.js';
import { stats, useCpu, weight } from './helpers.js';

beforeAll(() => useCpu());

const models: tf.LayersModel[] = [];
function keep(m: tf.LayersModel): tf.LayersModel {
  models.push(m);
  return m;
}
afterEach(() => {
  models.splice(0).forEach((m) => m.dispose());
});

describe("init: 'pytorch' (the default)", () => {
  it('MNIST models: U(±1/√fan_in) for kernels and biases (PyTorch Linear/Conv2d defaults)', () => {
    const mlp = keep(lenet300100());
    const bound = 1 / Math.sqrt(784);
    const k = stats(weight(mlp, 'fc1', 'kernel'));
    expect(k.maxAbs).toBeLessThanOrEqual(bound);
    expect(k.maxAbs).toBeGreaterThan(0.999 * bound);
    expect(k.std / (bound / Math.sqrt(3))).toBeCloseTo(1, 2);
    expect(Math.abs(k.mean)).toBeLessThan(1e-4);
    const b = stats(weight(mlp, 'fc1', 'bias'));
    expect(b.maxAbs).toBeLessThanOrEqual(bound);
    expect(b.maxAbs).toBeGreaterThan(0.9 * bound);
    expect(stats(weight(mlp, 'fc3', 'bias')).maxAbs).toBeLessThanOrEqual(1 / Math.sqrt(100));
    const cnn = keep(lenet5());
    for (const [layer, fanIn] of [
      ['conv1', 25],
      ['conv2', 150],
      ['fc1', 400],
    ] as const) {
      const s = stats(weight(cnn, layer, 'kernel'));
      expect(s.maxAbs, layer).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
      expect(s.maxAbs, layer).toBeGreaterThan(0.95 / Math.sqrt(fanIn));
      expect(stats(weight(cnn, layer, 'bias')).maxAbs, layer).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
    }
  });

  it('VGG convs: untruncated N(0, √(2/(9·C_in))); conv biases 0; classifier N(0, 0.01), bias 0', () => {
    const m = keep(vgg16());
    // conv11 is 512 → 512 (2.36M weights); conv8 widens 256 → 512, where fan-in and fan-out differ.
    const wide = stats(weight(m, 'conv11', 'kernel'));
    const sigma = Math.sqrt(2 / (9 * 512));
    expect(wide.std / sigma).toBeCloseTo(1, 2);
    expect(wide.maxAbs / sigma).toBeGreaterThan(4); // untruncated; TF.js heNormal stops at 2σ, uniform at √3σ
    const widening = stats(weight(m, 'conv8', 'kernel')); // 256 → 512: fan-in 9·256
    expect(widening.std / Math.sqrt(2 / (9 * 256))).toBeCloseTo(1, 2);
    expect(stats(weight(m, 'conv8', 'bias')).maxAbs).toBe(0);
    const fc = stats(weight(m, 'classifier', 'kernel'));
    expect(fc.std / 0.01).toBeGreaterThan(0.95);
    expect(fc.std / 0.01).toBeLessThan(1.05);
    expect(fc.maxAbs).toBeGreaterThan(0.03); // > 3σ occurs in 5,120 untruncated draws
    expect(stats(weight(m, 'classifier', 'bias')).maxAbs).toBe(0);
  });

  it('ResNet convs: untruncated N(0, √(2/(k²·C_out))) (fan-out), no conv biases', () => {
    const m = keep(resnet20());
    const s = stats(weight(m, 'layer3.0.conv1', 'kernel')); // 3×3, 32 → 64: fan-out 576, fan-in 288
    expect(s.std / Math.sqrt(2 / (9 * 64))).toBeCloseTo(1, 1);
    expect(s.maxAbs / Math.sqrt(2 / (9 * 64))).toBeGreaterThan(3);
    const sc = stats(weight(m, 'layer3.0.shortcut.conv', 'kernel')); // 1×1, 32 → 64
    expect(sc.std / Math.sqrt(2 / 64)).toBeGreaterThan(0.9);
    expect(sc.std / Math.sqrt(2 / 64)).toBeLessThan(1.1);
    expect(m.getLayer('layer3.0.conv1').weights).toHaveLength(1);
    expect(stats(weight(m, 'fc', 'bias')).maxAbs).toBe(0);
  });

  it('BatchNorm: momentum 0.9 (PyTorch 0.1) and ε 1e-5; γ = 1, β = 0', () => {
    const m = keep(resnet20());
    const bns = m.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    expect(bns.length).toBe(1 + 9 * 2 + 2);
    for (const bn of bns) {
      const cfg = bn.getConfig();
      expect([cfg.momentum, cfg.epsilon]).toEqual([PYTORCH_BATCH_NORM.momentum, PYTORCH_BATCH_NORM.epsilon]);
    }
    expect(stats(weight(m, 'bn1', 'gamma'))).toMatchObject({ mean: 1, std: 0 });
    expect(stats(weight(m, 'bn1', 'beta')).maxAbs).toBe(0);
    const custom = keep(resnet20({ batchNorm: { momentum: 0.5 } }));
    expect(custom.getLayer('bn1').getConfig()).toMatchObject({ momentum: 0.5, epsilon: 1e-5 });
  });

  it('a training-mode pass moves the BatchNorm statistics by 0.1 of the batch statistics', () => {
    const m = keep(vgg({ config: [3], inputShape: [4, 4, 2], seed: 1 }));
    const x = tf.randomNormal([8, 4, 4, 2], 1, 1, 'float32', 3);
    tf.tidy(() => {
      m.apply(x, { training: true });
    });
    const batchMean = tf.tidy(() => tf.mean(m.getLayer('conv1').apply(x) as tf.Tensor, [0, 1, 2]));
    const moving = weight(m, 'bn1', 'moving_mean');
    const expected = tf.mul(batchMean, 0.1);
    expect(Array.from(moving.dataSync())).toEqual(Array.from(expected.dataSync()).map((v) => expect.closeTo(v, 5)));
    tf.dispose([x, batchMean, expected]);
  });
});

describe("init: 'tfjs'", () => {
  it('TF.js defaults: truncated glorotNormal kernels, zero biases, BatchNorm 0.99 / 1e-3', () => {
    const m = keep(createModel('lenet-300-100', { init: 'tfjs' }));
    const s = stats(weight(m, 'fc1', 'kernel'));
    const sigma = Math.sqrt(2 / (784 + 300));
    expect(s.maxAbs).toBeLessThanOrEqual(2 * sigma + 1e-6); // truncated at 2σ
    expect(stats(weight(m, 'fc1', 'bias')).maxAbs).toBe(0);
    const r = keep(createModel('resnet-20', { init: 'tfjs' }));
    expect(r.getLayer('bn1').getConfig()).toMatchObject({ momentum: TFJS_BATCH_NORM.momentum, epsilon: TFJS_BATCH_NORM.epsilon });
  });
});

describe('seeding', () => {
  const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  it('the same seed builds identical models; another seed does not', () => {
    for (const init of ['pytorch', 'tfjs'] as const) {
      const a = weights(keep(lenet5({ seed: 7, init })));
      expect(weights(keep(lenet5({ seed: 7, init })))).toEqual(a);
      const c = weights(keep(lenet5({ seed: 8, init })));
      expect(c[0]).not.toEqual(a[0]);
    }
    expect(weights(keep(resnet20({ seed: 3 })))).toEqual(weights(keep(resnet20({ seed: 3 }))));
    expect(weights(keep(lenet300100()))).toEqual(weights(keep(lenet300100({ seed: 0 })))); // default seed 0
  });
  it('every layer draws from its own stream', () => {
    const m = keep(resnet20({ seed: 1 }));
    const a = weight(m, 'layer1.0.conv1', 'kernel').dataSync();
    const b = weight(m, 'layer1.0.conv2', 'kernel').dataSync();
    const c = weight(m, 'layer1.1.conv1', 'kernel').dataSync();
    expect(Array.from(a.slice(0, 20))).not.toEqual(Array.from(b.slice(0, 20)));
    expect(Array.from(a.slice(0, 20))).not.toEqual(Array.from(c.slice(0, 20)));
    const seeds = new Initializers('pytorch', 1);
    const drawn = Array.from({ length: 1000 }, () => seeds.nextSeed());
    expect(new Set(drawn).size).toBe(1000);
    expect(new Initializers('pytorch', 1).nextSeed()).toBe(drawn[0]);
    expect(new Initializers('pytorch', 2).nextSeed()).not.toBe(drawn[0]);
  });
});
