import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PASS_KERNELS, absAndSquareSums, groupScale, groupSquareSums, kthSmallestMagnitude, signLinear } from '@sparsify/core';
import { loopKernelImplementation, registerSparsifyKernels, unregisterSparsifyKernels } from '../src/index.js';
import { expectClose, kernelAndPlain, useBackend, values } from './helpers.js';

// Sizes with and without a tail past the last whole SIMD vector (4 lanes), and group layouts.
const SHAPES = [[1], [3], [4], [7], [2, 9], [784, 30], [3, 3, 5, 6], [5, 5, 2, 7]];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`core's passes as loop kernels on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));
    afterEach(() => registerSparsifyKernels());

    it(`run as ${backend === 'wasm' ? 'WebAssembly SIMD' : 'JS loops'}, or not at all once unregistered`, () => {
      for (const name of Object.values(PASS_KERNELS)) {
        expect(loopKernelImplementation(name), name).toBe(backend === 'wasm' ? 'simd' : 'js');
      }
      unregisterSparsifyKernels();
      expect(loopKernelImplementation(PASS_KERNELS.signLinear)).toBe('none');
    });

    for (const shape of SHAPES) {
      const n = shape.reduce((a, b) => a * b, 1);
      it(`agree with the plain tfjs ops on shape [${shape}]`, () => {
        const x = tf.tensor(values(n), shape);
        const [a, b, c] = [tf.scalar(-0.75), tf.scalar(0.3), tf.scalar(-2)];
        const I = shape.length >= 2 ? shape[shape.length - 2] : 1;
        const O = shape[shape.length - 1];
        const rows = tf.tensor1d(values(I, 5));
        const cols = tf.tensor1d(values(O, 9));
        const x2 = shape.length >= 2 ? x : tf.reshape(x, [1, n]);
        const [loop, composite] = kernelAndPlain(() => [
          tf.stack(absAndSquareSums(x)),
          signLinear(x, a, b),
          signLinear(x, a, b, c),
          ...groupSquareSums(x2),
          groupScale(x2, shape.length >= 2 ? rows : tf.tensor1d([0.5]), cols),
        ]);
        // tfjs sums in float32 (relative error ~1e-5 over 10⁴ terms); the loops in float64.
        loop.forEach((got, k) => expectClose(got, composite[k], k === 0 || k >= 3 ? 2e-5 : 2e-6));
        const host = values(n).map((v) => Math.fround(v));
        expectClose(loop[0], Float32Array.from([host.reduce((s, v) => s + Math.abs(v), 0), host.reduce((s, v) => s + v * v, 0)]), 1e-7);
        tf.dispose([x, x2, a, b, c, rows, cols]);
      });
    }

    it('give +0, never −0, where the input is ±0 (a zero weight’s gradient)', () => {
      const x = tf.tensor1d([0, -0, 0, -0, 0, -0, 2]);
      const got = tf.tidy(() =>
        [
          signLinear(x, tf.scalar(-3), tf.scalar(-1)),
          groupScale(tf.reshape(x, [1, 7]), tf.tensor1d([-2]), tf.fill([7], -1) as tf.Tensor1D),
        ].map((t) => Array.from(t.dataSync())),
      );
      for (const out of got)
        out.slice(0, 6).forEach((v, i) => expect(Object.is(v, 0), `element ${i} is ${Object.is(v, -0) ? '−0' : v}`).toBe(true));
      expect(got[0][6]).toBe(-3 - 2);
      x.dispose();
    });

    it('record no gradient and leak no tensors', () => {
      const x = tf.tensor2d(values(12), [3, 4]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) {
        tf.tidy(() => {
          absAndSquareSums(x);
          signLinear(x, tf.scalar(1), tf.scalar(0));
          groupSquareSums(x);
        });
      }
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });

    it('run the plain ops for int32 inputs (the loops read float32)', () => {
      const x = tf.tensor1d([1, -2, 3], 'int32');
      const sums = tf.tidy(() => absAndSquareSums(x).map((t) => t.dataSync()[0]));
      expect(sums).toEqual([6, 14]);
      x.dispose();
    });
  });
}

describe('the elementwise loops', () => {
  afterAll(() => useBackend('cpu'));

  it('give the same bits on cpu (JS) and wasm (SIMD): each product and sum rounded to float32, as tfjs ops round them', async () => {
    const run = async (backend: 'cpu' | 'wasm') => {
      await useBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor(values(3 * 5 * 7, 9), [3, 5, 7]);
        const rows = tf.tensor1d(values(5, 10));
        const cols = tf.tensor1d(values(7, 11));
        const bits = (t: tf.Tensor) => Array.from(new Int32Array((t.dataSync() as Float32Array).slice().buffer));
        return [bits(signLinear(x, tf.scalar(0.37), tf.scalar(-1.3), tf.scalar(0.9))), bits(groupScale(x, rows, cols))];
      });
    };
    expect(await run('wasm')).toEqual(await run('cpu'));
  });
});

describe('the WebAssembly kernels', () => {
  it('are compiled from the .wat sources as committed (npm run compile-wat)', () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    expect(() => execFileSync(process.execPath, ['tools/scripts/compile-wat.mjs', '--check'], { cwd: root, stdio: 'pipe' })).not.toThrow();
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`kthSmallestMagnitude on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('equals kthSmallest(readMagnitudes(…)) for every rank, across tensors with tails, zeros and ±∞', () => {
      const tensors = [
        tf.tensor2d(values(7 * 9, 2), [7, 9]),
        tf.tensor1d([0, -0, 0, 3e-39, -3e-39, Infinity, -Infinity, 1e-45]),
        tf.tensor1d(values(4099, 3)),
        tf.tensor1d(values(3, 4)),
      ];
      const sorted = Float64Array.from(tensors.flatMap((t) => Array.from(t.dataSync(), Math.abs))).sort();
      for (const k of [0, 1, 5, 6, 7, 100, 2000, sorted.length - 3, sorted.length - 2, sorted.length - 1]) {
        expect(kthSmallestMagnitude(tensors, k), `k = ${k}`).toBe(Math.fround(sorted[k]));
      }
      expect(loopKernelImplementation(PASS_KERNELS.kthSmallestMagnitude)).toBe(backend === 'wasm' ? 'simd' : 'js');
      tf.dispose(tensors);
    });

    it('gives the same answer whatever the hint `near`: the answer itself, nearby, far off, 0, denormal', () => {
      const tensors = [tf.tensor2d(values(7 * 9, 2), [7, 9]), tf.tensor1d([0, -0, 3e-39, Infinity, 1e-45]), tf.tensor1d(values(4099, 3))];
      const sorted = Float64Array.from(tensors.flatMap((t) => Array.from(t.dataSync(), Math.abs))).sort();
      for (const k of [0, 2, 3, 4, 100, 2000, 4000, sorted.length - 2, sorted.length - 1]) {
        const answer = Math.fround(sorted[k]);
        const hints = [answer, answer * 1.01, answer * 0.99, Math.fround(sorted[k + 1] ?? 0), 0, 3e-39, 1e30, 3.4e38];
        for (const near of hints.filter(Number.isFinite)) {
          expect(kthSmallestMagnitude(tensors, k, near), `k = ${k}, near = ${near}`).toBe(answer);
        }
      }
      expect(() => kthSmallestMagnitude(tensors, 0, -1)).toThrow(/kthSmallestMagnitude near must be a finite magnitude ≥ 0; got -1/);
      expect(() => kthSmallestMagnitude(tensors, 0, NaN)).toThrow(/near must be a finite magnitude ≥ 0; got NaN/);
      tf.dispose(tensors);
    });

    it('gives the same with the plain op, and rejects a rank out of range by name', () => {
      const x = tf.tensor1d(values(301, 7));
      const loop = kthSmallestMagnitude([x], 150);
      unregisterSparsifyKernels();
      expect(kthSmallestMagnitude([x], 150)).toBe(loop);
      registerSparsifyKernels();
      expect(() => kthSmallestMagnitude([x], 301)).toThrow(/kthSmallestMagnitude k must be < the number of values \(301\).*301/);
      x.dispose();
    });
  });
}
