import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyGradients, kthSmallest, kthSmallestMagnitude, momentumUpdate, readMagnitudes } from '@sparsify/core';
import { bandFor, floatToKey, requestBand } from '../src/accelerate/magnitude-band.js';
import { bandHits } from '../src/accelerate/passes.js';
import { useBackend } from './helpers.js';

/** [lo, hi, capacity, below, count, keys…] of `values` as the update reports them (host arithmetic). */
function expectedBand(values: Float32Array, lo: number, hi: number, capacity: number): number[] {
  const keys = Array.from(new Int32Array(values.buffer, values.byteOffset, values.length), (b) => b & 0x7fffffff);
  const inBand = keys.filter((k) => k >= lo && k < hi);
  return [lo, hi, capacity, keys.filter((k) => k < lo).length, inBand.length, ...inBand.slice(0, capacity)];
}

/** The band the pass collected for `t`'s data, as [lo, hi, capacity, below, count, keys…]. */
function bandOf(t: tf.Tensor, lo: number, hi: number, capacity: number): number[] {
  const band = bandFor(t.dataId);
  if (!band) throw new Error('no band was collected');
  return [lo, hi, capacity, band.below, band.count, ...band.keys];
}
/** How many of f's kthSmallestMagnitude calls made passes over the data (not answered from a band). */
const kthPasses = async (f: () => void) => {
  const hits = bandHits();
  const calls = (await tf.profile(f)).kernels.filter((k) => k.name === 'SparsifyKthSmallestMagnitude').length;
  return calls - (bandHits() - hits);
};

