import * as tf from '@tensorflow/tfjs';
import * as realWasm from '@tensorflow/tfjs-backend-wasm';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../src/index.node.js';

/**
 * `auto` threads where the threaded build cannot start (simulated: a tfjs-backend-wasm version the
 * workaround was not written for). Its own process: wasm has not started before these tests.
 */
const otherVersion = (specifier: string): Promise<unknown> =>
  specifier === '@tensorflow/tfjs-backend-wasm' ? Promise.resolve({ ...realWasm, version_wasm: '4.21.0' }) : import(specifier);

describe('wasm threads that cannot be had', () => {
  it('an explicit count is an error naming why (and starts nothing)', async () => {
    await expect(selectBackend({ prefer: 'wasm', env: {}, wasmThreads: 2, importModule: otherVersion })).rejects.toThrow(
      '2 wasm threads were asked for but tfjs-backend-wasm 4.21.0 is not 4.22.0, the version this workaround was written for; ask for 1',
    );
    expect(tf.engine().registry.wasm).toBeUndefined();
  });

  it('auto falls back to the single-threaded build and says why in the reason', async () => {
    const selection = await selectBackend({ prefer: 'wasm', env: {}, importModule: otherVersion });
    expect(selection.backend).toBe('wasm');
    expect(selection.wasmThreads).toBe(1);
    expect(realWasm.getThreadsCount()).toBe(1);
    if (availableParallelism() > 1) {
      expect(selection.wasmThreadsNote).toBe('tfjs-backend-wasm 4.21.0 is not 4.22.0, the version this workaround was written for');
      expect(selection.reason).toBe(
        'backend wasm (1 thread: tfjs-backend-wasm 4.21.0 is not 4.22.0, the version this workaround was written for): explicit choice',
      );
    }
    await tf.setBackend('cpu');
  });
});
