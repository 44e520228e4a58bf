import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeOnLoopBackends, expectLoopMatchesComposite } from '../../../tools/testing/loop-kernels.js';
import { HALO_GRADIENTS, HALO_TERM } from '../src/kernels.js';
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
        for (const l1 of [true, false]) {
          for (const budget of [0, 0.5 * n]) {
            expectLoopMatchesComposite(HALO_TERM, () => [w(), lambda()], { minLambdaSquared: 1e-4, xi: 1.5, psi: 0.25, budget, l1 }, 2e-5);
          }
        }
        expectLoopMatchesComposite(HALO_GRADIENTS, () => [w(), lambda(), tf.scalar(0.7), tf.scalar(-0.2)], { minLambdaSquared: 1e-4, xi: 1.5 });
      });
    }

    it('take all tensors at once: inputs [w₁…wₙ, λ₁…λₙ], sums over all, gradients per tensor', () => {
      const sizes = [301, 7, 4099];
      const ws = () => sizes.map((n, j) => tf.tensor1d(values(n, 5 + j, -2, 2, Math.ceil(n / 5))));
      const lambdas = () => sizes.map((n, j) => tf.tensor1d(values(n, 8 + j, -1.5, 1.5, Math.ceil(n / 9))));
      // ψ = 0: value = ξ·W; 'l2' with budget 0: slope = 2ψ·L. Both add up over the tensors.
      for (const attrs of [
        { minLambdaSquared: 1e-4, xi: 1.5, psi: 0, budget: 0, l1: false },
        { minLambdaSquared: 1e-4, xi: 0, psi: 0.25, budget: 0, l1: false },
      ]) {
        const k = attrs.psi === 0 ? 0 : 1;
        const all = expectLoopMatchesComposite(HALO_TERM, () => [...ws(), ...lambdas()], attrs, 2e-5)[k][0];
        const sum = sizes.reduce((s, _, j) => s + expectLoopMatchesComposite(HALO_TERM, () => [ws()[j], lambdas()[j]], attrs, 2e-5)[k][0], 0);
        expect(Math.abs(all - sum), `output ${k}`).toBeLessThanOrEqual(1e-6 * sum);
      }
      const attrs = { minLambdaSquared: 1e-4, xi: 1.5 };
      const grads = expectLoopMatchesComposite(HALO_GRADIENTS, () => [...ws(), ...lambdas(), tf.scalar(0.7), tf.scalar(-0.2)], attrs);
      expect(grads.map((g) => g.length)).toEqual([...sizes, ...sizes]);
      sizes.forEach((_, j) => {
        const [dw, dLambda] = expectLoopMatchesComposite(HALO_GRADIENTS, () => [ws()[j], lambdas()[j], tf.scalar(0.7), tf.scalar(-0.2)], attrs);
        expect(grads[j]).toEqual(dw);
        expect(grads[sizes.length + j]).toEqual(dLambda);
      });
    });
  },
);
