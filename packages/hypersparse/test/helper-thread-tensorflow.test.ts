import * as tf from '@tensorflow/tfjs';
import { setHelperThreadEnabled } from '@sparsify/backend/node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testBackend, useTestBackend } from '../../../tools/testing/backends.js';
import { train } from './helper-thread-harness.js';

/**
 * On tensorflow (a matrix suite; it runs on that leg only) the accelerator's host loops run
 * HyperSparse's pass on a helper thread over their shared memory while TensorFlow runs the forward and
 * backward passes; the update waits for it when it reads the gradients. Training must be the same,
 * bit for bit, as with the pass run in place.
 */

beforeAll(async () => {
  await useTestBackend();
});

afterEach(() => setHelperThreadEnabled(true));

describe.runIf(testBackend() === 'tensorflow')('HyperSparse on the helper thread (tensorflow host loops)', () => {
  it('trains bit for bit as with the pass in place: weights, losses, t, s and c', () => {
    expect(tf.getBackend()).toBe('tensorflow');
    const inPlace = train(false, 12);
    const overlapped = train(true, 12);
    expect(overlapped.weights).toEqual(inPlace.weights);
    expect(overlapped.losses).toEqual(inPlace.losses);
    expect(overlapped.diagnostics).toEqual(inPlace.diagnostics);
    expect((overlapped.diagnostics[11] as { c: number }).c).toBeGreaterThan(1);
  });

  it('also with the threshold kept between steps (thresholdEvery)', () => {
    expect(train(true, 7, { thresholdEvery: 3 }).weights).toEqual(train(false, 7, { thresholdEvery: 3 }).weights);
  });

  it("tf.memory().numTensors and the backend's data ids stay flat over the steps", () => {
    const { tensors } = train(true, 60);
    expect(tensors.slice(-2)).toEqual(tensors.slice(4, 6));
  });
});
