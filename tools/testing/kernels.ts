import * as tf from '@tensorflow/tfjs';
import { loopKernelImplementation, registerSparsifyKernels, unregisterSparsifyKernels } from '@sparsify/backend/node';
import { afterAll, beforeAll, describe, expect } from 'vitest';

/**
 * Runs `f` (which calls ops) with sparsify's kernels registered, asserting that the op `name` runs as
 * 'simd' on wasm (or `wasm`, for kernels without SIMD) and 'js' on cpu, and with the ops' plain tfjs
 * versions; compares every output within `relative` of its largest magnitude. Where the plain result is +0, the kernel's must be +0 too (not −0).
 */
export function expectKernelMatchesPlain(
  name: string,
  f: () => tf.Tensor[],
  relative = 2e-6,
  wasm: 'simd' | 'js' = 'simd',
): Float32Array[] {
  registerSparsifyKernels();
  expect(loopKernelImplementation(name), name).toBe(tf.getBackend() === 'wasm' ? wasm : 'js');
  const run = () => tf.tidy(() => f().map((t) => t.dataSync() as Float32Array));
  const kernel = run();
  unregisterSparsifyKernels();
  let plain: Float32Array[];
  try {
    plain = run();
  } finally {
    registerSparsifyKernels();
  }
  expect(kernel.length).toBe(plain.length);
  kernel.forEach((got, k) => {
    const want = plain[k];
    expect(got.length).toBe(want.length);
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    got.forEach((g, i) => {
      expect(Math.abs(g - want[i]), `output ${k}[${i}]: ${g} vs ${want[i]}`).toBeLessThanOrEqual(relative * scale + 1e-30);
      if (Object.is(want[i], 0)) expect(Object.is(g, -0), `output ${k}[${i}] is −0`).toBe(false);
    });
  });
  return kernel;
}

/** `describe(title(backend), body)` on cpu and on wasm with sparsify's kernels, switching back to cpu after. */
export function describeOnLoopBackends(title: (backend: 'cpu' | 'wasm') => string, body: () => void): void {
  for (const backend of ['cpu', 'wasm'] as const) {
    describe(title(backend), () => {
      beforeAll(async () => {
        if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
        await tf.setBackend(backend);
        await tf.ready();
        registerSparsifyKernels();
      });
      afterAll(() => tf.setBackend('cpu'));
      body();
    });
  }
}

/** The registered kernels as the conformance kit takes them. */
export const sparsifyKernels = { register: registerSparsifyKernels, unregister: unregisterSparsifyKernels };
