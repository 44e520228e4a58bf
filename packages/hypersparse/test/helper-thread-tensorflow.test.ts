import * as tf from '@tensorflow/tfjs';
import { setHelperThreadEnabled } from '@sparsify/backend/node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testBackend, useTestBackend } from '../../../tools/testing/backends.js';
import { trainingMatchesInPlace } from './helper-thread-harness.js';

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
  it('runs on tensorflow', () => {
    expect(tf.getBackend()).toBe('tensorflow');
  });

  trainingMatchesInPlace();
});
