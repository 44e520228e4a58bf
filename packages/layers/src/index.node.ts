// The Node entry (export condition `node`, and `@sparsify/layers/node`): the portable entry plus the
// file-system handlers: model and sparse-model directories, written atomically, read defensively.
export * from './index.js';
export { fileSystemLoadHandler, fileSystemSaveHandler, writeDirectoryAtomic } from './io-node.js';
export { loadSparse, saveSparse, sparseLoadHandler, sparseSaveHandler, type SparseSaveResult } from './sparse-node.js';
