import type { LoopCheckpoint } from './loop-checkpoint.js';
import type { RunLock } from './run-dir.js';

type Awaitable<T> = T | Promise<T>;

/**
 * Where `train` keeps a run's checkpoints for `runDir` (checkpoints, resume, the run lock). The Node
 * entry supplies a directory on disk (run-files-node.ts); the portable entry IndexedDB where the
 * runtime has it (run-files-indexeddb.ts: `runDir` names the run there), and otherwise none, so a run
 * with `runDir` fails up front, naming what to use instead. Every method may answer synchronously
 * (files) or with a promise (IndexedDB).
 */
export interface RunFiles {
  /** The run in messages: `run directory runs/a`, `IndexedDB run "a"`. */
  describe(runDir: string): string;
  lock(runDir: string): Awaitable<RunLock>;
  /** Throws unless `lock` is the lock of `runDir`. */
  checkLock(lock: RunLock, runDir: string): void;
  hasCheckpoint(runDir: string): Awaitable<boolean>;
  removeStaleTempFiles(runDir: string): Awaitable<void>;
  /** The checked checkpoint (or the previous one, with why, when the last is damaged); null when none. */
  readRunCheckpoint(runDir: string): Awaitable<{ value: LoopCheckpoint; file: string; fallback?: { problem: string } } | null>;
  /** Moves a damaged checkpoint aside; where it went, or null. */
  setAsideCorruptCheckpoint(runDir: string): Awaitable<string | null>;
  /** Writes the checkpoint atomically (all of it or nothing, the one before kept as the previous); where. */
  writeCheckpoint(runDir: string, checkpoint: LoopCheckpoint): Awaitable<string>;
}
