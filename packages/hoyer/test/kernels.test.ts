import * as tf from '@tensorflow/tfjs';
import { SPARSIFY_KERNELS } from '@sparsify/backend/node';
import { absAndSquareSums, type Param } from '@sparsify/core';
import { afterEach, expect, it } from 'vitest';
import { describeOnLoopBackends, expectKernelMatchesPlain } from '../../../tools/testing/kernels.js';
import { groupHoyerSquare, groupStep, HOYER_DELTA, HOYER_KERNELS, ratioStep } from '../src/index.js';
import { gaussian, makeParam } from './helpers.js';

const live: Param[] = [];
afterEach(() => {
  for (const p of live.splice(0)) p.variable.dispose();
});

/** A dense [7, 5] kernel, a conv [3, 3, 4, 6] kernel with an all-zero input channel, and a dense [5, 1]. */
function kernels(seed: number): Param[] {
  const conv = gaussian(3 * 3 * 4 * 6, seed + 1);
  for (let i = 0; i < conv.length; i++) if (Math.floor(i / 6) % 4 === 2) conv[i] = 0;
  const params = [makeParam(gaussian(35, seed), [7, 5]), makeParam(conv, [3, 3, 4, 6], 'conv2d'), makeParam(gaussian(5, seed + 2), [5, 1])];
  live.push(...params);
  return params;
}

it('the accelerator has a kernel for each of this package’s ops', () => {
  for (const name of Object.values(HOYER_KERNELS)) expect(SPARSIFY_KERNELS).toContain(name);
});

describeOnLoopBackends(
  (backend) => `Group-HS's step as one kernel (${backend})`,
  () => {
    for (const [rhoIn, rhoOut] of [
      [1, 1],
      [1, 0.5],
      [1, 0],
      [0, 1],
    ]) {
      it(`agrees with the plain tfjs ops (ρ_in ${rhoIn}, ρ_out ${rhoOut}), an all-zero group included`, () => {
        const params = kernels(11);
        expectKernelMatchesPlain(
          HOYER_KERNELS.groupStep,
          () =>
            groupStep(
              params.map((p) => p.variable),
              tf.scalar(2),
              { rhoIn, rhoOut, delta: HOYER_DELTA },
            ),
          2e-5,
        );
      });
    }

    it('is one kernel call for all kernels, then one groupScale pass per kernel for the gradients', async () => {
      const params = kernels(3);
      const penalty = groupHoyerSquare({ strength: 0.37 });
      penalty.bind(params);
      const profile = await tf.profile(() => tf.dispose(penalty.gradients({ step: 0, epoch: 0 }) as unknown as tf.TensorContainer));
      expect(profile.kernels.map((k) => k.name).filter((name) => name.startsWith('Sparsify'))).toEqual([
        'SparsifyGroupHoyerSquareStep',
        'SparsifyGroupScale',
        'SparsifyGroupScale',
        'SparsifyGroupScale',
      ]);
      penalty.dispose();
    });
  },
);

describeOnLoopBackends(
  (backend) => `Hoyer's and Hoyer-Square's step as one kernel (${backend})`,
  () => {
    for (const square of [false, true]) {
      it(`agrees with the plain tfjs ops (${square ? 'Hoyer-Square' : 'Hoyer'}), an all-zero tensor included`, () => {
        const params = [...kernels(21), makeParam(new Float32Array(6), [6], 'dense', 'bias')];
        live.push(params[3]);
        // A JS loop on both backends: a few numbers per tensor.
        const [, ...ab] = expectKernelMatchesPlain(
          HOYER_KERNELS.ratioStep,
          () =>
            ratioStep(
              params.flatMap((p) => absAndSquareSums(p.variable)),
              tf.scalar(0.37),
              { square, delta: HOYER_DELTA },
            ),
          2e-6,
          'js',
        );
        // the all-zero tensor: the floor is active, a = b = 0 (b is −0, as the plain ops give it)
        expect([ab[6][0] === 0, ab[7][0] === 0]).toEqual([true, true]);
      });
    }

    it('agrees with the plain ops on hand-picked sums', () => {
      const sums = () => [3, 2.5, 0.5, 0.125, 7.25, 1e-3].map((x) => tf.scalar(x));
      expectKernelMatchesPlain(
        HOYER_KERNELS.ratioStep,
        () => ratioStep(sums(), tf.scalar(-1.5), { square: true, delta: HOYER_DELTA }),
        2e-6,
        'js',
      );
    });
  },
);
