export {
  BACKEND_ENV_VAR,
  BACKEND_PREFERENCES,
  WASM_THREADS_ENV_VAR,
  BackendSelectionError,
  describeNative,
  type BackendAttempt,
  type BackendPreference,
  type BackendSelection,
  type SelectBackendOptions,
} from './select.js';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/index.js';
export { registerTensorflowTrainingKernels, TENSORFLOW_TRAINING_KERNELS } from './kernels/tensorflow.js';
export { MAX_WASM_THREADS, type NativeRuntime } from './platform.js';
export { selectBackend } from './select-browser.js';
export {
  SPARSIFY_KERNELS,
  loopKernelImplementation,
  registerLoopKernels,
  registerSparsifyKernels,
  relaxedSimdSupported,
  setHelperThreadEnabled,
  setLoopKernelSimd,
  setRelaxedSimd,
  unregisterLoopKernels,
  unregisterSparsifyKernels,
  type LoopContext,
  type LoopKernel,
  type WasmKernelCode,
  type WasmKernelExports,
} from './accelerate/index.js';
