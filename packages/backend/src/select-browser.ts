import { BROWSER_PLATFORM } from './platform.js';
import { type BackendSelection, type SelectBackendOptions, selectBackendOn } from './select.js';

/**
 * Activates the best available TensorFlow.js backend: wasm → cpu here (tfjs-node needs Node: in Node
 * the package's `node` entry adds tfjs-node-gpu → tfjs-node first; webgl is tfjs's own
 * `tf.setBackend('webgl')`). An explicit `prefer` (or SPARSIFY_BACKEND) must succeed or throw: it never
 * silently falls back.
 */
export function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  return selectBackendOn(BROWSER_PLATFORM, options);
}
