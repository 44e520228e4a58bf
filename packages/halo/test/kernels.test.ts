import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeOnLoopBackends, expectLoopMatchesComposite } from '../../../tools/testing/loop-kernels.js';
import { HALO_GRADIENTS, HALO_SUMS } from '../src/kernels.js';
import { values } from './helpers.js';

// Tails past the last whole SIMD vector, exact zeros in w and in λ, λ's of both signs and near 0.
const SIZES = [1, 3, 4, 7, 301, 4099];

describeOnLoopBackends(
  (backend) => `HALO's loop kernels on ${backend}`,
  () => {
    for (const n of SIZES) {
      it(`sums and gradients agree with the composite tfjs ops (n = ${n})`, () => {
        const w = () => tf.tensor1d(values(n, 3, -2, 2, Math.ceil(n / 5)));
        const lambda = () => tf.tensor1d(values(n, 4, -1.5, 1.5, Math.ceil(n / 9)));
        const attrs = { minLambdaSquared: 1e-4 };
        expectLoopMatchesComposite(HALO_SUMS, () => [w(), lambda()], attrs, 2e-5);
        expectLoopMatchesComposite(HALO_GRADIENTS, () => [w(), lambda(), tf.tensor1d([0.7, -0.2])], attrs);
      });
    }

    it('take all tensors at once: inputs [w₁…wₙ, λ₁…λₙ], sums over all, gradients per tensor', () => {
      const sizes = [301, 7, 4099];
      const ws = () => sizes.map((n, j) => tf.tensor1d(values(n, 5 + j, -2, 2, Math.ceil(n / 5))));
      const lambdas = () => sizes.map((n, j) => tf.tensor1d(values(n, 8 + j, -1.5, 1.5, Math.ceil(n / 9))));
      const attrs = { minLambdaSquared: 1e-4 };
      const [all] = expectLoopMatchesComposite(HALO_SUMS, () => [...ws(), ...lambdas()], attrs, 2e-5);
      const each = sizes.map((_, j) => expectLoopMatchesComposite(HALO_SUMS, () => [ws()[j], lambdas()[j]], attrs, 2e-5)[0]);
      [0, 1].forEach((k) => {
        const sum = each.reduce((s, e) => s + e[k], 0);
        expect(Math.abs(all[k] - sum), `sum ${k}`).toBeLessThanOrEqual(1e-6 * sum);
      });
      const grads = expectLoopMatchesComposite(HALO_GRADIENTS, () => [...ws(), ...lambdas(), tf.tensor1d([0.7, -0.2])], attrs);
      expect(grads.map((g) => g.length)).toEqual([...sizes, ...sizes]);
      sizes.forEach((_, j) => {
        const [dw, dLambda] = expectLoopMatchesComposite(HALO_GRADIENTS, () => [ws()[j], lambdas()[j], tf.tensor1d([0.7, -0.2])], attrs);
        expect(grads[j]).toEqual(dw);
        expect(grads[sizes.length + j]).toEqual(dLambda);
      });
    });
  },
);
