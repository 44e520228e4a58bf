import type * as tf from '@tensorflow/tfjs';
import { wasmKernelExports, type WasmKernelExports } from '../accelerate/loop-kernels.js';
import { LOOPS_WASM } from './loops.wasm.js';
import type { WasmBackendLike } from './scope.js';

let mode: 'simd' | 'js' = 'simd';

/**
 * For tests and benchmarks: whether the loops of sparsify's wasm kernels over the heap (im2col,
 * col2im, leading-axes Sum) run as WebAssembly SIMD (loops.wat, the default) or as the equivalent JS
 * loops, which is what runs where that module does not instantiate.
 */
export function setWasmHeapLoops(loops: 'simd' | 'js'): void {
  mode = loops;
}

/** loops.wat instantiated on `backend`'s memory, or null: run the JS loop. */
export function heapLoops(backend: WasmBackendLike): WasmKernelExports | null {
  return mode === 'simd' ? wasmKernelExports(backend as unknown as tf.KernelBackend, LOOPS_WASM) : null;
}
