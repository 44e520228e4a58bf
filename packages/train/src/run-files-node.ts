import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { SparsifyConfigError } from '@sparsify/core';
import {
  hasCheckpoint,
  loadCheckpoint,
  removeStaleTempFiles,
  setAsideCorruptCheckpoint,
  writeCheckpoint,
  type LoadedCheckpoint,
} from './checkpoint.js';
import { checkLoopCheckpoint, type LoopCheckpoint } from './loop-checkpoint.js';
import { RUN_LOCK_FILE, lockRunDirectory, type RunLock } from './run-dir.js';
import type { RunFiles } from './run-files.js';

/**
 * Reads a run directory's training checkpoint, checked (`checkLoopCheckpoint`), falling back to the
 * previous one when the last is damaged (see `loadCheckpoint`). Null when the run has none.
 */
export function readRunCheckpoint(runDir: string): LoadedCheckpoint<LoopCheckpoint> | null {
  return loadCheckpoint(runDir, checkLoopCheckpoint);
}

function checkLock(lock: RunLock, runDir: string): void {
  if (typeof lock?.release !== 'function' || lock.file !== join(realpathSync(runDir), RUN_LOCK_FILE)) {
    throw new SparsifyConfigError(
      `lock must be the lock of runDir ${runDir} (from lockRunDirectory(runDir)); got one of ${String(lock?.dir)}`,
    );
  }
}

export const NODE_RUN_FILES: RunFiles = {
  describe: (runDir) => `run directory ${runDir}`,
  lock: lockRunDirectory,
  checkLock,
  hasCheckpoint,
  removeStaleTempFiles: (runDir) => void removeStaleTempFiles(runDir),
  readRunCheckpoint,
  setAsideCorruptCheckpoint,
  writeCheckpoint,
};
