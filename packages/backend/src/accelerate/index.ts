import * as tf from '@tensorflow/tfjs';
import { hostKernelExports, registerHostLoopKernels, unregisterHostLoopKernels } from './host-loops.js';
import { LAYER_LOOP_KERNELS } from './layer-kernels.js';
import {
  loopKernelSimdEnabled,
  registeredLoopKernel,
  type LoopKernel,
  registerLoopKernels,
  unregisterLoopKernels,
  wasmKernelExports,
} from './loop-kernels.js';
import { MOMENTUM_UPDATE, PASS_LOOP_KERNELS } from './passes.js';
import { PENALTY_LOOP_KERNELS } from './penalty-kernels.js';
import { SPARSE_MATMUL, registerLeanWasmSparseMatMul } from './sparse-matmul.js';
import { registerTensorflowOpKernels, unregisterTensorflowOpKernels } from './tensorflow-ops.js';

export { setHelperThreadEnabled } from './helper-thread.js';
export {
  LOOP_KERNEL_BACKENDS,
  registerLoopKernels,
  relaxedSimdSupported,
  setLoopKernelSimd,
  setRelaxedSimd,
  unregisterLoopKernels,
  wasmKernelExports,
  type LoopContext,
  type LoopKernel,
  type WasmKernelCode,
  type WasmKernelExports,
} from './loop-kernels.js';

const ALL = [...PASS_LOOP_KERNELS, ...PENALTY_LOOP_KERNELS, SPARSE_MATMUL as LoopKernel<object>, ...LAYER_LOOP_KERNELS];

/**
 * The kernels run as host loops on tensorflow: the passes and penalties. The momentum update runs there
 * as a host loop only where its weights are on the host already, else as TensorFlow's ops
 * (tensorflow-ops.ts, as the layer ops); the sparse × dense product not at all (its plain version is
 * TensorFlow's own matMul).
 */
const ON_TENSORFLOW = [...PASS_LOOP_KERNELS, ...PENALTY_LOOP_KERNELS].filter((k) => k !== MOMENTUM_UPDATE);

/** The kernel names `registerSparsifyKernels` registers (for cpu and wasm; for tensorflow all but the sparse × dense product). */
export const SPARSIFY_KERNELS: readonly string[] = ALL.map((k) => k.name);

/**
 * Registers kernels for the ops of `@sparsify/core` (the shared passes, the momentum update, the layer
 * ops BatchNormalization and ReLU train through), of the built-in penalty packages and of
 * `@sparsify/layers` (the sparse × dense product; on tensorflow an inference plan's Dense step), with the
 * same results as their plain tfjs versions to float32 rounding: one loop per op, WebAssembly SIMD on
 * wasm and, over copies in host memory, on tensorflow (tfjs-node), where the layer ops run as
 * TensorFlow's fused ops and the momentum update as a loop where the weights are on the host already (a
 * penalty's), else as TensorFlow's ops. Idempotent;
 * `selectBackend` calls it, and leaves tensorflow's out when TensorFlow runs on a GPU
 * (`unregisterSparsifyKernels('tensorflow')`).
 */
export function registerSparsifyKernels(): string[] {
  registerHostLoopKernels(ON_TENSORFLOW);
  registerTensorflowOpKernels();
  const names = registerLoopKernels(ALL);
  registerLeanWasmSparseMatMul();
  return names;
}

/** Removes them (on `backend` only, or everywhere): the ops then run their plain tfjs versions. */
export function unregisterSparsifyKernels(backend?: 'tensorflow'): void {
  unregisterHostLoopKernels(ON_TENSORFLOW);
  unregisterTensorflowOpKernels();
  if (backend !== 'tensorflow') unregisterLoopKernels(ALL);
}

/**
 * What a registered loop kernel runs on the active backend: 'simd', 'js', or 'none' (not registered
 * here). On tensorflow the loops run over copies in host memory.
 */
export function loopKernelImplementation(name: string): 'simd' | 'js' | 'none' {
  const backendName = tf.getBackend();
  const kernel = registeredLoopKernel(name);
  if (!kernel || !tf.getKernel(name, backendName)) return 'none';
  if (!loopKernelSimdEnabled() || !kernel.simd) return 'js';
  if (backendName === 'wasm') return wasmKernelExports(tf.backend(), kernel.simd.code) ? 'simd' : 'js';
  if (backendName === 'tensorflow') return hostKernelExports(kernel.simd.code) ? 'simd' : 'js';
  return 'js';
}
