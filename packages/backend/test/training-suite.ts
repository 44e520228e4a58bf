import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Whole models on a backend under test (wasm with the sparsify kernels, or tensorflow): the gradients
 * of every variable (tf.variableGrads) match the cpu backend's to 1e-4 relative, and a few SGD-momentum
 * steps train without leaking. Models are built once (seeded initialisers); their variables move
 * between backends with the engine.
 */

const seed = (s: number) => ({ kernelInitializer: tf.initializers.glorotNormal({ seed: s }) });

function lenet5(): tf.Sequential {
  // LeNet-5-Caffe in miniature: conv 5×5 → maxpool → conv 5×5 → maxpool → fc → fc (no activation on
  // the convs, as in Caffe, so pooled windows are often negative).
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 5, inputShape: [28, 28, 1], ...seed(1) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: 5, ...seed(2) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 32, activation: 'relu', ...seed(3) }));
  m.add(tf.layers.dense({ units: 10, ...seed(4) }));
  return m;
}

function lenet5Relu(): tf.Sequential {
  // The HALO variant: conv 6/16 with ReLU, 'same' first conv, average + max pooling.
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: 5, padding: 'same', activation: 'relu', inputShape: [28, 28, 1], ...seed(5) }));
  m.add(tf.layers.averagePooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', ...seed(6) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 24, activation: 'tanh', ...seed(7) }));
  m.add(tf.layers.dense({ units: 10, ...seed(8) }));
  return m;
}

function resnetBlock(): tf.LayersModel {
  // ResNet-20-style downsampling block: strided 3×3 convs with 'same' padding, batch norm, a strided
  // 1×1 projection shortcut, add, global average pooling.
  const input = tf.input({ shape: [12, 12, 3] });
  const stem = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, ...seed(9) })
    .apply(input) as tf.SymbolicTensor;
  const a = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, ...seed(10) })
    .apply(stem) as tf.SymbolicTensor;
  const an = tf.layers.batchNormalization().apply(a) as tf.SymbolicTensor;
  const ar = tf.layers.activation({ activation: 'relu' }).apply(an) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, ...seed(11) }).apply(ar) as tf.SymbolicTensor;
  const short = tf.layers.conv2d({ filters: 8, kernelSize: 1, strides: 2, ...seed(12) }).apply(stem) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([b, short]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(tf.layers.activation({ activation: 'relu' }).apply(sum)) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, ...seed(13) }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function separable(): tf.Sequential {
  // MobileNet-style: depthwise (multiplier 2, stride 2) and separable convs.
  const m = tf.sequential();
  m.add(
    tf.layers.depthwiseConv2d({
      kernelSize: 3,
      depthMultiplier: 2,
      strides: 2,
      padding: 'same',
      inputShape: [14, 14, 3],
      depthwiseInitializer: tf.initializers.glorotNormal({ seed: 14 }),
    }),
  );
  m.add(
    tf.layers.separableConv2d({
      filters: 8,
      kernelSize: 3,
      activation: 'relu',
      depthwiseInitializer: tf.initializers.glorotNormal({ seed: 15 }),
      pointwiseInitializer: tf.initializers.glorotNormal({ seed: 16 }),
    }),
  );
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 10, ...seed(17) }));
  return m;
}

function embedding(): tf.Sequential {
  const m = tf.sequential();
  m.add(
    tf.layers.embedding({ inputDim: 50, outputDim: 8, inputLength: 6, embeddingsInitializer: tf.initializers.randomNormal({ seed: 18 }) }),
  );
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 10, ...seed(19) }));
  return m;
}

function mlp(): tf.Sequential {
  // LeNet-300-100 (both dense backward products are transposed matMuls).
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 300, activation: 'relu', inputShape: [784], ...seed(20) }));
  m.add(tf.layers.dense({ units: 100, activation: 'relu', ...seed(21) }));
  m.add(tf.layers.dense({ units: 10, ...seed(22) }));
  return m;
}

interface Case {
  name: string;
  build: () => tf.LayersModel;
  input: () => tf.Tensor;
}

