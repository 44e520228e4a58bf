import { NODE_PLATFORM } from './platform-node.js';
import { type BackendSelection, type SelectBackendOptions, selectBackendOn } from './select.js';

/**
 * Activates the best available TensorFlow.js backend: tfjs-node-gpu → tfjs-node → wasm → cpu, using
 * whatever is installed (the native packages are optional peers). An explicit `prefer` (or
 * SPARSIFY_BACKEND) must succeed or throw: it never silently falls back.
 */
export function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  return selectBackendOn(NODE_PLATFORM, options);
}
