import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The lock file of a run directory (see `lockRunDirectory`). */
export const RUN_LOCK_FILE = '.sparsify.lock';

/** A run directory that is held by another process, or cannot be created or read. */
export class RunDirectoryError extends Error {
  override readonly name = 'RunDirectoryError';

  constructor(
    message: string,
    /** The path at fault (the directory, its lock file, or a file in it). */
    readonly file: string,
    /** What about it: `(path)`, `(lock)`, `(file)`, `(length)`. */
    readonly field: string,
  ) {
    super(message);
  }
}

const code = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code;

/**
 * Creates `dir` and its missing parents one level at a time, like `mkdir -p` but without Node's
 * recursive mode, which spins forever where a parent refuses new entries (under /proc). Returns
 * whether `dir` itself was created.
 */
export function makeDirectory(dir: string): boolean {
  const missing: string[] = [];
  for (let at = resolve(dir); ; ) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (error) {
      // ENOTDIR: some parent is a file, found further up.
      if (code(error) !== 'ENOENT' && code(error) !== 'ENOTDIR')
        throw new RunDirectoryError(`cannot create directory ${dir}: ${at} cannot be read (${code(error)})`, dir, '(path)');
      missing.push(at);
      if (dirname(at) === at) break;
      at = dirname(at);
      continue;
    }
    if (!isDirectory) throw new RunDirectoryError(`cannot create directory ${dir}: ${at} exists and is not a directory`, dir, '(path)');
    break;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path);
    } catch (error) {
      if (code(error) === 'EEXIST' && statSync(path).isDirectory()) continue;
      throw new RunDirectoryError(
        `cannot create directory ${dir}: ${path} could not be made (${code(error) ?? (error as Error).message})`,
        dir,
        '(path)',
      );
    }
  }
  return missing.length > 0;
}

/**
 * Reads a file a run relies on (a checkpoint, run.json, a config): refused unless it is a regular file
 * (a FIFO would block the read forever) of at most `maxBytes`. ENOENT passes through as it is.
 */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  // Non-blocking open: a FIFO does not wait for a writer; fstat then refuses it.
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new RunDirectoryError(`${file} is not a regular file`, file, '(file)');
    if (info.size > maxBytes)
      throw new RunDirectoryError(`${file} is ${info.size} bytes, more than the ${maxBytes} this file may have`, file, '(length)');
    const bytes = Buffer.alloc(info.size);
    let at = 0;
    while (at < bytes.length) {
      const n = readSync(fd, bytes, at, bytes.length - at, at);
      if (n === 0) break;
      at += n;
    }
    if (at !== info.size) throw new RunDirectoryError(`${file} changed while being read (${at} of ${info.size} bytes)`, file, '(length)');
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** What a lock file holds. */
export interface RunLockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  startedAt: string;
}

export interface RunLock {
  /** The lock file. */
  readonly file: string;
  /** The run directory it locks. */
  readonly dir: string;
  readonly owner: RunLockOwner;
  /** Removes the lock file (once; later calls do nothing). */
  release(): void;
}

/** Lock files this process holds, removed on exit (a killed process leaves its lock: see `lockRunDirectory`). */
const held = new Set<string>();
let exitHookInstalled = false;

function removeHeldLocks(): void {
  for (const file of held) {
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  }
  held.clear();
}

/** A lock file that cannot be parsed this long after it was written is left over (a crash while writing it). */
const UNREADABLE_LOCK_STALE_MS = 10_000;

function readOwner(file: string): RunLockOwner | 'unreadable' | 'gone' {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as RunLockOwner;
    if (Number.isSafeInteger(owner?.pid) && typeof owner.host === 'string' && typeof owner.startedAt === 'string') return owner;
  } catch (error) {
    if (code(error) === 'ENOENT') return 'gone';
  }
  return 'unreadable';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return code(error) === 'EPERM';
  }
}

/** Whether the lock `file` (held by `owner`) was left by a process that is gone. */
function isStale(file: string, owner: RunLockOwner | 'unreadable'): boolean {
  if (owner === 'unreadable') {
    try {
      return Date.now() - statSync(file).mtimeMs > UNREADABLE_LOCK_STALE_MS;
    } catch {
      return true;
    }
  }
  return owner.host === hostname() && !alive(owner.pid);
}

/**
 * Moves a stale lock out of the way so that a new one can be created: renamed aside (atomic: of two
 * processes breaking it at once, one succeeds), then removed; if what was moved is not the lock
 * judged stale (a new one took its place meanwhile), it is linked back.
 */
function breakStaleLock(file: string, stale: RunLockOwner | 'unreadable'): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = readOwner(aside);
  const same =
    stale === 'unreadable'
      ? moved === 'unreadable'
      : typeof moved === 'object' && moved.pid === stale.pid && moved.startedAt === stale.startedAt;
  if (!same) {
    try {
      linkSync(aside, file);
    } catch {
      /* a newer lock took its place; that one wins */
    }
  }
  unlinkSync(aside);
}

/**
 * Takes the exclusive lock of run directory `dir` (creating the directory if needed): a lock file
 * `.sparsify.lock` created atomically (`open` with O_EXCL) holding this process's PID, host and start
 * time. While another live process holds it, this is a RunDirectoryError naming that process. A lock
 * left by a process that died (same host, PID gone; or a lock file left unreadable) is taken over.
 * Held until `release()`, and removed when the process exits. One lock per directory, even within
 * a process: pass the lock on (`TrainOptions.lock`) rather than taking it twice.
 */
export function lockRunDirectory(dir: string): RunLock {
  makeDirectory(dir);
  const file = join(realpathSync(dir), RUN_LOCK_FILE);
  const owner: RunLockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (error) {
      if (code(error) !== 'EEXIST')
        throw new RunDirectoryError(`cannot lock run directory ${dir}: ${code(error) ?? (error as Error).message}`, file, '(lock)');
      const other = readOwner(file);
      if (other === 'gone') {
        if (attempt < 10) continue;
      } else if (attempt < 3 && isStale(file, other)) {
        breakStaleLock(file, other);
        continue;
      }
      const who =
        typeof other === 'object'
          ? `process ${other.pid} on ${other.host} since ${other.startedAt}`
          : 'another process (its lock file is being written)';
      throw new RunDirectoryError(
        `run directory ${dir} is in use by ${who}; wait for it to finish, or choose another directory. ` +
          `If no such run is going on (e.g. it ran on another host), remove ${file}`,
        file,
        '(lock)',
      );
    }
    try {
      writeSync(fd, `${JSON.stringify(owner)}\n`);
    } finally {
      closeSync(fd);
    }
    break;
  }
  held.add(file);
  if (!exitHookInstalled) {
    process.on('exit', removeHeldLocks);
    exitHookInstalled = true;
  }
  let released = false;
  return {
    file,
    dir,
    owner,
    release() {
      if (released) return;
      released = true;
      held.delete(file);
      try {
        unlinkSync(file);
      } catch {
        /* removed already */
      }
    },
  };
}
