import * as tf from '@tensorflow/tfjs';
import { selectBackend, setHelperThreadEnabled } from '@sparsify/backend/node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hyperSparse, hyperSparseGradients } from '../src/index.js';
import { gaussian, makeParam } from './helpers.js';
import { bits, trainingMatchesInPlace } from './helper-thread-harness.js';

/**
 * On the threaded wasm build (this file's own process, 2 threads) the accelerator runs HyperSparse's
 * pass on its helper thread: the training step asks for the penalty's gradients before the forward
 * pass, and the backend waits for the pass when the update first reads them. Training must be the
 * same, bit for bit, as with the pass run in place.
 */

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', env: {}, wasmThreads: 2 });
});

afterEach(() => setHelperThreadEnabled(true));

describe('HyperSparse on the helper thread (threaded wasm)', () => {
  it('the op returns before the pass is done, and reading its outputs waits for it: the same bits as in place', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const w = tf.tensor1d(gaussian(4099, 3));
    const run = () => tf.tidy(() => hyperSparseGradients([w], { s: 3, alpha: 2 }).map(bits));
    const fromHelper = run();
    setHelperThreadEnabled(false);
    expect(run()).toEqual(fromHelper);
    // Disposing outputs nobody read waits for the pass too: nothing is freed while the worker writes it.
    setHelperThreadEnabled(true);
    const before = tf.memory().numTensors;
    tf.dispose(hyperSparseGradients([w], { s: 3, alpha: 2 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(run()).toEqual(fromHelper);
    w.dispose();
  });

  it('a penalty used alone gives the gradient of the weights it is asked for', () => {
    const run = (helper: boolean) => {
      setHelperThreadEnabled(helper);
      const param = makeParam(gaussian(400, 5), [40, 10]);
      const penalty = hyperSparse({ sparsity: 0.9, strength: 1 });
      penalty.bind([param]);
      const ctx = { step: 0, epoch: 0 };
      const { value, grads } = penalty.gradients(ctx)!;
      const g = bits(grads[param.name]);
      const d = penalty.diagnostics(ctx);
      tf.dispose([value, grads[param.name]]);
      penalty.dispose();
      param.variable.dispose();
      return { g, d };
    };
    expect(run(true)).toEqual(run(false));
  });

  trainingMatchesInPlace();
});
