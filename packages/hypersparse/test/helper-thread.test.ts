import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@sparsify/backend';
import { createTrainStep, disposeOptimizer, gradientTensor, runLoopKernel, setHelperThreadEnabled, startLoopKernel } from '@sparsify/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hyperSparse } from '../src/index.js';
import { gaussian, makeParam } from './helpers.js';
import { HYPERSPARSE_FORWARD } from '../src/kernels.js';

/**
 * On the threaded wasm build (this file's own process, 2 threads) the training step starts
 * HyperSparse's pass on core's helper thread at the beginning of the step. Training must be the same,
 * bit for bit, as with the pass run in place.
 */

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', env: {}, wasmThreads: 2 });
});

afterEach(() => setHelperThreadEnabled(true));

/** Weights (as bits), HyperSparse's diagnostics and the losses after `steps` steps of a small MLP. */
function train(helper: boolean, steps: number, options: { thresholdEvery?: number } = {}) {
  setHelperThreadEnabled(helper);
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotNormal({ seed }) });
  const model = tf.sequential({
    layers: [
      // 300 and 67 weights: whole vectors, and a tail of 3 in the second kernel
      tf.layers.dense({ inputShape: [12], units: 25, activation: 'relu', ...init(1) }),
      tf.layers.dense({ units: 3, useBias: false, ...init(2) }),
    ],
  });
  model.add(tf.layers.dense({ units: 3, ...init(3) }));
  const x = tf.randomNormal([32, 12], 0, 1, 'float32', 4);
  const y = tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 3), 'int32');
  const penalty = hyperSparse({ sparsity: 0.8, strength: 0.05, ...options });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty] });
  const losses: number[] = [];
  const diagnostics: unknown[] = [];
  const tensors: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(step.run(x, y).loss);
    diagnostics.push(penalty.diagnostics(step.context));
    tensors.push(tf.memory().numTensors, tf.engine().backend.numDataIds());
  }
  const weights = model.trainableWeights.map((w) => Array.from(new Int32Array((w.read().dataSync() as Float32Array).slice().buffer)));
  step.dispose();
  penalty.dispose();
  disposeOptimizer(optimizer);
  [model, x, y].forEach((t) => t.dispose());
  return { weights, losses, diagnostics, tensors };
}

describe('HyperSparse on the helper thread (threaded wasm)', () => {
  it('the helper thread can run its pass here (else the comparisons below would compare the same path)', () => {
    expect(tf.getBackend()).toBe('wasm');
    const w = tf.tensor1d([0.5, -1, 0, 2, 3]);
    const pending = startLoopKernel(HYPERSPARSE_FORWARD, [w], { s: 1, alpha: 2 });
    expect(pending).toBeDefined();
    const fromHelper = pending!.join();
    const inPlace = runLoopKernel(HYPERSPARSE_FORWARD, [w], { s: 1, alpha: 2 });
    expect(fromHelper.map((t) => Array.from(t.dataSync()))).toEqual(inPlace.map((t) => Array.from(t.dataSync())));
    setHelperThreadEnabled(false);
    expect(startLoopKernel(HYPERSPARSE_FORWARD, [w], { s: 1, alpha: 2 })).toBeUndefined();
    tf.dispose([w, ...fromHelper, ...inPlace]);
  });

  it('trains bit for bit as with the pass in place: weights, losses, t, s and c', () => {
    const inPlace = train(false, 12);
    const overlapped = train(true, 12);
    expect(overlapped.weights).toEqual(inPlace.weights);
    expect(overlapped.losses).toEqual(inPlace.losses);
    expect(overlapped.diagnostics).toEqual(inPlace.diagnostics);
    expect((overlapped.diagnostics[11] as { c: number }).c).toBeGreaterThan(1);
  });

  it('also with the threshold kept between steps (thresholdEvery)', () => {
    expect(train(true, 7, { thresholdEvery: 3 }).weights).toEqual(train(false, 7, { thresholdEvery: 3 }).weights);
  });

  it('a pass started for weights that then change is discarded: the gradient is that of the new weights', () => {
    // helper undefined: onStepBegin not called at all
    const run = (helper?: boolean) => {
      setHelperThreadEnabled(helper ?? false);
      const param = makeParam(gaussian(400, 5), [40, 10]);
      const w = param.variable;
      const penalty = hyperSparse({ sparsity: 0.9, strength: 1 });
      penalty.bind([param]);
      const ctx = { step: 0, epoch: 0 };
      if (helper !== undefined) penalty.onStepBegin(ctx);
      w.assign(tf.mul(w, tf.linspace(-1, 2, 10)));
      const { value, gradients } = penalty.lossAndGradients(ctx)!;
      const g = gradients.map((x) => Array.from(gradientTensor(x).dataSync()));
      const d = penalty.diagnostics(ctx);
      tf.dispose([value, ...gradients.flatMap((x) => Object.values(x).filter((v) => v !== x.variable))]);
      penalty.dispose();
      w.dispose();
      return { g, d };
    };
    const reference = run();
    expect(run(true)).toEqual(reference);
    expect(run(false)).toEqual(reference);
  });

  it('tf.memory().numTensors and the backend\'s data ids stay flat over the steps', () => {
    const { tensors } = train(true, 60);
    expect(tensors.slice(-2)).toEqual(tensors.slice(4, 6));
  });
});
