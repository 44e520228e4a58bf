import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { absAndSquareSums, applyGradients, gradientTensor, loopKernelImplementation, runLoopKernel, setLoopKernelsEnabled, type PenaltyGradient } from '../src/index.js';
import { MOMENTUM_UPDATE } from '../src/optimizer-update.js';
import { useBackend } from './helpers.js';

/** Variables of odd sizes (SIMD tails) with seeded values; the same names suffixed per copy. */
function makeVariables(suffix: string): tf.Variable[] {
  return [[7, 9], [13], [300, 10], [1]].map((shape, i) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', 10 + i), true, `opt_${i}_${suffix}`));
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
            const grads = (vs: tf.Variable[]): tf.NamedTensorMap => Object.fromEntries(vs.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 1000 + 100 * step + i)]));
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

    for (const form of ['tensor', 'scaled tensor', 'signLinear'] as const) {
      for (const nesterov of [false, true]) {
        it(`a penalty's ${form} gradient as the addend: bit-identical to tfjs's update of the summed gradient${nesterov ? ' (Nesterov)' : ''}`, async () => {
          const run = counter++;
          // exact zeros in the weights: sign(0) = 0
          const withZeros = (vs: tf.Variable[]) => vs.forEach((v) => v.assign(tf.tidy(() => tf.mul(v, tf.cast(tf.notEqual(tf.mod(tf.range(0, v.size), 5), 0), 'float32').reshape(v.shape)))));
          const ours = makeVariables(`form${run}`);
          const theirs = makeVariables(`formRef${run}`);
          withZeros(ours);
          withZeros(theirs);
          const a = tf.train.momentum(0.05, 0.9, nesterov);
          const b: tf.Optimizer = tf.train.momentum(0.05, 0.9, nesterov);
          const penaltyGradient = (v: tf.Variable, i: number, step: number): PenaltyGradient => {
            const seed = 5000 + 100 * step + i;
            if (form === 'signLinear') return { variable: v, a: tf.scalar(0.003 * (i + 1)), b: tf.scalar(-0.02 * step) };
            const tensor = tf.randomNormal(v.shape, 0, 1, 'float32', seed);
            return form === 'scaled tensor' ? { variable: v, tensor, scale: tf.scalar(1.7e-3) } : { variable: v, tensor };
          };
          for (let step = 0; step < 4; step++) {
            tf.tidy(() => {
              const grads = (vs: tf.Variable[]): tf.NamedTensorMap => Object.fromEntries(vs.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 1000 + 100 * step + i)]));
              // every variable but the last gets a penalty part
              const addends = Object.fromEntries(ours.slice(0, -1).map((v, i) => [v.name, penaltyGradient(v, i, step)]));
              applyGradients(a, grads(ours), addends);
              const summed = grads(theirs);
              theirs.slice(0, -1).forEach((v, i) => (summed[v.name] = tf.add(summed[v.name], gradientTensor(penaltyGradient(v, i, step)))));
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

    for (const nesterov of [false, true]) {
      it(`a penalty's groupScale gradient w·(rows[i] + cols[o]) as the addend: bit-identical to tfjs's update of the summed gradient${nesterov ? ' (Nesterov)' : ''}`, async () => {
        // rows that end mid-block (37·28 > 1024), a conv layout, and a width that is not a multiple of 4
        // (applied as the tensor groupScale writes)
        const shapes = [[37, 28], [3, 3, 5, 8], [7, 9], [300, 12]];
        const run = counter++;
        const make = (tag: string) => shapes.map((shape, i) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', 40 + i), true, `gs_${i}_${tag}${run}`));
        const [ours, theirs] = [make('ours'), make('ref')];
        const a = tf.train.momentum(0.05, 0.9, nesterov);
        const b: tf.Optimizer = tf.train.momentum(0.05, 0.9, nesterov);
        const penaltyGradient = (v: tf.Variable, i: number, step: number): PenaltyGradient => {
          const [I, O] = v.shape.slice(-2);
          return { variable: v, rows: tf.randomNormal([I], 0, 1, 'float32', 7000 + 100 * step + i), cols: tf.randomNormal([O], 0, 1, 'float32', 8000 + 100 * step + i) };
        };
        for (let step = 0; step < 3; step++) {
          tf.tidy(() => {
            const grads = (vs: tf.Variable[]): tf.NamedTensorMap => Object.fromEntries(vs.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 3000 + 100 * step + i)]));
            applyGradients(a, grads(ours), Object.fromEntries(ours.map((v, i) => [v.name, penaltyGradient(v, i, step)])));
            const summed = grads(theirs);
            theirs.forEach((v, i) => (summed[v.name] = tf.add(summed[v.name], gradientTensor(penaltyGradient(v, i, step)))));
            b.applyGradients(summed);
          });
        }
        expect(await stateOf(a, ours)).toEqual(await stateOf(b, theirs));
        tf.dispose([...ours, ...theirs]);
        a.dispose();
        b.dispose();
      });
    }

    it('runs as a loop kernel here, tfjs’s own update for other optimizers or with loops disabled', async () => {
      const ours = makeVariables(`adam${counter++}`);
      const theirs = makeVariables(`adam${counter++}`);
      const [a, b]: tf.Optimizer[] = [tf.train.adam(0.01), tf.train.adam(0.01)];
      setLoopKernelsEnabled(false);
      try {
        const m = tf.train.momentum(0.1, 0.5);
        tf.tidy(() => applyGradients(m, { [ours[0].name]: tf.onesLike(ours[0]) }));
        m.dispose();
      } finally {
        setLoopKernelsEnabled(true);
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

describe('the fused momentum update', () => {
  it('is WebAssembly SIMD on wasm and a JS loop on cpu', async () => {
    await useBackend('wasm');
    expect(loopKernelImplementation(MOMENTUM_UPDATE)).toBe('simd');
    await useBackend('cpu');
    expect(loopKernelImplementation(MOMENTUM_UPDATE)).toBe('js');
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`the momentum pass sums what it writes, for penalties (${backend})`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('computes [Σ|v|, Σv²] of the new values exactly as absAndSquareSums does (tails, several blocks)', () => {
      for (const n of [1, 3, 4, 7, 1024, 1027, 4099, 5001, 23520]) {
        tf.tidy(() => {
          const [value, acc, grad] = [1, 2, 3].map((seed) => tf.randomNormal([n], 0, 1, 'float32', seed));
          const [newValue, , sums] = runLoopKernel(MOMENTUM_UPDATE, [value, acc, grad, tf.scalar(0.9), tf.scalar(-0.1)], { nesterov: false, addend: 'none', sums: true, band: [] });
          const fresh = absAndSquareSums(newValue).map((t) => t.dataSync()[0]);
          expect(Array.from(sums.dataSync()), `n = ${n}`).toEqual(fresh);
        });
      }
    });

    it("a penalised variable's next absAndSquareSums takes them (no pass), and never after its data changed", async () => {
      const v = tf.variable(tf.randomNormal([301, 7], 0, 1, 'float32', 4), true, `sums_${backend}_${counter++}`);
      const optimizer = tf.train.momentum(0.1, 0.9);
      const passes = async (f: () => void) => (await tf.profile(f)).kernels.filter((k) => k.name === 'SparsifyAbsAndSquareSums').length;
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
