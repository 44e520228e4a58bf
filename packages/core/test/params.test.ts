import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeParams, groupAxes, selectParams } from '../src/index.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

function convNet(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, name: 'conv1' }));
  model.add(tf.layers.batchNormalization({ name: 'bn1' }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 6, name: 'fc1' }));
  model.add(tf.layers.dense({ units: 3, name: 'fc2' }));
  return model;
}

describe('selectParams', () => {
  const model = convNet();
  const names = (ps: { name: string }[]) => ps.map((p) => p.name);

  it('describes every trainable weight with layer kind, role and layout', () => {
    const all = describeParams(model);
    expect(all.map((p) => [p.layerName, p.layerClass, p.role, p.layout])).toEqual([
      ['conv1', 'Conv2D', 'kernel', 'conv2d'],
      ['conv1', 'Conv2D', 'bias', 'vector'],
      ['bn1', 'BatchNormalization', 'gamma', 'vector'],
      ['bn1', 'BatchNormalization', 'beta', 'vector'],
      ['fc1', 'Dense', 'kernel', 'dense'],
      ['fc1', 'Dense', 'bias', 'vector'],
      ['fc2', 'Dense', 'kernel', 'dense'],
      ['fc2', 'Dense', 'bias', 'vector'],
    ]);
    expect(all[0].shape).toEqual([3, 3, 1, 4]);
    expect(all[0].variable).toBe(model.layers[0].trainableWeights[0].read());
  });
  it('selects conv and dense kernels by default', () => {
    expect(names(selectParams(model))).toEqual(['conv1/kernel', 'fc1/kernel', 'fc2/kernel']);
  });
  it('biases, BatchNorm, first/last layer, types, names and exclusions are selectable', () => {
    expect(selectParams(model, { biases: true }).length).toBe(6);
    expect(names(selectParams(model, { kernels: false, batchNorm: true }))).toEqual(['bn1/gamma', 'bn1/beta']);
    expect(names(selectParams(model, { excludeFirst: true, excludeLast: true }))).toEqual(['fc1/kernel']);
    expect(names(selectParams(model, { layerTypes: ['Dense'] }))).toEqual(['fc1/kernel', 'fc2/kernel']);
    expect(names(selectParams(model, { names: [/^fc/], exclude: ['fc2'] }))).toEqual(['fc1/kernel']);
  });
  it('accepts a plain variable list, inferring roles and layouts from rank', () => {
    const k = tf.variable(tf.zeros([4, 3]), true, 'plain_kernel_2d');
    const c = tf.variable(tf.zeros([3, 3, 2, 5]), true, 'plain_conv');
    const b = tf.variable(tf.zeros([3]), true, 'plain_bias');
    expect(selectParams([k, c, b]).map((p) => p.layout)).toEqual(['dense', 'conv2d']);
    expect(selectParams([k, c, b], { biases: true }).length).toBe(3);
  });
  it('an empty selection is an error that lists what there was', () => {
    expect(() => selectParams(model, { layerTypes: ['LSTM'] })).toThrow(/selected no parameters.*conv1\/kernel \(Conv2D kernel\)/);
  });
  it('group axes follow the TF.js layouts', () => {
    expect(groupAxes({ layout: 'dense' })).toMatchObject({ input: [1], output: [0] });
    expect(groupAxes({ layout: 'conv2d' })).toMatchObject({ input: [0, 1, 3], output: [0, 1, 2], inputAxis: 2, outputAxis: 3 });
    expect(groupAxes({ layout: 'vector' })).toBeNull();
  });
});
