import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from '../src/kernels/index.js';
import { testBackend, useTestBackend } from '../../../tools/testing/backends.js';
import { trainingSuite } from './training-suite.js';

// A matrix suite: on the tensorflow leg it checks tfjs-node against cpu; on cpu and wasm it checks wasm
// with the sparsify kernels (the threaded build: wasm-threads.test.ts).
if (testBackend() === 'tensorflow') {
  trainingSuite('tensorflow', 'tfjs-node', () => useTestBackend());
} else {
  trainingSuite('wasm', 'single-threaded', async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
  });
}
