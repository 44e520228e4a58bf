// Checkpoints in IndexedDB, for the portable `train` where the runtime has IndexedDB (browsers):
// `runDir` names the run. A checkpoint is one record, written in one readwrite transaction that also
// keeps the one before as the previous record: the transaction commits whole or not at all, so a
// crash or a closed tab leaves the last complete checkpoint, never part of one. What is read back is
// checked like a checkpoint file (`checkLoopCheckpoint`) before anything is used.
import { SparsifyConfigError } from '@sparsify/core';
import { CHECKPOINT_FILE, CORRUPT_CHECKPOINT_FILE, CheckpointError, PREVIOUS_CHECKPOINT_FILE } from './checkpoint-error.js';
import { type LoopCheckpoint, checkLoopCheckpoint } from './loop-checkpoint.js';
import type { RunLock } from './run-dir.js';
import type { RunFiles } from './run-files.js';

/** The IndexedDB database of the checkpoints, and its one object store (keys `[runDir, record]`). */
export const CHECKPOINT_DATABASE = 'sparsify-runs';
const STORE = 'checkpoints';
type Slot = typeof CHECKPOINT_FILE | typeof PREVIOUS_CHECKPOINT_FILE | typeof CORRUPT_CHECKPOINT_FILE;

const label = (runDir: string, slot: Slot) => `indexeddb://${CHECKPOINT_DATABASE}/${runDir}/${slot}`;

function factory(): IDBFactory {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) throw new SparsifyConfigError('this runtime has no IndexedDB: browser checkpoints need it');
  return idb;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

let opening: Promise<IDBDatabase> | null = null;

function database(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory().open(CHECKPOINT_DATABASE, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => {
      const db = req.result;
      // Another tab upgrading the database: let it, and open again next time.
      db.onversionchange = () => {
        db.close();
        opening = null;
      };
      resolve(db);
    };
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error(`IndexedDB ${CHECKPOINT_DATABASE} is blocked by another tab holding an older version`));
  }).catch((error) => {
    opening = null;
    throw error;
  });
  return opening;
}

/** Runs `body` in one transaction of the store; resolves with its result once the transaction commits. */
async function transaction<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => Promise<T> | T): Promise<T> {
  const db = await database();
  // 'strict': committed only once on disk, where the browser distinguishes (Chromium defaults to relaxed).
  const tx = (db.transaction as (s: string, m: IDBTransactionMode, o?: { durability: string }) => IDBTransaction)(STORE, mode, {
    durability: 'strict',
  });
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
    tx.onerror = () => reject(tx.error);
  });
  let result: T;
  try {
    result = await body(tx.objectStore(STORE));
  } catch (error) {
    try {
      tx.abort();
    } catch {
      /* finished already */
    }
    await done.catch(() => undefined);
    throw error;
  }
  await done;
  return result;
}

/** Locks held in this page (where the Web Locks API is missing). */
const heldHere = new Set<string>();
const ownLocks = new WeakSet<RunLock>();

/**
 * The run's lock: a Web Lock (`navigator.locks`, shared by the tabs of an origin, released when the
 * tab closes) where there is one, else a lock within the page. Taken at once or refused.
 */
async function lock(runDir: string): Promise<RunLock> {
  checkRunName(runDir);
  const file = label(runDir, CHECKPOINT_FILE);
  const owner = {
    pid: 0,
    host: (globalThis as { location?: { host?: string } }).location?.host ?? 'indexeddb',
    startedAt: new Date().toISOString(),
  };
  const busy = () =>
    new SparsifyConfigError(
      `IndexedDB run ${JSON.stringify(runDir)} is in use by another training run (in this or another tab); wait for it, or choose another runDir`,
    );
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  let release: () => void;
  if (locks) {
    release = await new Promise<() => void>((resolve, reject) => {
      locks
        .request(`sparsify-run:${runDir}`, { ifAvailable: true }, (held) => {
          if (!held) return reject(busy());
          return new Promise<void>((free) => resolve(free));
        })
        .catch(reject);
    });
  } else {
    if (heldHere.has(runDir)) throw busy();
    heldHere.add(runDir);
    release = () => heldHere.delete(runDir);
  }
  let released = false;
  const runLock: RunLock = {
    file,
    dir: runDir,
    owner,
    release() {
      if (released) return;
      released = true;
      release();
    },
  };
  ownLocks.add(runLock);
  return runLock;
}

function checkLock(lock: RunLock, runDir: string): void {
  if (!ownLocks.has(lock) || lock.dir !== runDir) {
    throw new SparsifyConfigError(`lock must be the lock of IndexedDB run ${JSON.stringify(runDir)}; got one of ${String(lock?.dir)}`);
  }
}

