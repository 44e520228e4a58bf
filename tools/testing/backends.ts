import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../packages/backend/src/index.node.js';
import { testBackend, type MatrixBackend } from './matrix.js';

export * from './matrix.js';

/**
 * Activates `backend` (default: this suite's) the way users get it, through @sparsify/backend's
 * selectBackend: wasm with sparsify's training kernels, tensorflow through tfjs-node with its load
 * noise filtered. Throws when it cannot (the tensorflow leg runs only where tfjs-node loads).
 */
export async function useTestBackend(backend: MatrixBackend = testBackend()): Promise<void> {
  await selectBackend({ prefer: backend });
  if (tf.getBackend() !== backend) throw new Error(`asked for backend ${backend}, got ${tf.getBackend()}`);
}
