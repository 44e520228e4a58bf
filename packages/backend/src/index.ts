export {
  BACKEND_ENV_VAR,
  BACKEND_PREFERENCES,
  BackendSelectionError,
  selectBackend,
  type BackendAttempt,
  type BackendPreference,
  type BackendSelection,
  type SelectBackendOptions,
} from './select.js';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/index.js';
