import * as tf from '@tensorflow/tfjs';
import { it } from 'vitest';
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
  },
);
