import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '../../../packages/backend/src/kernels/index.js';

/** A backend configuration to compare: the tfjs backend plus whether sparsify's wasm kernels are on. */
export interface Config {
  readonly id: 'cpu' | 'wasm-stock' | 'wasm' | 'tensorflow';
  readonly label: string;
  readonly backend: 'cpu' | 'wasm' | 'tensorflow';
}

export const CONFIGS: Record<Config['id'], Config> = {
  cpu: { id: 'cpu', label: 'cpu', backend: 'cpu' },
  'wasm-stock': { id: 'wasm-stock', label: 'wasm (stock 4.22 kernels)', backend: 'wasm' },
  wasm: { id: 'wasm', label: 'wasm + sparsify kernels', backend: 'wasm' },
  // Started by an engine child (engines.ts) through selectBackend: tfjs-node with sparsify's kernels.
  tensorflow: { id: 'tensorflow', label: 'tensorflow (tfjs-node)', backend: 'tensorflow' },
};

let wasmLoaded = false;

export async function loadWasm(): Promise<void> {
  if (wasmLoaded) return;
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  await tf.ready();
  wasmLoaded = true;
}

/** Makes `config` current (synchronous once its backend is initialised). */
export function activate(config: Config): void {
  if (config.id === 'wasm-stock') unregisterWasmTrainingKernels();
  else if (config.backend !== 'tensorflow') registerWasmTrainingKernels();
  if (tf.getBackend() !== config.backend) {
    // The backends are initialised up front, so this switch is synchronous.
    void tf.setBackend(config.backend);
  }
}
