import * as tf from '@tensorflow/tfjs';
import { createTrainStep, disposeMasks, disposeOptimizer, pruneByMagnitude, selectParams } from '@sparsify/core';
import { groupHoyerSquare } from '@sparsify/hoyer';
import { beforeAll, describe, expect, it } from 'vitest';
import { planShrink, shrink, type ShrinkPlan } from '../src/index.js';
import { maxAbsDiff, useCpu } from './helpers.js';

beforeAll(useCpu);

type T = tf.SymbolicTensor;

/** A deterministic pseudo-random value in [−1, 1) for index i of stream `seed`. */
function noise(i: number, seed: number): number {
  const s = Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453;
  return 2 * (s - Math.floor(s)) - 1;
}

/**
 * Fills every weight with seeded non-zero values, then applies `dead`: per layer name, the output units
 * (last kernel axis: a Dense neuron, a filter) whose incoming weights become 0 and the input units
 * (second-to-last axis) whose outgoing weights become 0. Biases stay non-zero, so a dead unit is its
 * activated bias: a constant `shrink` must fold forward.
 */
function setWeights(model: tf.LayersModel, dead: Record<string, { out?: number[]; in?: number[]; bias?: number[] }> = {}): void {
  let seed = 1;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[];
      const role = w.originalName.split('/').pop()!;
      const v = new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => 0.5 * noise(i, seed));
      seed++;
      if (role === 'moving_variance' || role === 'gamma') v.forEach((x, i) => (v[i] = 0.5 + Math.abs(x)));
      const d = dead[layer.name];
      if ((role === 'kernel' || role === 'depthwise_kernel') && d) {
        const [I, O] = shape.slice(-2);
        for (let k = 0; k < v.length; k++) {
          const [i, o] = [Math.floor(k / O) % I, k % O];
          if (d.out?.includes(o) || d.in?.includes(i)) v[k] = 0;
        }
      }
      if (role === 'bias' && d?.bias) for (const o of d.bias) v[o] = 0;
      return tf.tensor(v, shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

function batch(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    new Float32Array(n).map((_, i) => noise(i, seed)),
    shape,
  );
}

/** Shrinks `model`, checks outputs agree to 1e-5 on a batch, returns the plan and the shrunk model. */
async function shrinkAndCompare(
  model: tf.LayersModel,
  inputShape: number[],
  warnings: string[] = [],
): Promise<{ plan: ShrinkPlan; shrunk: tf.LayersModel }> {
  const plan = planShrink(model);
  const shrunk = await shrink(model, { warn: (m) => warnings.push(m) });
  const x = batch([8, ...inputShape], 7);
  const [a, b] = [model.predict(x) as tf.Tensor, shrunk.predict(x) as tf.Tensor];
  expect(b.shape).toEqual(a.shape);
  expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThanOrEqual(1e-5);
  tf.dispose([x, a, b]);
  expect(plan.parameters.after).toBe(shrunk.countParams());
  return { plan, shrunk };
}

const kept = (plan: ShrinkPlan) => Object.fromEntries(plan.layers.map((l) => [l.name, `${l.kept}/${l.total}`]));