const CASES: Case[] = [
  { name: 'LeNet-5-Caffe (mini)', build: lenet5, input: () => tf.randomNormal([8, 28, 28, 1], 0, 1, 'float32', 31) },
  {
    name: 'LeNet-5 with ReLU, same padding, avg + max pool',
    build: lenet5Relu,
    input: () => tf.randomNormal([8, 28, 28, 1], 0, 1, 'float32', 32),
  },
  {
    name: 'ResNet-style block (stride 2, batch norm, projection)',
    build: resnetBlock,
    input: () => tf.randomNormal([6, 12, 12, 3], 0, 1, 'float32', 33),
  },
  { name: 'depthwise + separable convs', build: separable, input: () => tf.randomNormal([6, 14, 14, 3], 0, 1, 'float32', 34) },
  { name: 'embedding', build: embedding, input: () => tf.randomUniform([16, 6], 0, 50, 'int32', 35) },
  { name: 'LeNet-300-100', build: mlp, input: () => tf.randomNormal([32, 784], 0, 1, 'float32', 36) },
];

function labels(n: number, s: number): tf.Tensor {
  return tf.tidy(() => tf.oneHot(tf.randomUniform([n], 0, 10, 'int32', s), 10));
}

function lossFn(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): () => tf.Scalar {
  return () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
}

async function gradients(backend: string, loss: () => tf.Scalar, vars: tf.Variable[]): Promise<Map<string, Float32Array>> {
  await tf.setBackend(backend);
  const { value, grads } = tf.variableGrads(loss, vars);
  const out = new Map<string, Float32Array>();
  for (const v of vars) out.set(v.name, Float32Array.from(await grads[v.name].data()));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

/** Gradients of `loss` on cpu and on `backend` agree to 1e-4 of each variable's largest |gradient|. */
async function expectGradientsMatchCpu(backend: string, title: string, loss: () => tf.Scalar, vars: tf.Variable[]): Promise<void> {
  const cpu = await gradients('cpu', loss, vars);
  const tested = await gradients(backend, loss, vars);
  expect([...tested.keys()]).toEqual([...cpu.keys()]);
  const worst: string[] = [];
  for (const [name, ref] of cpu) {
    const got = tested.get(name)!;
    const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0);
    let maxAbs = 0;
    for (let i = 0; i < ref.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ref[i] - got[i]));
    worst.push(`${name}: ${(maxAbs / scale).toExponential(1)}`);
    expect(maxAbs / scale, name).toBeLessThanOrEqual(1e-4);
  }
  console.log(`${title}: max |Δgrad| / max |grad| per variable: ${worst.join(', ')}`);
}

/**
 * The suite, on `backend` as `start` starts it: wasm with sparsify's kernels (single-threaded, or the
 * threaded build: the thread count is fixed per process, so each is its own test file), or tensorflow.
 */
export function trainingSuite(backend: string, title: string, start: () => Promise<unknown>): void {
  beforeAll(async () => {
    await start();
    await tf.ready();
  });

  describe(`${backend} (${title}) training matches cpu (tf.variableGrads)`, () => {
    for (const c of CASES) {
      it(c.name, async () => {
        await tf.setBackend('cpu');
        const model = c.build();
        const x = c.input();
        const y = labels(x.shape[0], 40);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        await expectGradientsMatchCpu(backend, c.name, lossFn(model, x, y), vars);
        tf.dispose([x, y]);
        model.dispose();
      });
    }

    it('tf.conv2d with explicit padding and stride 2 (what layers never produce)', async () => {
      await tf.setBackend('cpu');
      const x = tf.variable(tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 41), true, 'explicit_x');
      const filter = tf.variable(tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 42), true, 'explicit_filter');
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0],
      ];
      const loss = () => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 2, pad))) as tf.Scalar;
      await expectGradientsMatchCpu(backend, 'explicit padding', loss, [x, filter]);
      tf.dispose([x, filter]);
    });
  });

  describe(`training on ${backend} (${title})`, () => {
    it('LeNet-5 trains (loss falls) with SGD momentum, no tensor growth', async () => {
      await tf.setBackend(backend);
      const model = lenet5();
      const x = tf.randomNormal([16, 28, 28, 1], 0, 1, 'float32', 50);
      const y = labels(16, 51);
      const optimizer = tf.train.momentum(0.05, 0.9);
      const step = () => {
        const loss = optimizer.minimize(lossFn(model, x, y), true) as tf.Scalar;
        const v = loss.dataSync()[0];
        loss.dispose();
        return v;
      };
      const first = step();
      const tensors = tf.memory().numTensors;
      const buffers = tf.backend().numDataIds();
      let last = first;
      for (let i = 0; i < 15; i++) last = step();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.backend().numDataIds()).toBe(buffers);
      expect(last).toBeLessThan(first * 0.5);
      optimizer.dispose();
      tf.dispose([x, y]);
      model.dispose();
    });
  });
}
