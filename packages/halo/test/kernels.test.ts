import * as tf from '@tensorflow/tfjs';
import { SPARSIFY_KERNELS } from '@sparsify/backend/node';
import { expect, it } from 'vitest';
import { describeOnLoopBackends, expectKernelMatchesPlain } from '../../../tools/testing/kernels.js';
import { HALO_KERNELS, haloGradients, haloTerm } from '../src/index.js';
import { values } from './helpers.js';

// Tails past the last whole SIMD vector, exact zeros in w and in λ, λ's of both signs and near 0.
const SIZES = [1, 3, 4, 7, 301, 4099];

it('the accelerator has a kernel for each of HALO’s ops', () => {
  for (const name of Object.values(HALO_KERNELS)) expect(SPARSIFY_KERNELS).toContain(name);
});

describeOnLoopBackends(
  (backend) => `HALO's ops as loop kernels on ${backend}`,
  () => {
    const term = (ws: tf.Tensor[], ls: tf.Tensor[], attrs: Parameters<typeof haloTerm>[2]) => haloTerm(ws, ls, attrs);
    for (const n of SIZES) {
      it(`sums and gradients agree with the plain tfjs ops (n = ${n})`, () => {
        const w = () => tf.tensor1d(values(n, 3, -2, 2, Math.ceil(n / 5)));
        const lambda = () => tf.tensor1d(values(n, 4, -1.5, 1.5, Math.ceil(n / 9)));
        for (const l1 of [true, false]) {
          for (const budget of [0, 0.5 * n]) {
            expectKernelMatchesPlain(
              HALO_KERNELS.term,
              () => term([w()], [lambda()], { minLambdaSquared: 1e-4, xi: 1.5, psi: 0.25, budget, l1 }),
              2e-5,
            );
          }
        }
        expectKernelMatchesPlain(HALO_KERNELS.gradients, () =>
          haloGradients([w()], [lambda()], tf.scalar(0.7), tf.scalar(-0.2), { minLambdaSquared: 1e-4, xi: 1.5 }),
        );
      });
    }

    it('take all tensors at once: sums over all, gradients per tensor', () => {
      const sizes = [301, 7, 4099];
      const ws = () => sizes.map((n, j) => tf.tensor1d(values(n, 5 + j, -2, 2, Math.ceil(n / 5))));
      const lambdas = () => sizes.map((n, j) => tf.tensor1d(values(n, 8 + j, -1.5, 1.5, Math.ceil(n / 9))));
      // ψ = 0: value = ξ·W; 'l2' with budget 0: slope = 2ψ·L. Both add up over the tensors.
      for (const attrs of [
        { minLambdaSquared: 1e-4, xi: 1.5, psi: 0, budget: 0, l1: false },
        { minLambdaSquared: 1e-4, xi: 0, psi: 0.25, budget: 0, l1: false },
      ]) {
        const k = attrs.psi === 0 ? 0 : 1;
        const all = expectKernelMatchesPlain(HALO_KERNELS.term, () => term(ws(), lambdas(), attrs), 2e-5)[k][0];
        const sum = sizes.reduce(
          (s, _, j) => s + expectKernelMatchesPlain(HALO_KERNELS.term, () => term([ws()[j]], [lambdas()[j]], attrs), 2e-5)[k][0],
          0,
        );
        expect(Math.abs(all - sum), `output ${k}`).toBeLessThanOrEqual(1e-6 * sum);
      }
      const attrs = { minLambdaSquared: 1e-4, xi: 1.5 };
      const grads = expectKernelMatchesPlain(HALO_KERNELS.gradients, () =>
        haloGradients(ws(), lambdas(), tf.scalar(0.7), tf.scalar(-0.2), attrs),
      );
      expect(grads.map((g) => g.length)).toEqual([...sizes, ...sizes]);
      sizes.forEach((_, j) => {
        const [dw, dLambda] = expectKernelMatchesPlain(HALO_KERNELS.gradients, () =>
          haloGradients([ws()[j]], [lambdas()[j]], tf.scalar(0.7), tf.scalar(-0.2), attrs),
        );
        expect(grads[j]).toEqual(dw);
        expect(grads[sizes.length + j]).toEqual(dLambda);
      });
    });
  },
);
