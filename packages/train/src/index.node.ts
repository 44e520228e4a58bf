// The Node entry (export condition `node`, and `@sparsify/train/node`): the portable entry with a
// `train`/`resume` that keep checkpoints in `runDir`, plus the checkpoint files and the run lock.
export * from './index.js';
export { resume, train } from './train-node.js';
export {
  decodeCheckpoint,
  encodeCheckpoint,
  hasCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  removeStaleTempFiles,
  writeCheckpoint,
  writeFileAtomic,
  type LoadedCheckpoint,
} from './checkpoint.js';
export { readRunCheckpoint } from './run-files-node.js';
export { RUN_LOCK_FILE, RunDirectoryError, lockRunDirectory, makeDirectory, readRegularFile } from './run-dir.js';
