import { LAYER_LOOP_KERNELS, registerReluKernels, unregisterReluKernels } from './layer-kernels.js';
import { LAYER_KERNELS } from '@sparsify/core';
import { registerLoopKernels, unregisterLoopKernels } from './loop-kernels.js';
import { PASS_LOOP_KERNELS } from './passes.js';
import { PENALTY_LOOP_KERNELS } from './penalty-kernels.js';
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

const ALL = [...PASS_LOOP_KERNELS, ...PENALTY_LOOP_KERNELS, ...LAYER_LOOP_KERNELS];

/** The kernel names `registerSparsifyKernels` registers (for cpu and wasm; most for tensorflow too). */
export const SPARSIFY_KERNELS: readonly string[] = [...ALL.map((k) => k.name), LAYER_KERNELS.relu];
export { TENSORFLOW_OP_KERNELS };

/**
 * Registers kernels for the ops of `@sparsify/core` (the shared passes, the momentum update, the layer
 * ops BatchNormalization and ReLU train through) and of the built-in penalty packages, with the same results as their plain tfjs versions to float32
 * rounding: on cpu and wasm one loop per op (WebAssembly SIMD on wasm), on tensorflow (tfjs-node) a few
 * TensorFlow ops issued without the tfjs engine's per-op cost. Idempotent; `selectBackend` calls it.
 */
export function registerSparsifyKernels(): string[] {
  registerTensorflowOpKernels();
  registerReluKernels();
  return [...registerLoopKernels(ALL), LAYER_KERNELS.relu];
}

/** Removes them: every op runs its plain tfjs version (comparisons, tests). */
export function unregisterSparsifyKernels(): void {
  unregisterLoopKernels(ALL);
  unregisterReluKernels();
  unregisterTensorflowOpKernels();
}
