import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { Worker as NodeWorker, type TransferListItem } from 'node:worker_threads';
import { MAX_WASM_THREADS, type WasmThreadsModule } from './platform.js';

/**
 * tfjs-backend-wasm 4.22 ships a multithreaded SIMD build (XNNPACK on a pthread pool of 8 workers)
 * but never uses it in Node, for three reasons this module works around while the backend starts:
 *
 * 1. its feature test answers "no" in Node (tensorflow/tfjs#3830) — we set the flag;
 * 2. it starts the pthread workers from `blob:` URLs (the worker glue, and the module factory each
 *    worker evaluates), which Node's `worker_threads` cannot load — we capture both texts when tfjs
 *    makes the Blobs and start each worker from source (`eval: true`);
 * 3. it caps the pool at half the logical cores (it assumes 2 hyperthreads per core), i.e. one thread
 *    on a 2-core machine — `os.cpus()` reports doubled while the module initialises.
 *
 * Everything is restored once the backend is up. Only for the exact tfjs-backend-wasm version whose
 * bundle this was written against (the factory it evaluates in workers refers to the bundle's own
 * names for `fs`, `path`, `perf_hooks`, `os`); for any other version it refuses, and `selectBackend`'s
 * `auto` threads start the single-threaded build instead.
 */
export const WASM_THREADS_VERSION = '4.22.0';

/** What `auto` threads mean: a thread per core the process may use, up to the build's pool of 8. */
export function autoWasmThreads(): number {
  return Math.max(1, Math.min(os.availableParallelism(), MAX_WASM_THREADS));
}

/** What the worker evaluates: the bundle's module names, then tfjs's glue, then the factory on demand. */
const PTHREAD_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
Object.assign(globalThis, {
  require$$0: require('fs'), require$$1: require('path'), require$$3: require('perf_hooks'),
  require$$4: require('os'), commonjsGlobal: globalThis,
});
(0, eval)(workerData.glue);
const importFile = globalThis.importScripts;
globalThis.importScripts = (url) => (url === workerData.factoryUrl ? (0, eval)(workerData.factory) : importFile(url));
`;

/** Stands in for the factory Blob in the workers' load message: the bootstrap evaluates its text. */
const FACTORY_URL = 'sparsify:wasm-threaded-simd-factory';

/** Why threads cannot be used with this module, or undefined when they can. */
export function wasmThreadsUnsupported(wasm: WasmThreadsModule): string | undefined {
  if (typeof process === 'undefined' || !process.versions?.node) return 'not Node (tfjs decides for itself in browsers)';
  if (wasm.version_wasm !== WASM_THREADS_VERSION) {
    return `tfjs-backend-wasm ${wasm.version_wasm ?? '(unknown)'} is not ${WASM_THREADS_VERSION}, the version this workaround was written for`;
  }
  if (typeof wasm.setThreadsCount !== 'function') return 'tfjs-backend-wasm has no setThreadsCount';
  return undefined;
}

/**
 * Runs `start` (which must initialise the wasm backend) with the threaded build enabled for Node,
 * `threads` XNNPACK threads (the caller included). Restores every global it touched afterwards,
 * whether `start` succeeded or not. Call at most once per process, before the wasm backend starts.
 */
export async function startWasmWithThreads<T>(wasm: WasmThreadsModule, threads: number, start: () => Promise<T>): Promise<T> {
  const unsupported = wasmThreadsUnsupported(wasm);
  if (unsupported) throw new Error(`wasm threads are unavailable: ${unsupported}`);
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    throw new RangeError(`wasm threads must be an integer from 2 to ${MAX_WASM_THREADS}; got ${threads}`);
  }
  const texts = new WeakMap<Blob, string>();
  const pool: NodeWorker[] = [];
  let factory: string | undefined;
  const urlTexts = new Map<string, string>();
  const OriginalBlob = globalThis.Blob;
  const originalCreateObjectURL = URL.createObjectURL;
  const originalCpus = os.cpus;
  const workerDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'Worker');

  // tfjs builds both texts from string parts, so they can be captured synchronously.
  class RecordingBlob extends OriginalBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (!parts?.every((p) => typeof p === 'string')) return;
      const text = parts.join('');
      texts.set(this, text);
      // The factory's Blob is made just before the module starts (and its pool of workers).
      if (text.startsWith('var WasmBackendModuleThreadedSimd')) factory = text;
    }
  }
  class PthreadWorker extends NodeWorker {
    constructor(url: string | URL) {
      const glue = urlTexts.get(String(url));
      if (glue === undefined || factory === undefined) {
        throw new Error(`unexpected wasm worker script ${String(url)} (tfjs-backend-wasm internals changed?)`);
      }
      super(PTHREAD_BOOTSTRAP, { eval: true, workerData: { glue, factory, factoryUrl: FACTORY_URL } });
      pool.push(this);
    }
    override postMessage(message: unknown, transfer?: readonly TransferListItem[]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      // The load message carries the factory Blob; the bootstrap already has its text.
      const patched = m?.cmd === 'load' && m.urlOrBlob instanceof OriginalBlob ? { ...m, urlOrBlob: FACTORY_URL } : message;
      super.postMessage(patched, transfer);
    }
  }

  globalThis.Blob = RecordingBlob as typeof Blob;
  URL.createObjectURL = (blob: Blob) => {
    const url = originalCreateObjectURL(blob);
    const text = texts.get(blob);
    if (text !== undefined) urlTexts.set(url, text);
    return url;
  };
  // emscripten assigns worker_threads.Worker to the global Worker before starting its pool; keep ours.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => {} });
  os.cpus = () => {
    const cores = originalCpus();
    return Array.from({ length: Math.max(cores.length, 2 * threads) }, (_, i) => cores[i % cores.length]);
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount!(threads);
  try {
    const started = await start();
    // Pool threads only work while the main thread waits in a kernel, so they must not keep the
    // process alive once the program is done. emscripten's Node glue never unrefs them, and its
    // 'message' listeners re-ref a worker's port: unref once they are attached.
    for (const worker of pool) worker.unref();
    return started;
  } catch (error) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false); // a later start must not pick the threaded build unaided
    throw error;
  } finally {
    os.cpus = originalCpus;
    globalThis.Blob = OriginalBlob;
    URL.createObjectURL = originalCreateObjectURL;
    if (workerDescriptor) Object.defineProperty(globalThis, 'Worker', workerDescriptor);
    else delete (globalThis as { Worker?: unknown }).Worker;
  }
}
