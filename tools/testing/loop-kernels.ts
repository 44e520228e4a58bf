import * as tf from '@tensorflow/tfjs';
import { loopKernelImplementation, runLoopKernel, setLoopKernelsEnabled, type LoopKernel } from '@sparsify/core';
import { afterAll, beforeAll, describe, expect } from 'vitest';

/**
 * Runs `kernel` on the current backend as a loop (asserting which implementation: 'simd' on wasm,
 * 'js' on cpu) and as its composite tfjs ops, and compares every output within `relative` of the
 * output's largest magnitude. Zeros in the composite's result must be +0 in the loop's.
 */
export function expectLoopMatchesComposite<A extends object>(
  kernel: LoopKernel<A>,
  inputs: () => tf.Tensor[],
  attrs: A,
  relative = 2e-6,
): Float32Array[] {
  expect(loopKernelImplementation(kernel)).toBe(tf.getBackend() === 'wasm' ? 'simd' : 'js');
  const run = () => tf.tidy(() => runLoopKernel(kernel, inputs(), attrs).map((t) => t.dataSync() as Float32Array));
  const loop = run();
  setLoopKernelsEnabled(false);
  let composite: Float32Array[];
  try {
    composite = run();
  } finally {
    setLoopKernelsEnabled(true);
  }
  expect(loop.length).toBe(composite.length);
  loop.forEach((got, k) => {
    const want = composite[k];
    expect(got.length).toBe(want.length);
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    got.forEach((g, i) => {
      expect(Math.abs(g - want[i]), `output ${k}[${i}]: ${g} vs ${want[i]}`).toBeLessThanOrEqual(relative * scale + 1e-30);
      if (want[i] === 0) expect(Object.is(g, -0), `output ${k}[${i}] is −0`).toBe(false);
    });
  });
  return loop;
}

/** `describe(title(backend), body)` on cpu and on wasm (the loop backends), switching back to cpu after. */
export function describeOnLoopBackends(title: (backend: 'cpu' | 'wasm') => string, body: () => void): void {
  for (const backend of ['cpu', 'wasm'] as const) {
    describe(title(backend), () => {
      beforeAll(async () => {
        if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
        await tf.setBackend(backend);
        await tf.ready();
      });
      afterAll(() => tf.setBackend('cpu'));
      body();
    });
  }
}
