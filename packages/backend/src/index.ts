export {
  BACKEND_ENV_VAR,
  BACKEND_PREFERENCES,
  WASM_THREADS_ENV_VAR,
  BackendSelectionError,
  describeNative,
  selectBackend,
  type BackendAttempt,
  type BackendPreference,
  type BackendSelection,
  type SelectBackendOptions,
} from './select.js';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/index.js';
export { registerTensorflowTrainingKernels, TENSORFLOW_TRAINING_KERNELS } from './kernels/tensorflow.js';
export { MAX_WASM_THREADS } from './wasm-threads.js';
export {
  SPARSIFY_KERNELS,
  loopKernelImplementation,
  registerLoopKernels,
  registerSparsifyKernels,
  setHelperThreadEnabled,
  setLoopKernelSimd,
  unregisterLoopKernels,
  unregisterSparsifyKernels,
  type LoopContext,
  type LoopKernel,
  type WasmKernelCode,
  type WasmKernelExports,
} from './accelerate/index.js';
export type { NativeRuntime } from './native.js';