function checkRunName(runDir: string): void {
  if (typeof runDir !== 'string' || runDir.length === 0 || runDir.length > 1000) {
    throw new SparsifyConfigError(
      `runDir must name the run (a non-empty string of at most 1000 characters); got ${JSON.stringify(runDir)}`,
    );
  }
}

async function hasCheckpoint(runDir: string): Promise<boolean> {
  checkRunName(runDir);
  return transaction('readonly', async (store) => {
    const [last, previous] = await Promise.all([
      request(store.count([runDir, CHECKPOINT_FILE])),
      request(store.count([runDir, PREVIOUS_CHECKPOINT_FILE])),
    ]);
    return last + previous > 0;
  });
}

/** The run's checkpoint, or the previous one when the last is damaged (with why); null when none. */
async function readRunCheckpoint(
  runDir: string,
): Promise<{ value: LoopCheckpoint; file: string; fallback?: { file: string; problem: string } } | null> {
  const [last, previous] = await transaction('readonly', (store) =>
    Promise.all([request(store.get([runDir, CHECKPOINT_FILE])), request(store.get([runDir, PREVIOUS_CHECKPOINT_FILE]))]),
  );
  if (last === undefined && previous === undefined) return null;
  const lastFile = label(runDir, CHECKPOINT_FILE);
  let problem: string;
  try {
    if (last === undefined) throw new CheckpointError(`${lastFile} is missing`, { file: lastFile, field: '(file)' });
    return { value: checkLoopCheckpoint(last, lastFile), file: lastFile };
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    problem = error.message;
  }
  const previousFile = label(runDir, PREVIOUS_CHECKPOINT_FILE);
  if (previous === undefined) throw new CheckpointError(problem, { file: lastFile });
  try {
    return { value: checkLoopCheckpoint(previous, previousFile), file: previousFile, fallback: { file: lastFile, problem } };
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    throw new CheckpointError(`${problem}; and the previous checkpoint cannot stand in: ${error.message}`, { file: lastFile });
  }
}

async function setAsideCorruptCheckpoint(runDir: string): Promise<string | null> {
  return transaction('readwrite', async (store) => {
    const last = await request(store.get([runDir, CHECKPOINT_FILE]));
    if (last === undefined) return null;
    store.put(last, [runDir, CORRUPT_CHECKPOINT_FILE]);
    store.delete([runDir, CHECKPOINT_FILE]);
    return label(runDir, CORRUPT_CHECKPOINT_FILE);
  });
}

async function writeCheckpoint(runDir: string, checkpoint: LoopCheckpoint): Promise<string> {
  const file = label(runDir, CHECKPOINT_FILE);
  try {
    await transaction('readwrite', async (store) => {
      const last = await request(store.get([runDir, CHECKPOINT_FILE]));
      if (last !== undefined) store.put(last, [runDir, PREVIOUS_CHECKPOINT_FILE]);
      // Cloned here, synchronously: a value that cannot be stored throws before anything commits.
      store.put(checkpoint, [runDir, CHECKPOINT_FILE]);
    });
  } catch (error) {
    throw new CheckpointError(
      `${file}: the checkpoint was not written, the one before is kept (${(error as Error).name}: ${(error as Error).message})`,
      {
        file,
        field: '(write)',
      },
    );
  }
  return file;
}

/** Checkpoints in IndexedDB (see the top of this file). */
export const INDEXEDDB_RUN_FILES: RunFiles = {
  describe: (runDir) => `IndexedDB run ${JSON.stringify(runDir)}`,
  lock,
  checkLock,
  hasCheckpoint,
  // A transaction leaves nothing behind when it fails: there are no temp records.
  removeStaleTempFiles: () => undefined,
  readRunCheckpoint,
  setAsideCorruptCheckpoint,
  writeCheckpoint,
};

/** The store the portable `train` uses for `runDir`: IndexedDB where the runtime has it, else none. */
export function portableRunFiles(): RunFiles | null {
  return (globalThis as { indexedDB?: unknown }).indexedDB ? INDEXEDDB_RUN_FILES : null;
}

/** The names (`runDir`) of the runs with checkpoints in IndexedDB. */
export async function storedRuns(): Promise<string[]> {
  const keys = await transaction('readonly', (store) => request(store.getAllKeys()));
  return [...new Set(keys.map((k) => (k as [string, string])[0]))].sort();
}

/** Deletes a run's checkpoints from IndexedDB (the last, the previous and a set-aside one); false when it had none. */
export async function deleteStoredRun(runDir: string): Promise<boolean> {
  checkRunName(runDir);
  const had = await hasCheckpoint(runDir);
  await transaction('readwrite', (store) => {
    store.delete(IDBKeyRange.bound([runDir, ''], [runDir, '\uffff']));
  });
  return had;
}