describe('shrink', () => {
  it('removes dead neurons of an MLP, folds their bias forward, and drops neurons nothing reads', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [12], units: 10, activation: 'relu', name: 'fc1' }),
        tf.layers.dropout({ rate: 0.5, name: 'drop' }),
        tf.layers.dense({ units: 8, name: 'fc2' }),
        tf.layers.activation({ activation: 'tanh', name: 'tanh' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
      ],
    });
    // fc1: neurons 1, 4 constant (relu of a non-zero bias), 6 unread by fc2; fc2: neuron 2 constant,
    // neuron 5 unread by the output layer.
    setWeights(model, { fc1: { out: [1, 4] }, fc2: { in: [6], out: [2] }, out: { in: [5] } });
    const before = tf.memory().numTensors;
    const { plan, shrunk } = await shrinkAndCompare(model, [12]);
    expect(kept(plan)).toEqual({ fc1: '7/10', fc2: '6/8', out: '3/3' });
    expect(plan.layers[0]).toMatchObject({ unit: 'neurons', inputs: 12, inputsRead: 12 });
    expect(shrunk.getLayer('fc2').getWeights()[0].shape).toEqual([7, 6]);
    expect(shrunk.getClassName()).toBe('Sequential');
    expect(plan.unsupported).toEqual([]);
    shrunk.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('adds a bias to a reader without one when a removed constant feeds it', async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [6], units: 5, name: 'fc1' }), tf.layers.dense({ units: 2, useBias: false, name: 'fc2' })],
    });
    setWeights(model, { fc1: { out: [0, 3] } });
    const { plan, shrunk } = await shrinkAndCompare(model, [6]);
    expect(kept(plan)).toEqual({ fc1: '3/5', fc2: '2/2' });
    expect(shrunk.getLayer('fc2').getWeights().length).toBe(2);
    shrunk.dispose();
    model.dispose();
  });

  it('shrinks a CNN through BatchNormalization, ReLU, pooling, a depthwise conv and Flatten (channels last)', async () => {
    const input = tf.input({ shape: [10, 10, 3], name: 'image' });
    let x: T = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'valid', name: 'conv1' }).apply(input) as T;
    x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as T;
    x = tf.layers.reLU({ name: 'relu1' }).apply(x) as T;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x) as T;
    x = tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2' }).apply(x) as T;
    x = tf.layers.depthwiseConv2d({ kernelSize: 2, padding: 'valid', name: 'dw' }).apply(x) as T;
    x = tf.layers.averagePooling2d({ poolSize: 2, padding: 'same', name: 'pool2' }).apply(x) as T;
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as T;
    x = tf.layers.dense({ units: 7, activation: 'relu', name: 'fc1' }).apply(x) as T;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, name: 'out' }).apply(x) as T });
    // conv1: filters 1, 4 constant, and unread by conv2 (same padding: a non-zero constant could not
    // fold into it). conv2: filter 3 a constant 0 (zero weights and bias), dw's channel 3 then its bias;
    // dw's channel 0 has a zero kernel, so conv2's filter 0 is unread. Both channels reach fc1 through
    // pool2 and Flatten as constants and fold into its bias. fc1: neuron 2 constant, folded into out.
    setWeights(model, { conv1: { out: [1, 4] }, conv2: { in: [1, 4], out: [3], bias: [3] }, dw: { in: [0] }, fc1: { out: [2] } });
    const { plan, shrunk } = await shrinkAndCompare(model, [10, 10, 3]);
    expect(kept(plan)).toEqual({ conv1: '4/6', conv2: '3/5', dw: '3/5', fc1: '6/7', out: '4/4' });
    expect(shrunk.getLayer('bn1').getWeights()[0].shape).toEqual([4]);
    expect(shrunk.getLayer('fc1').getWeights()[0].shape).toEqual([2 * 2 * 3, 6]);
    shrunk.dispose();
    model.dispose();
  });

  it('keeps a non-zero constant channel that a same-padded conv reads (its border sees zeros)', async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv1' }).apply(input) as T;
    const c2 = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv2' }).apply(c1) as T;
    const model = tf.model({ inputs: input, outputs: tf.layers.globalAveragePooling2d({}).apply(c2) as T });
    setWeights(model, { conv1: { out: [2] } });
    const { plan, shrunk } = await shrinkAndCompare(model, [6, 6, 2]);
    expect(kept(plan)).toEqual({ conv1: '4/4', conv2: '3/3' });
    shrunk.dispose();
    model.dispose();
  });

  it('removes a channel tied by Add only where it is dead in every branch; Concatenate maps channels', async () => {
    const input = tf.input({ shape: [9] });
    const a = tf.layers.dense({ units: 6, activation: 'relu', name: 'a' }).apply(input) as T;
    const b = tf.layers.dense({ units: 6, activation: 'relu', name: 'b' }).apply(input) as T;
    const sum = tf.layers.add({ name: 'add' }).apply([a, b]) as T;
    const c = tf.layers.dense({ units: 4, activation: 'relu', name: 'c' }).apply(input) as T;
    const cat = tf.layers.concatenate({ name: 'cat' }).apply([sum, c]) as T;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, name: 'out' }).apply(cat) as T });
    // Channel 1 dead in both branches (removed); channel 3 dead in branch a only (kept in both);
    // c's neuron 2 dead (removed: cat's channel 6 + 2).
    setWeights(model, { a: { out: [1, 3] }, b: { out: [1] }, c: { out: [2] } });
    const { plan, shrunk } = await shrinkAndCompare(model, [9]);
    expect(kept(plan)).toEqual({ a: '5/6', b: '5/6', c: '3/4', out: '3/3' });
    expect(shrunk.getLayer('out').getWeights()[0].shape).toEqual([8, 3]);
    shrunk.dispose();
    model.dispose();
  });

  it('keeps unsupported layers whole and names them in a warning', async () => {
    const input = tf.input({ shape: [8] });
    let x = tf.layers.dense({ units: 6, activation: 'relu', name: 'fc1' }).apply(input) as T;
    x = tf.layers.layerNormalization({ name: 'norm' }).apply(x) as T;
    x = tf.layers.dense({ units: 5, activation: 'relu', name: 'fc2' }).apply(x) as T;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'out' }).apply(x) as T });
    setWeights(model, { fc1: { out: [0] }, fc2: { out: [4] } });
    const warnings: string[] = [];
    const { plan, shrunk } = await shrinkAndCompare(model, [8], warnings);
    expect(kept(plan)).toEqual({ fc1: '6/6', fc2: '4/5', out: '2/2' });
    expect(plan.unsupported.map((u) => u.name)).toEqual(['norm']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('norm (LayerNormalization is not one of the layers shrink knows)');
    shrunk.dispose();
    model.dispose();
  });

  it('leaves a model without dead units as it is', async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }), tf.layers.dense({ units: 2 })],
    });
    setWeights(model);
    const { plan, shrunk } = await shrinkAndCompare(model, [4]);
    expect(plan.parameters.after).toBe(plan.parameters.before);
    shrunk.dispose();
    model.dispose();
  });
});

