import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { absAndSquareSums, applyGradients, MOMENTUM_UPDATE_KERNEL, momentumUpdate, signLinear } from '@sparsify/core';
import { loopKernelImplementation, registerSparsifyKernels, unregisterSparsifyKernels } from '../src/index.js';
import { sumsCacheHits } from '../src/accelerate/passes.js';
import { useBackend } from './helpers.js';

/** Variables of odd sizes (SIMD tails) with seeded values; the same names suffixed per copy. */
function makeVariables(suffix: string): tf.Variable[] {
  return [[7, 9], [13], [300, 10], [1]].map((shape, i) =>
    tf.variable(tf.randomNormal(shape, 0, 1, 'float32', 10 + i), true, `opt_${i}_${suffix}`),
  );
}

async function stateOf(optimizer: tf.Optimizer, variables: tf.Variable[]): Promise<number[][]> {
  const weights = await optimizer.getWeights();
  return [...variables.map((v) => Array.from(v.dataSync())), ...weights.map((w) => Array.from(w.tensor.dataSync()))];
}

let counter = 0;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`applyGradients on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    for (const nesterov of [false, true]) {
      it(`momentum${nesterov ? ' (Nesterov)' : ''}: bit-identical to tfjs's own update, state included, over steps and a learning-rate change`, async () => {
        const run = counter++;
        const ours = makeVariables(`ours${run}`);
        const theirs = makeVariables(`theirs${run}`);
        const a = tf.train.momentum(0.05, 0.9, nesterov);
        const b: tf.Optimizer = tf.train.momentum(0.05, 0.9, nesterov);
        const before = tf.memory().numTensors;
        for (let step = 0; step < 6; step++) {
          if (step === 3) [a, b].forEach((o) => (o as tf.SGDOptimizer).setLearningRate(0.01));
          tf.tidy(() => {
            const grads = (vs: tf.Variable[]): tf.NamedTensorMap =>
              Object.fromEntries(vs.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 1000 + 100 * step + i)]));
            applyGradients(a, grads(ours));
            b.applyGradients(grads(theirs));
          });
          if (step > 0) expect(tf.memory().numTensors, 'tensors after the slots exist').toBe(before + 2 * ours.length);
        }
        expect(await stateOf(a, ours)).toEqual(await stateOf(b, theirs));
        expect(a.iterations).toBe(6);
        expect((await a.getWeights()).map((w) => w.name)).toEqual(['iter', ...ours.map((v) => `${v.name}/momentum`)]);
        tf.dispose([...ours, ...theirs]);
        a.dispose();
        b.dispose();
      });
    }

    for (const form of ['tensor', 'signLinear'] as const) {
      for (const [nesterov, wd] of [
        [false, 0],
        [true, 0],
        [false, 1e-3],
        [true, 3e-4],
      ] as const) {
        it(`a penalty's gradient (${form}) as the addend${wd ? ', and coupled decay' : ''}: bit-identical to tfjs's update of the summed gradient${nesterov ? ' (Nesterov)' : ''}`, async () => {
          const run = counter++;
          // exact zeros in the weights: sign(0) = 0
          const withZeros = (vs: tf.Variable[]) =>
            vs.forEach((v) =>
              v.assign(tf.tidy(() => tf.mul(v, tf.cast(tf.notEqual(tf.mod(tf.range(0, v.size), 5), 0), 'float32').reshape(v.shape)))),
            );
          const ours = makeVariables(`form${run}`);
          const theirs = makeVariables(`formRef${run}`);
          withZeros(ours);
          withZeros(theirs);
          const a = tf.train.momentum(0.05, 0.9, nesterov);
          const b: tf.Optimizer = tf.train.momentum(0.05, 0.9, nesterov);
          const penaltyGradient = (v: tf.Variable, i: number, step: number): tf.Tensor =>
            form === 'signLinear'
              ? signLinear(v, tf.scalar(0.003 * (i + 1)), tf.scalar(-0.02 * step))
              : tf.randomNormal(v.shape, 0, 1, 'float32', 5000 + 100 * step + i);
          for (let step = 0; step < 4; step++) {
            tf.tidy(() => {
              const grads = (vs: tf.Variable[]): tf.NamedTensorMap =>
                Object.fromEntries(vs.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 1000 + 100 * step + i)]));
              // every variable but the last gets a penalty part; every one but the first decays
              const addends = Object.fromEntries(ours.slice(0, -1).map((v, i) => [v.name, penaltyGradient(v, i, step)]));
              const decay = Object.fromEntries(ours.slice(1).map((v) => [v.name, wd]));
              applyGradients(a, grads(ours), { addends, decay });
              const summed = grads(theirs);
              theirs.slice(0, -1).forEach((v, i) => (summed[v.name] = tf.add(summed[v.name], penaltyGradient(v, i, step))));
              if (wd) theirs.slice(1).forEach((v) => (summed[v.name] = tf.add(summed[v.name], tf.mul(v, tf.scalar(wd)))));
              b.applyGradients(summed);
            });
          }
          expect(await stateOf(a, ours)).toEqual(await stateOf(b, theirs));
          tf.dispose([...ours, ...theirs]);
          a.dispose();
          b.dispose();
        });
      }
    }

    it('runs as a loop kernel here, tfjs’s own update for other optimizers or without the kernel', async () => {
      const ours = makeVariables(`adam${counter++}`);
      const theirs = makeVariables(`adam${counter++}`);
      const [a, b]: tf.Optimizer[] = [tf.train.adam(0.01), tf.train.adam(0.01)];
      unregisterSparsifyKernels();
      try {
        const m = tf.train.momentum(0.1, 0.5);
        tf.tidy(() => applyGradients(m, { [ours[0].name]: tf.onesLike(ours[0]) }));
        m.dispose();
      } finally {
        registerSparsifyKernels();
      }
      tf.tidy(() => {
        const ones = (vs: tf.Variable[]): tf.NamedTensorMap => Object.fromEntries(vs.map((v) => [v.name, tf.onesLike(v)]));
        applyGradients(a, ones(ours));
        b.applyGradients(ones(theirs));
      });
      expect(ours.slice(1).map((v) => Array.from(v.dataSync()))).toEqual(theirs.slice(1).map((v) => Array.from(v.dataSync())));
      tf.dispose([...ours, ...theirs]);
      a.dispose();
      b.dispose();
    });
  });
}

