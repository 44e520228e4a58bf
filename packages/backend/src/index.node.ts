// The Node entry (export condition `node`, and `@sparsify/backend/node`): everything the portable
// entry has, with a selectBackend that also loads tfjs-node(-gpu) and starts threaded wasm in Node.
export * from './index.js';
export { selectBackend } from './select-node.js';
