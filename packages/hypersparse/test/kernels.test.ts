import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeOnLoopBackends, expectLoopMatchesComposite } from '../../../tools/testing/loop-kernels.js';
import { HYPERSPARSE_GRADIENT, HYPERSPARSE_SUMS } from '../src/kernels.js';

/** w with exact zeros and s|w| from 0 to 60 (e^(−2s|w|) from 1 down past float32's range). */
function weights(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 6 === 2 ? 0 : (i % 2 ? -1 : 1) * (60 * i) / n));
}

describeOnLoopBackends(
  (backend) => `HyperSparse's loop kernels on ${backend}`,
  () => {
    for (const n of [1, 3, 4, 6, 7, 301, 1026, 4099, 5001]) {
      it(`[A, T] and the gradient agree with the composite tfjs ops (n = ${n})`, () => {
        const w = () => tf.tensor1d(weights(n));
        const [, u] = expectLoopMatchesComposite(HYPERSPARSE_SUMS, () => [w()], { s: 1 }, 2e-5);
        expectLoopMatchesComposite(HYPERSPARSE_GRADIENT, () => [w(), tf.tensor(u, [n]), tf.scalar(-1.5)], {});
      });
    }

    it('the gradient is g·sign(w)·sech²(s|w|) to float32 precision, 0 where sech² underflows', () => {
      // float32 rounding of s·|w| (relative 6e-8) is amplified by d log sech²(x)/dx ≈ −2: ≈ 1e-7·(1 + 2s|w|).
      const w = weights(997);
      const s = 0.8;
      const [, u] = expectLoopMatchesComposite(HYPERSPARSE_SUMS, () => [tf.tensor1d(w)], { s }, 2e-5);
      const [got] = expectLoopMatchesComposite(HYPERSPARSE_GRADIENT, () => [tf.tensor1d(w), tf.tensor1d(u), tf.scalar(2)], {});
      got.forEach((g, i) => {
        const want = 2 * Math.sign(w[i]) / Math.cosh(s * w[i]) ** 2;
        expect(Math.abs(g - want), `w = ${w[i]}`).toBeLessThanOrEqual(2e-7 * (1 + 2 * s * Math.abs(w[i])) * Math.abs(want) + 1e-37);
      });
    });
  },
);
