import type { LoopCheckpoint } from './loop-checkpoint.js';
import type { RunLock } from './run-dir.js';

/**
 * What `train` needs from a file system for `runDir` (checkpoints, resume, the run lock). The Node
 * entry supplies the real one (run-files-node.ts); the portable entry has none, so a run with
 * `runDir` there fails up front, naming what to use instead.
 */
export interface RunFiles {
  lock(runDir: string): RunLock;
  /** Throws unless `lock` is the lock of `runDir`. */
  checkLock(lock: RunLock, runDir: string): void;
  hasCheckpoint(runDir: string): boolean;
  removeStaleTempFiles(runDir: string): void;
  /** The checked checkpoint (or the previous one, with why, when the last is damaged); null when none. */
  readRunCheckpoint(runDir: string): { value: LoopCheckpoint; file: string; fallback?: { problem: string } } | null;
  /** Moves a damaged checkpoint aside; where it went, or null. */
  setAsideCorruptCheckpoint(runDir: string): string | null;
  /** Writes the checkpoint atomically; its path. */
  writeCheckpoint(runDir: string, checkpoint: LoopCheckpoint): string;
}
