import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendSelectionError, selectBackend } from '../src/index.node.js';

/** Simulates an install where the native packages are absent (as on every machine without libtensorflow). */
const withoutNative = (specifier: string): Promise<unknown> => {
  if (specifier.startsWith('@tensorflow/tfjs-node')) {
    return Promise.reject(Object.assign(new Error(`Cannot find module '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' }));
  }
  return import(specifier);
};
const withoutNativeOrWasm = (specifier: string): Promise<unknown> =>
  specifier === '@tensorflow/tfjs-backend-wasm' ? Promise.reject(new Error(`Cannot find module '${specifier}'`)) : withoutNative(specifier);

afterEach(async () => {
  await tf.setBackend('cpu');
});

describe('selectBackend', () => {
  it('falls back tfjs-node-gpu → tfjs-node → wasm when the native packages are absent', async () => {
    const logs: string[] = [];
    const selection = await selectBackend({ prefer: 'auto', env: {}, importModule: withoutNative, log: (m) => logs.push(m) });
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.tried.map((t) => [t.candidate, t.ok])).toEqual([
      ['tensorflow-gpu', false],
      ['tensorflow', false],
      ['wasm', true],
    ]);
    expect(selection.tried[0].detail).toBe('not installed');
    expect(logs).toEqual([selection.reason]);
    // Threads default to auto: one per core (up to 8), so the single-threaded build on one core.
    const cores = Math.min(availableParallelism(), 8);
    expect(selection.wasmThreads).toBe(cores);
    expect(getThreadsCount()).toBe(cores);
    expect(selection.reason).toBe(
      `backend wasm${cores > 1 ? ` (${cores} threads)` : ''}: auto (skipped tensorflow-gpu: not installed; tensorflow: not installed)`,
    );
  });

  it('registers the wasm training kernels when wasm is chosen', async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
  });

  it('falls back to cpu when wasm is absent too', async () => {
    const selection = await selectBackend({ env: {}, importModule: withoutNativeOrWasm });
    expect(selection.backend).toBe('cpu');
    expect(selection.tried.map((t) => t.candidate)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('uses the real installed packages by default (no tfjs-node here: wasm)', async () => {
    const selection = await selectBackend({ env: {} });
    // 'tensorflow' where tfjs-node is installed (npm run setup:tfjs-node), else wasm.
    expect(['wasm', 'tensorflow']).toContain(selection.backend);
  });

  it('honours SPARSIFY_BACKEND, and an explicit option over it', async () => {
    expect((await selectBackend({ env: { SPARSIFY_BACKEND: 'cpu' }, importModule: withoutNative })).reason).toBe(
      'backend cpu: SPARSIFY_BACKEND=cpu',
    );
    const explicit = await selectBackend({ prefer: 'wasm', env: { SPARSIFY_BACKEND: 'cpu' }, importModule: withoutNative });
    expect(explicit.backend).toBe('wasm');
    expect(explicit.reason).toBe(`backend wasm${explicit.wasmThreads! > 1 ? ` (${explicit.wasmThreads} threads)` : ''}: explicit choice`);
  });

  it('never silently falls back from an explicit choice', async () => {
    await expect(selectBackend({ prefer: 'tensorflow', env: {}, importModule: withoutNative })).rejects.toThrow(
      /backend "tensorflow" was asked for but is unavailable \(tensorflow: not installed\)/,
    );
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects unknown names, naming the value and the valid ones', async () => {
    await expect(selectBackend({ prefer: 'gpu' as never, env: {} })).rejects.toThrow(BackendSelectionError);
    await expect(selectBackend({ env: { SPARSIFY_BACKEND: 'webgpu' } })).rejects.toThrow(
      'SPARSIFY_BACKEND must be one of auto, tensorflow-gpu, tensorflow, wasm, cpu; got "webgpu"',
    );
  });
});
