import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadNative } from './native.js';
import type { BackendPlatform } from './platform.js';
import { autoWasmThreads, startWasmWithThreads, wasmThreadsUnsupported } from './wasm-threads.js';

/**
 * Points the wasm backend at the `.wasm` binaries of the installed package (needed whenever the
 * JavaScript was moved by a bundler; harmless otherwise). Must run before the backend initialises.
 */
function locateWasmBinaries(wasmModule: { setWasmPaths?: (prefix: string) => void }): void {
  try {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    wasmModule.setWasmPaths?.(`${dir}/`);
  } catch {
    // Already initialised, or the package cannot be resolved from here: keep its own default lookup.
  }
}

export const NODE_PLATFORM: BackendPlatform = {
  loadNative,
  locateWasmBinaries,
  autoWasmThreads,
  wasmThreadsUnsupported,
  startWasmWithThreads,
};