let counter = 0;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`the momentum pass collects a magnitude band (${backend})`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('counts the keys below lo and stores those in [lo, hi), in order, up to the capacity (tails, several blocks)', () => {
      const [lo, hi] = [floatToKey(0.5), floatToKey(0.55)];
      for (const n of [1, 3, 7, 1024, 1027, 4099, 23521]) {
        for (const capacity of [0, 5, 4096]) {
          tf.tidy(() => {
            const [value, acc, grad] = [1, 2, 3].map((seed) => tf.randomNormal([n], 0, 1, 'float32', seed + n));
            const inputs = [value, acc, grad, tf.scalar(0.9), tf.scalar(-0.1)];
            requestBand(value.dataId, { lo, hi, capacity, width: 0, room: 0 });
            const [newValue] = momentumUpdate(inputs, true);
            const want = expectedBand(newValue.dataSync() as Float32Array, lo, hi, capacity);
            expect(bandOf(newValue, lo, hi, capacity), `n = ${n}, capacity ${capacity}`).toEqual(want);
            // A request is served once: the next pass over the same data collects nothing.
            const [again] = momentumUpdate(inputs, true);
            expect(bandFor(again.dataId)).toBeUndefined();
          });
        }
      }
    });

    it('kthSmallestMagnitude with a hint then needs no pass while the answer stays in the band, and is exact throughout', async () => {
      const vars = [[300, 40], [40, 10], [7]].map((shape, i) =>
        tf.variable(tf.randomNormal(shape, 0, 0.1, 'float32', 20 + i), true, `band_${backend}_${counter++}`),
      );
      const optimizer = tf.train.momentum(0.01, 0.9);
      const total = vars.reduce((n, v) => n + v.size, 0);
      const exact = (k: number) => kthSmallest(readMagnitudes(vars), k);
      let t = kthSmallestMagnitude(vars, Math.floor(0.9 * total));
      let hits = 0;
      for (let step = 0; step < 10; step++) {
        tf.tidy(() =>
          applyGradients(
            optimizer,
            Object.fromEntries(vars.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 0.02, 'float32', 100 * step + i)])),
          ),
        );
        // k moves too (as with a changing sparsity), mostly within the band, once far outside it.
        const k = Math.floor((step === 5 ? 0.5 : 0.9 - 0.0002 * step) * total);
        const passes = await kthPasses(() => {
          t = kthSmallestMagnitude(vars, k, t);
        });
        expect(t, `step ${step}`).toBe(exact(k));
        if (passes === 0) hits++;
        if (step === 5) expect(passes, 'far outside the band').toBe(1);
      }
      // Passes at step 0 (no band yet), 5 and 6 (far away, and back): 7 hits possible.
      expect(hits).toBeGreaterThanOrEqual(6);
      // Any other write (assign, masks) leaves no band for the new data: a full pass, still exact.
      vars[0].assign(tf.mul(vars[0], 1.5));
      const k = Math.floor(0.9 * total);
      expect(await kthPasses(() => void (t = kthSmallestMagnitude(vars, k, t)))).toBe(1);
      expect(t).toBe(exact(k));
      optimizer.dispose();
      tf.dispose(vars);
    });

    it('a band that overflows its capacity falls back to the passes, then gets more room', async () => {
      // 5000 magnitudes within ±1e-4 of 0.5: every one of them is in the band.
      const values = tf.tidy(() =>
        tf.mul(tf.sign(tf.randomNormal([5000], 0, 1, 'float32', 9)), tf.add(0.5, tf.randomUniform([5000], -5e-5, 5e-5, 'float32', 10))),
      );
      const v = tf.variable(values, true, `band_overflow_${backend}_${counter++}`);
      values.dispose();
      const optimizer = tf.train.momentum(1e-6, 0.5);
      let t = kthSmallestMagnitude([v], 2500, 0.5);
      const passes: number[] = [];
      for (let step = 0; step < 10; step++) {
        tf.tidy(() => applyGradients(optimizer, { [v.name]: tf.randomNormal([5000], 0, 1, 'float32', 11 + step) }));
        passes.push(await kthPasses(() => void (t = kthSmallestMagnitude([v], 2500, t))));
        expect(t, `step ${step}`).toBe(kthSmallest(readMagnitudes([v]), 2500));
      }
      expect(passes.slice(0, 3), 'overflowing').toEqual([1, 1, 1]);
      expect(passes.slice(-2), 'room enough').toEqual([0, 0]);
      optimizer.dispose();
      v.dispose();
    });

    it('one update serves a request: the one after (no threshold asked since) collects nothing', async () => {
      const v = tf.variable(tf.randomNormal([500], 0, 1, 'float32', 12), true, `band_once_${backend}_${counter++}`);
      const optimizer = tf.train.momentum(0.01, 0.9);
      const step = (seed: number) =>
        tf.tidy(() => applyGradients(optimizer, { [v.name]: tf.randomNormal([500], 0, 0.01, 'float32', seed) }));
      let t = kthSmallestMagnitude([v], 400, 1);
      step(13);
      expect(await kthPasses(() => void (t = kthSmallestMagnitude([v], 400, t)))).toBe(0);
      step(14);
      step(15);
      expect(await kthPasses(() => void (t = kthSmallestMagnitude([v], 400, t)))).toBe(1);
      expect(t).toBe(kthSmallest(readMagnitudes([v]), 400));
      optimizer.dispose();
      v.dispose();
    });

    it('without a hint, or for data the momentum pass did not write, it always makes its passes', async () => {
      const v = tf.variable(tf.randomNormal([500], 0, 1, 'float32', 7), true, `band_nohint_${backend}_${counter++}`);
      const optimizer = tf.train.momentum(0.01, 0.9);
      const t = kthSmallestMagnitude([v], 400, 1);
      tf.tidy(() => applyGradients(optimizer, { [v.name]: tf.randomNormal([500], 0, 0.01, 'float32', 8) }));
      expect(await kthPasses(() => void kthSmallestMagnitude([v], 400))).toBe(1);
      const copy = tf.add(v, 0);
      expect(await kthPasses(() => void kthSmallestMagnitude([copy], 400, t))).toBe(1);
      expect(await kthPasses(() => void kthSmallestMagnitude([v], 400, t))).toBe(0);
      tf.dispose([v, copy]);
      optimizer.dispose();
    });
  });
}
