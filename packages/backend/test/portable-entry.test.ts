import { describe, expect, it } from 'vitest';
import { selectBackend } from '../src/index.js';

// The portable entry (what a browser bundle gets) cannot load tfjs-node: asking for it is an error
// that says why, and auto skips it.
describe('the portable selectBackend', () => {
  it('refuses tensorflow and names why', async () => {
    await expect(selectBackend({ prefer: 'tensorflow', env: {} })).rejects.toThrow(/tensorflow: tfjs-node runs only in Node/);
  });

  it('auto skips the native candidates and activates wasm or cpu', async () => {
    const selection = await selectBackend({ env: {}, wasmThreads: 1 });
    expect(['wasm', 'cpu']).toContain(selection.backend);
    expect(selection.tried.slice(0, 2).map((t) => t.detail)).toEqual(['tfjs-node runs only in Node', 'tfjs-node runs only in Node']);
  });
});