describe('shrink after Group-Hoyer-Square training', () => {
  it('removes the neurons Group-HS zeroed, with the same predictions and accuracy', async () => {
    // 24 inputs of which the labels use the first 6; a 24-32-16-4 MLP trained with Group-HS, pruned
    // to 90% of the kernels by magnitude and fine-tuned with the masks: whole rows and columns are zero.
    const n = 512;
    const x = batch([n, 24], 3);
    const rule = tf.tidy(() => tf.concat([batch([6, 4], 4), tf.zeros([18, 4])]));
    const labels = tf.tidy(() => tf.oneHot(tf.argMax(tf.matMul(x, rule), 1), 4));
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [24],
          units: 32,
          activation: 'relu',
          name: 'fc1',
          kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
        }),
        tf.layers.dense({ units: 16, activation: 'relu', name: 'fc2', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
        tf.layers.dense({ units: 4, name: 'fc3', kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }),
      ],
    });
    const optimizer = tf.train.adam(1e-2);
    const penalty = groupHoyerSquare({ strength: 1e-2 });
    const step = createTrainStep({ model, optimizer, penalties: [penalty] });
    for (let epoch = 0; epoch < 30; epoch++) {
      for (let i = 0; i < n; i += 64) tf.tidy(() => void step.run(tf.slice(x, i, 64), tf.slice(labels, i, 64)));
    }
    const accuracy = (m: tf.LayersModel) =>
      tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(m.predict(x) as tf.Tensor, 1), tf.argMax(labels, 1)), 'float32')).dataSync()[0]);
    const masks = pruneByMagnitude(selectParams(model), { sparsity: 0.9 });
    const finetuneOptimizer = tf.train.adam(5e-3);
    const finetune = createTrainStep({ model, optimizer: finetuneOptimizer, masks });
    for (let epoch = 0; epoch < 10; epoch++) {
      for (let i = 0; i < n; i += 64) tf.tidy(() => void finetune.run(tf.slice(x, i, 64), tf.slice(labels, i, 64)));
    }
    const plan = planShrink(model);
    const shrunk = await shrink(model);
    const [a, b] = [model.predict(x) as tf.Tensor, shrunk.predict(x) as tf.Tensor];
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThanOrEqual(1e-5);
    expect(accuracy(shrunk)).toBe(accuracy(model));
    expect(accuracy(model)).toBeGreaterThan(0.8);
    const [fc1, fc2] = plan.layers;
    expect(fc1.kept).toBeLessThan(fc1.total / 2);
    expect(fc2.kept).toBeLessThan(fc2.total);
    expect(fc1.inputsRead).toBeLessThanOrEqual(8);
    expect(plan.parameters.after).toBeLessThan(plan.parameters.before / 3);
    console.log(
      `Group-HS MLP: ${JSON.stringify(kept(plan))}, inputs read ${fc1.inputsRead}/24, parameters ${plan.parameters.before} → ${
        plan.parameters.after
      }, accuracy ${accuracy(model)}`,
    );
    step.dispose();
    finetune.dispose();
    disposeMasks(masks);
    disposeOptimizer(optimizer);
    disposeOptimizer(finetuneOptimizer);
    penalty.dispose();
    tf.dispose([x, rule, labels, a, b]);
    model.dispose();
    shrunk.dispose();
  });
});
