import * as tf from '@tensorflow/tfjs';
import { SPARSIFY_KERNELS } from '@sparsify/backend/node';
import { expect, it } from 'vitest';
import { describeOnLoopBackends, expectKernelMatchesPlain } from '../../../tools/testing/kernels.js';
import { HYPERSPARSE_KERNEL, hyperSparseGradients } from '../src/index.js';

/** w with exact zeros and s|w| from 0 to 60 (e^(−2s|w|) from 1 down past float32's range). */
function weights(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 6 === 2 ? 0 : ((i % 2 ? -1 : 1) * (60 * i)) / n));
}

it('the accelerator has a kernel for HyperSparse’s op', () => {
  expect(SPARSIFY_KERNELS).toContain(HYPERSPARSE_KERNEL);
});

describeOnLoopBackends(
  (backend) => `HyperSparse's op as a loop kernel on ${backend}`,
  () => {
    for (const n of [1, 3, 4, 6, 7, 301, 1026, 4099, 5001]) {
      it(`c, α·c and the gradients agree with the plain tfjs ops (n = ${n})`, () => {
        // T > 0 (as HyperSparse guarantees): at least one weight is not 0.
        const w = weights(n);
        w[0] = 0.25;
        expectKernelMatchesPlain(HYPERSPARSE_KERNEL, () => hyperSparseGradients([tf.tensor1d(w)], { s: 1, alpha: 0.3 }), 2e-5);
      });
    }

    it('takes all the weights as one vector: c from the sums over every input, a gradient per input', () => {
      const parts = [weights(301), weights(7).map((w) => w / 3), weights(1026).map((w) => -w / 7)];
      const s = 0.8;
      const alpha = 1.05e-4;
      const [stats, ...gs] = expectKernelMatchesPlain(
        HYPERSPARSE_KERNEL,
        () =>
          hyperSparseGradients(
            parts.map((p) => tf.tensor1d(p)),
            { s, alpha },
          ),
        2e-5,
      );
      const all = parts.flatMap((p) => Array.from(p));
      const A = all.reduce((sum, w) => sum + Math.abs(w), 0);
      const T = all.reduce((sum, w) => sum + Math.tanh(s * Math.abs(w)), 0);
      expect(stats[0]).toBeCloseTo((s * A) / T, 5);
      // α·c as tfjs multiplies the two float32 scalars, to the bit.
      expect(stats[1]).toBe(tf.tidy(() => tf.mul(tf.scalar(alpha), tf.scalar(stats[0])).dataSync()[0]));
      expect(gs.map((g) => g.length)).toEqual(parts.map((p) => p.length));
      // The module's running sums start from 0 again: the same call gives the same c.
      const again = tf.tidy(() =>
        hyperSparseGradients(
          parts.map((p) => tf.tensor1d(p)),
          { s, alpha },
        )[0].dataSync(),
      );
      expect(again[0]).toBe(stats[0]);
    });

    it('each gradient is (α·c)·sign(w)·sech²(s|w|), the product rounded once; 0 where sech² underflows', () => {
      // float32 rounding of s·|w| (relative 6e-8) is amplified by d log sech²(x)/dx ≈ −2: ≈ 1e-7·(1 + 2s|w|);
      // the SIMD exponential is 0 below 2^−125, so sech² below ≈ 1e-37 may be 0 (then scaled by α·c).
      const w = weights(997);
      const s = 0.8;
      const [stats, g] = expectKernelMatchesPlain(HYPERSPARSE_KERNEL, () => hyperSparseGradients([tf.tensor1d(w)], { s, alpha: 1 }), 2e-5);
      const k = stats[1];
      g.forEach((got, i) => {
        const want = (k * Math.sign(w[i])) / Math.cosh(s * w[i]) ** 2;
        expect(Math.abs(got - want), `w = ${w[i]}`).toBeLessThanOrEqual(2e-7 * (1 + 2 * s * Math.abs(w[i])) * Math.abs(want) + 1e-37 * k);
      });
    });
  },
);
