import { readFileSync, renameSync, statSync, unlinkSync, linkSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RUN_LOCK_FILE, type RunLockOwner } from '@sparsify/train/node';

/**
 * Run-directory locks across machines. A lock names its process and host; on its own host a dead PID
 * marks it stale, but another host cannot see that PID. So while a job runs, its worker touches the
 * lock every `lockDuration / 2` (a heartbeat in the file's mtime), and a worker that BullMQ handed a
 * stalled job takes over a lock of another host only once it has not been touched for `staleMs`
 * (3 × lockDuration: BullMQ itself gave the job up after one). Hosts' clocks must agree to well
 * within that (NTP does).
 */
export function touchLock(dir: string): void {
  try {
    const now = new Date();
    utimesSync(join(dir, RUN_LOCK_FILE), now, now);
  } catch {
    /* no lock (yet, or any more) */
  }
}

/** What `takeOverLostLock` found: nothing to do, a live lock of another host, or the lost one it removed. */
export type LostLock = { taken: false; owner?: RunLockOwner; silentMs?: number } | { taken: true; owner: RunLockOwner; silentMs: number };

export function takeOverLostLock(dir: string, staleMs: number, now = Date.now()): LostLock {
  const file = join(dir, RUN_LOCK_FILE);
  let owner: RunLockOwner;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
    owner = JSON.parse(readFileSync(file, 'utf8')) as RunLockOwner;
  } catch {
    return { taken: false }; // none, or being written: the run's own lock handles it
  }
  // This host's locks are judged by their PID when the run takes its lock.
  if (typeof owner?.host !== 'string' || owner.host === hostname()) return { taken: false };
  const silentMs = now - mtimeMs;
  if (silentMs < staleMs) return { taken: false, owner, silentMs };
  // Renamed aside first (atomic: of two workers, one wins), then put back if it changed meanwhile.
  const aside = `${file}.lost-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return { taken: false, owner, silentMs };
  }
  if (statSync(aside).mtimeMs !== mtimeMs) {
    try {
      linkSync(aside, file);
    } catch {
      /* a newer lock is there */
    }
    unlinkSync(aside);
    return { taken: false, owner, silentMs };
  }
  unlinkSync(aside);
  return { taken: true, owner, silentMs };
}
