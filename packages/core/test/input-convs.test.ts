import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainStep } from '../src/index.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

/** conv (linear, fed by the input) → pool → conv (fed by a layer) → dense. */
function convNet(seed: number, firstActivation: 'linear' | 'relu' = 'linear'): tf.LayersModel {
  const init = (s: number) => ({
    kernelInitializer: tf.initializers.glorotNormal({ seed: s }),
    biasInitializer: tf.initializers.randomNormal({ seed: s + 50, stddev: 0.1 }),
  });
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 3, inputShape: [8, 8, 2], activation: firstActivation, ...init(seed) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 2, padding: 'same', ...init(seed + 1) }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 3, ...init(seed + 2) }));
  return m;
}

const batch = () => ({ x: tf.randomNormal([5, 8, 8, 2], 0, 1, 'float32', 3), y: tf.tensor1d([0, 1, 2, 1, 0]) });

/** Conv2DBackpropInput kernels run by one training step. */
async function inputGradKernels(skipInputGradients: boolean, model: tf.LayersModel): Promise<number> {
  const step = createTrainStep({ model, optimizer: tf.train.sgd(0.1), skipInputGradients });
  const { x, y } = batch();
  const info = await tf.profile(() => {
    step.run(x, y);
  });
  tf.dispose([x, y]);
  return info.kernels.filter((k) => k.name === 'Conv2DBackpropInput').length;
}

describe('TrainStep skips the input gradient of convs fed by the model input', () => {
  it('trains as model.apply does (to float32 rounding of the bias add)', () => {
    const [fast, exact] = [convNet(1), convNet(1)];
    const steps = [
      createTrainStep({ model: fast, optimizer: tf.train.momentum(0.1, 0.9) }),
      createTrainStep({ model: exact, optimizer: tf.train.momentum(0.1, 0.9), skipInputGradients: false }),
    ];
    const { x, y } = batch();
    for (let i = 0; i < 5; i++) {
      const [a, b] = steps.map((s) => s.run(x, y));
      expect(a.loss).toBeCloseTo(b.loss, 5);
    }
    fast.trainableWeights.forEach((w, i) => {
      const [u, v] = [w.read().dataSync(), exact.trainableWeights[i].read().dataSync()];
      u.forEach((value, j) => expect(Math.abs(value - v[j])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v[j]))));
    });
    tf.dispose([x, y]);
  });

  it('runs one Conv2DBackpropInput fewer per step (the second conv still needs its own)', async () => {
    expect(await inputGradKernels(false, convNet(2))).toBe(2);
    expect(await inputGradKernels(true, convNet(2))).toBe(1);
  });

  it('leaves a conv with a fused activation alone (tfjs already runs it unfused under a tape)', async () => {
    expect(await inputGradKernels(true, convNet(3, 'relu'))).toBe(1);
  });

  it('restores the layers: predict afterwards is exactly the fused layer again', () => {
    const model = convNet(4);
    const { x, y } = batch();
    createTrainStep({ model, optimizer: tf.train.sgd(0) }).run(x, y);
    expect(Object.hasOwn(model.layers[0], 'call')).toBe(false);
    const out = model.predict(x) as tf.Tensor;
    const fused = tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: model.layers[0].getWeights()[0] as tf.Tensor4D,
      strides: 1,
      pad: 'valid',
      bias: model.layers[0].getWeights()[1],
    });
    const again = model.layers.slice(1).reduce((h, l) => l.apply(h) as tf.Tensor, fused as tf.Tensor);
    expect(Array.from(out.dataSync())).toEqual(Array.from(again.dataSync()));
    tf.dispose([x, y, out, fused, again]);
  });
});
