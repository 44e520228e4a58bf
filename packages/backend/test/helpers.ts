import * as tf from '@tensorflow/tfjs';
import { registerSparsifyKernels, unregisterSparsifyKernels } from '../src/index.js';

/** Activates cpu or wasm (wasm with its training kernels), with sparsify's loop kernels registered. */
export async function useBackend(name: 'cpu' | 'wasm' = 'cpu'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
  registerSparsifyKernels();
}

/** Runs `f` with sparsify's loop kernels and with the ops' plain tfjs versions; returns both results as arrays. */
export function kernelAndPlain(f: () => tf.Tensor | tf.Tensor[]): [Float32Array[], Float32Array[]] {
  const run = () => tf.tidy(() => [f()].flat().map((t) => t.dataSync() as Float32Array));
  const kernel = run();
  unregisterSparsifyKernels();
  try {
    return [kernel, run()];
  } finally {
    registerSparsifyKernels();
  }
}

/**
 * Every element of `got` within `relative` of the largest magnitude of `want`; where `want` is +0, `got`
 * is +0 too (a kernel never gives −0 where the plain op gives +0), unless `anyZero` (a result whose zeros
 * no sign test reads, such as an activation's gradient).
 */
export function expectClose(got: Float32Array, want: Float32Array, relative = 2e-6, what = '', anyZero = false): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length} vs ${want.length}`);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  got.forEach((g, i) => {
    if (!(Math.abs(g - want[i]) <= relative * scale + 1e-30)) throw new Error(`${what}[${i}]: ${g} vs ${want[i]}`);
    if (!anyZero && Object.is(want[i], 0) && Object.is(g, -0)) throw new Error(`${what}[${i}] is −0`);
  });
}

/** Seeded values with exact ±0s and a wide range of magnitudes, length `n`. */
export function values(n: number, seed = 1): number[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, (_, i) => (i % 7 === 3 ? 0 : i % 11 === 5 ? -0 : (next() - 0.5) * 10 ** (Math.floor(next() * 6) - 3)));
}

/** A float32 tensor's bits, for exact comparisons (−0 ≠ +0). */
export const bits = (t: tf.Tensor) => Array.from(new Int32Array((t.dataSync() as Float32Array).slice().buffer));
