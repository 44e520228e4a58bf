import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeOnLoopBackends, expectLoopMatchesComposite } from '../../../tools/testing/loop-kernels.js';
import { HYPERSPARSE_FORWARD } from '../src/kernels.js';

/** w with exact zeros and s|w| from 0 to 60 (e^(−2s|w|) from 1 down past float32's range). */
function weights(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 6 === 2 ? 0 : (i % 2 ? -1 : 1) * (60 * i) / n));
}

describeOnLoopBackends(
  (backend) => `HyperSparse's loop kernel on ${backend}`,
  () => {
    for (const n of [1, 3, 4, 6, 7, 301, 1026, 4099, 5001]) {
      it(`c and h agree with the composite tfjs ops (n = ${n})`, () => {
        // T > 0 (as HyperSparse guarantees): at least one weight is not 0.
        const w = weights(n);
        w[0] = 0.25;
        expectLoopMatchesComposite(HYPERSPARSE_FORWARD, () => [tf.tensor1d(w)], { s: 1, alpha: 0.3 }, 2e-5);
      });
    }

    it('takes all the weights as one vector: c from the sums over every input, h per input', () => {
      const parts = [weights(301), weights(7).map((w) => w / 3), weights(1026).map((w) => -w / 7)];
      const s = 0.8;
      const alpha = 1.05e-4;
      const [c, scale, ...hs] = expectLoopMatchesComposite(HYPERSPARSE_FORWARD, () => parts.map((p) => tf.tensor1d(p)), { s, alpha }, 2e-5);
      const all = parts.flatMap((p) => Array.from(p));
      const A = all.reduce((sum, w) => sum + Math.abs(w), 0);
      const T = all.reduce((sum, w) => sum + Math.tanh(s * Math.abs(w)), 0);
      expect(c[0]).toBeCloseTo((s * A) / T, 5);
      // α·c as tfjs multiplies the two float32 scalars, to the bit.
      expect(scale[0]).toBe(tf.tidy(() => tf.mul(tf.scalar(alpha), tf.scalar(c[0])).dataSync()[0]));
      expect(hs.map((h) => h.length)).toEqual(parts.map((p) => p.length));
      // The module's running sums start from 0 again: the same call gives the same c.
      const [again] = tf.tidy(() => tf.engine().runKernel(HYPERSPARSE_FORWARD.name, Object.fromEntries(parts.map((p, i) => [`x${i}`, tf.tensor1d(p)])), { s, alpha } as unknown as tf.NamedAttrMap) as tf.Tensor[]).map((t) => t.dataSync());
      expect(again[0]).toBe(c[0]);
    });

    it('h is sign(w)·sech²(s|w|) to float32 precision, 0 where sech² underflows', () => {
      // float32 rounding of s·|w| (relative 6e-8) is amplified by d log sech²(x)/dx ≈ −2: ≈ 1e-7·(1 + 2s|w|).
      const w = weights(997);
      const s = 0.8;
      const [, , h] = expectLoopMatchesComposite(HYPERSPARSE_FORWARD, () => [tf.tensor1d(w)], { s, alpha: 1 }, 2e-5);
      h.forEach((g, i) => {
        const want = Math.sign(w[i]) / Math.cosh(s * w[i]) ** 2;
        expect(Math.abs(g - want), `w = ${w[i]}`).toBeLessThanOrEqual(2e-7 * (1 + 2 * s * Math.abs(w[i])) * Math.abs(want) + 1e-37);
      });
    });
  },
);
