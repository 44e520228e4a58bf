import { registerLoopKernels, unregisterLoopKernels } from './loop-kernels.js';
import { PASS_LOOP_KERNELS } from './passes.js';
import { PENALTY_LOOP_KERNELS } from './penalty-kernels.js';

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

const ALL = [...PASS_LOOP_KERNELS, ...PENALTY_LOOP_KERNELS];

/** The kernel names `registerSparsifyKernels` registers. */
export const SPARSIFY_KERNELS: readonly string[] = ALL.map((k) => k.name);

/**
 * Registers, for the cpu and wasm backends, loop kernels for the ops of `@sparsify/core` (the shared
 * passes and the momentum update) and of the built-in penalty packages: one loop per op (WebAssembly
 * SIMD on wasm) instead of their plain tfjs versions, with the same results to float32 rounding.
 * Idempotent; `selectBackend` calls it.
 */
export function registerSparsifyKernels(): string[] {
  return registerLoopKernels(ALL);
}

/** Removes them: every op runs its plain tfjs version (comparisons, tests). */
export function unregisterSparsifyKernels(): void {
  unregisterLoopKernels(ALL);
}
