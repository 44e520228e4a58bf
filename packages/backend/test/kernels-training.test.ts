import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from '../src/kernels/index.js';
import { trainingSuite } from './training-suite.js';

trainingSuite('single-threaded', async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
});
