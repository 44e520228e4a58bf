import * as tf from '@tensorflow/tfjs';
import { gradientTensor, groupAxes, runLoopKernel, setLoopKernelsEnabled, type GroupAxes, type Param } from '@sparsify/core';
import { afterEach, expect, it } from 'vitest';
import { describeOnLoopBackends, expectLoopMatchesComposite } from '../../../tools/testing/loop-kernels.js';
import { GROUP_STEP, RATIO_STEP } from '../src/kernels.js';
import { groupHoyerSquareStep, groupHoyerSquareTerms, HOYER_DELTA, ratioStep, ratioTerms, termsAndGradients, type GroupMode } from '../src/terms.js';
import { gaussian, makeParam } from './helpers.js';

const live: Param[] = [];
afterEach(() => {
  for (const p of live.splice(0)) p.variable.dispose();
});

/** A dense [7, 5] kernel, a conv [3, 3, 4, 6] kernel with an all-zero input channel, and a dense [5, 1]. */
function kernels(seed: number): Param[] {
  const conv = gaussian(3 * 3 * 4 * 6, seed + 1);
  for (let i = 0; i < conv.length; i++) if (Math.floor(i / 6) % 4 === 2) conv[i] = 0;
  const params = [
    makeParam(gaussian(35, seed), [7, 5]),
    makeParam(conv, [3, 3, 4, 6], 'conv2d'),
    makeParam(gaussian(5, seed + 2), [5, 1]),
  ];
  live.push(...params);
  return params;
}

const bits = (t: tf.Tensor) => Array.from(new Int32Array((t.dataSync() as Float32Array).slice().buffer));

describeOnLoopBackends(
  (backend) => `Group-HS's tape-free step as one kernel (${backend})`,
  () => {
    const cases: [GroupMode, number][] = [
      ['auto', 1],
      ['both', 0.5],
      ['input', 1],
      ['output', 1],
    ];
    for (const [groups, outputRatio] of cases) {
      it(`gives the per-tensor path's value and gradients bit for bit (${groups}, outputRatio ${outputRatio}), in one kernel call`, async () => {
        const params = kernels(3);
        const variables = params.map((p) => p.variable);
        const axes = params.map(groupAxes);
        const dy = tf.scalar(0.37);
        const fused = () => groupHoyerSquareStep(variables, axes, groups, outputRatio, dy)!;
        const perTensor = () => termsAndGradients(groupHoyerSquareTerms([2, 4, 2], axes, groups, outputRatio), variables, dy);
        tf.tidy(() => {
          const [got, want] = [fused(), perTensor()];
          expect(bits(got.value)).toEqual(bits(want.value));
          got.gradients.forEach((g, j) => {
            expect(g.variable).toBe(variables[j]);
            expect('rows' in g && g.rows.shape[0] === variables[j].shape[variables[j].rank - 2]).toBe(true);
            expect(bits(gradientTensor(g)), `gradient ${j}`).toEqual(bits(gradientTensor(want.gradients[j])));
          });
        });
        const profile = await tf.profile(() => {
          const { value, gradients } = fused();
          tf.dispose([value, ...gradients.flatMap((g) => [(g as { rows: tf.Tensor }).rows, (g as { cols: tf.Tensor }).cols])]);
        });
        expect(profile.kernels.map((k) => k.name)).toEqual(['SparsifyGroupHoyerSquareStep']);
        dy.dispose();
      });
    }

    it('agrees with its composite tfjs ops', () => {
      const params = kernels(11);
      const layouts = params.flatMap((p) => [p.shape[p.shape.length - 2], p.shape[p.shape.length - 1]]);
      expectLoopMatchesComposite(GROUP_STEP, () => [...params.map((p) => p.variable), tf.scalar(2)], { rhoIn: 1, rhoOut: 0.5, delta: 1e-30, layouts });
    });

    it('is not used where a tensor has no groups, or its group axes are not its last two', () => {
      const [dense] = kernels(5);
      const bias = makeParam(gaussian(5, 9), [5], 'dense', 'bias');
      live.push(bias);
      const dy = tf.scalar(1);
      const swapped: GroupAxes = { input: [1], output: [0], inputAxis: 1, outputAxis: 0 };
      expect(groupHoyerSquareStep([dense.variable, bias.variable], [groupAxes(dense), null], 'auto', 1, dy)).toBeUndefined();
      expect(groupHoyerSquareStep([dense.variable], [swapped], 'auto', 1, dy)).toBeUndefined();
      expect(groupHoyerSquareStep([], [], 'auto', 1, dy)).toBeUndefined();
      dy.dispose();
    });
  },
);

describeOnLoopBackends(
  (backend) => `Hoyer's and Hoyer-Square's tape-free step as one kernel (${backend})`,
  () => {
    for (const square of [false, true]) {
      it(`gives the per-tensor path's value and gradients bit for bit (${square ? 'Hoyer-Square' : 'Hoyer'}), all-zero tensor included`, async () => {
        const params = [...kernels(21), makeParam(new Float32Array(6), [6], 'dense', 'bias')];
        live.push(params[3]);
        const variables = params.map((p) => p.variable);
        const dy = tf.scalar(0.37);
        const scalars = (g: { a?: tf.Tensor; b?: tf.Tensor }) => [bits(g.a!), bits(g.b!)];
        tf.tidy(() => {
          const got = ratioStep(variables, square, dy);
          const want = termsAndGradients(ratioTerms(square, variables.length), variables, dy);
          expect(bits(got.value)).toEqual(bits(want.value));
          got.gradients.forEach((g, j) => {
            expect(g.variable).toBe(variables[j]);
            expect(scalars(g as never), `gradient ${j}`).toEqual(scalars(want.gradients[j] as never));
          });
          // the all-zero tensor: the floor is active, a = b = 0 (b is −0, as on the per-tensor path)
          const zero = got.gradients[3] as { a: tf.Tensor; b: tf.Tensor };
          expect([zero.a.dataSync()[0] === 0, zero.b.dataSync()[0] === 0]).toEqual([true, true]);
        });
        const profile = await tf.profile(() => {
          const { value, gradients } = ratioStep(variables, square, dy);
          tf.dispose([value, ...gradients.flatMap((g) => [(g as { a: tf.Tensor }).a, (g as { b: tf.Tensor }).b])]);
        });
        // the sums (no momentum pass has computed them here), then one call
        expect(profile.kernels.map((k) => k.name)).toEqual([...variables.map(() => 'SparsifyAbsAndSquareSums'), 'SparsifyHoyerRatioStep']);
        dy.dispose();
      });
    }

    it('agrees with its composite tfjs ops (a JS loop on both backends)', () => {
      const run = () => tf.tidy(() => runLoopKernel(RATIO_STEP, [3, 2.5, 0.5, 0.125, 7.25, 1e-3, -1.5].map((x) => tf.scalar(x)), { square: true, delta: HOYER_DELTA }).map((t) => t.dataSync()[0]));
      const loop = run();
      setLoopKernelsEnabled(false);
      try {
        run().forEach((want, k) => expect(Math.abs(loop[k] - want), `output ${k}`).toBeLessThanOrEqual(2e-6 * Math.abs(want)));
      } finally {
        setLoopKernelsEnabled(true);
      }
    });
  },
);