describe('the momentum update kernel', () => {
  it('is WebAssembly SIMD on wasm and a JS loop on cpu', async () => {
    await useBackend('wasm');
    expect(loopKernelImplementation(MOMENTUM_UPDATE_KERNEL)).toBe('simd');
    await useBackend('cpu');
    expect(loopKernelImplementation(MOMENTUM_UPDATE_KERNEL)).toBe('js');
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`the momentum pass sums what it writes, for penalties (${backend})`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('computes [Σ|v|, Σv²] of the new values exactly as absAndSquareSums does (tails, several blocks)', async () => {
      for (const n of [1, 3, 4, 7, 1024, 1027, 4099, 5001, 23520]) {
        const [value, acc, grad] = [1, 2, 3].map((seed) => tf.randomNormal([n], 0, 1, 'float32', seed));
        tf.dispose(absAndSquareSums(value)); // a penalty reads value's sums: the pass computes the next ones
        const [newValue, newAcc] = momentumUpdate([value, acc, grad, tf.scalar(0.9), tf.scalar(-0.1)], false);
        const hits = sumsCacheHits();
        const cached = tf.tidy(() => absAndSquareSums(newValue).map((t) => t.dataSync()[0]));
        expect(sumsCacheHits(), 'taken from the pass').toBe(hits + 1);
        const fresh = tf.tidy(() => absAndSquareSums(tf.add(newValue, 0)).map((t) => t.dataSync()[0]));
        expect(cached, `n = ${n}`).toEqual(fresh);
        tf.dispose([value, acc, grad, newValue, newAcc]);
      }
    });

    it("a penalised variable's next absAndSquareSums takes them (no pass), and never after its data changed", async () => {
      const v = tf.variable(tf.randomNormal([301, 7], 0, 1, 'float32', 4), true, `sums_${backend}_${counter++}`);
      const optimizer = tf.train.momentum(0.1, 0.9);
      const passes = async (f: () => void) => {
        const hits = sumsCacheHits();
        f();
        return 1 - (sumsCacheHits() - hits);
      };
      const sumsOf = (t: tf.Tensor) => tf.tidy(() => absAndSquareSums(t).map((s) => s.dataSync()[0]));
      expect(await passes(() => tf.dispose(absAndSquareSums(v)))).toBe(1); // marks v as penalised
      tf.tidy(() => applyGradients(optimizer, { [v.name]: tf.randomNormal([301, 7], 0, 1, 'float32', 5) }));
      expect(await passes(() => tf.dispose(absAndSquareSums(v)))).toBe(0);
      const fresh = tf.tidy(() => sumsOf(tf.add(v, 0)));
      expect(sumsOf(v)).toEqual(fresh);
      v.assign(tf.mul(v, 2));
      expect(await passes(() => tf.dispose(absAndSquareSums(v)))).toBe(1);
      expect(sumsOf(v)).toEqual(tf.tidy(() => sumsOf(tf.add(v, 0))));
      optimizer.dispose();
      v.dispose();
    });
  });
}
