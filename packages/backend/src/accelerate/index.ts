import type { LoopKernel } from './loop-kernels.js';
import { registerLoopKernels, unregisterLoopKernels } from './loop-kernels.js';
import { PASS_LOOP_KERNELS } from './passes.js';
import { PENALTY_LOOP_KERNELS } from './penalty-kernels.js';
import { SPARSE_MATMUL } from './sparse-matmul.js';
import { registerTensorflowOpKernels, TENSORFLOW_OP_KERNELS, unregisterTensorflowOpKernels } from './tensorflow.js';

export { setHelperThreadEnabled } from './helper-thread.js';
export {
  LOOP_KERNEL_BACKENDS,
  loopKernelImplementation,
  registerLoopKernels,
  setLoopKernelSimd,
  unregisterLoopKernels,
  wasmKernelExports,
  type LoopContext,
  type LoopKernel,
  type WasmKernelCode,
  type WasmKernelExports,
} from './loop-kernels.js';

const ALL = [...PASS_LOOP_KERNELS, ...PENALTY_LOOP_KERNELS, SPARSE_MATMUL as LoopKernel<object>];

/** The kernel names `registerSparsifyKernels` registers (for cpu and wasm; most for tensorflow too). */
export const SPARSIFY_KERNELS: readonly string[] = ALL.map((k) => k.name);
export { TENSORFLOW_OP_KERNELS };

/**
 * Registers kernels for the ops of `@sparsify/core` (the shared passes and the momentum update), of
 * the built-in penalty packages and of `@sparsify/layers` (the sparse × dense product), with the same results as their plain tfjs versions to float32
 * rounding: on cpu and wasm one loop per op (WebAssembly SIMD on wasm), on tensorflow (tfjs-node) a few
 * TensorFlow ops issued without the tfjs engine's per-op cost. Idempotent; `selectBackend` calls it.
 */
export function registerSparsifyKernels(): string[] {
  registerTensorflowOpKernels();
  return registerLoopKernels(ALL);
}

/** Removes them: every op runs its plain tfjs version (comparisons, tests). */
export function unregisterSparsifyKernels(): void {
  unregisterLoopKernels(ALL);
  unregisterTensorflowOpKernels();
}
