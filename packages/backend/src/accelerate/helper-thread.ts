import type * as tf from '@tensorflow/tfjs';
import type { MessagePort as NodeMessagePort } from 'node:worker_threads';
import { backendMemory, decodeBase64, moduleSource, type WasmKernelCode, type WasmKernelExports, type WasmLike } from './loop-kernels.js';

/**
 * A loop kernel's WebAssembly on a second thread, while the main thread goes on. On the threaded wasm
 * backend the heap is shared memory, so a worker that instantiates the same module on it can run a
 * kernel whose calls need only its inputs (HyperSparse's pass) while the forward and backward passes
 * run. The kernel returns at once; its outputs are *pending* until the worker is done, and the backend
 * waits for the worker whenever anything touches their data first (a kernel reading them, a read-back,
 * a dispose): it looks every tensor's data up through its `dataIdMap`, which is wrapped here. Callers
 * see ordinary tensors and the same numbers.
 *
 * A worker woken in the middle of a step starts late (docs/performance.md): early enough for work
 * started before a forward pass, too late to share a pass the caller then waits for.
 */

/** The worker, evaluated as CommonJS: waits for a sequence number, runs the queued calls, reports it done. */
// flags: [0] the last job posted, [1] the last job done, [2] how many errors the worker has reported.
const HELPER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { memory, flags: shared, requests, replies } = workerData;
const flags = new Int32Array(shared);
const modules = new Map();
const instances = new Map();
const instantiate = (name) => instances.set(name, new WebAssembly.Instance(modules.get(name), { env: { memory } }).exports);
let seen = 0;
for (;;) {
  Atomics.wait(flags, 0, seen);
  seen = Atomics.load(flags, 0);
  for (let m = receiveMessageOnPort(requests); m; m = receiveMessageOnPort(requests)) {
    const { job, name, module, calls } = m.message;
    try {
      if (module) modules.set(name, module);
      if (!instances.has(name)) instantiate(name);
      for (const [fn, args] of calls) {
        const exported = instances.get(name)[fn];
        if (typeof exported !== 'function') throw new Error(name + ' has no export ' + fn);
        exported(...args);
      }
    } catch (e) {
      replies.postMessage({ job, error: String((e && e.stack) || e) });
      Atomics.add(flags, 2, 1);
      // A fresh instance: a failed job may have left the module's globals (running sums) half-updated.
      instances.delete(name);
    }
  }
  Atomics.store(flags, 1, seen);
  Atomics.notify(flags, 1);
}
`;

/** How long a wait for the worker may take before it gives up (a worker that died never answers). */
const WAIT_TIMEOUT_MS = 60_000;

interface Helper {
  readonly flags: Int32Array;
  readonly requests: NodeMessagePort;
  readonly replies: NodeMessagePort;
  readonly receive: (port: NodeMessagePort) => { message: { job: number; error: string } } | undefined;
  /** Codes whose module the worker has been sent. */
  readonly codes: Set<string>;
  /** Errors the worker reported, by job. */
  readonly errors: Map<number, string>;
  /** How many of them have been received (flags[2] counts those sent). */
  received: number;
  /** The last job's sequence number. */
  job: number;
  /** Why the worker stopped, once it has (it never does unless it crashes). */
  failed?: string;
}

/** One worker per shared memory (per wasm backend); null where none can start. */
const helpers = new WeakMap<WebAssembly.Memory, Helper | null>();
let helperThreadEnabled = true;

/** Turns the helper thread off (or on again): kernels that could use it then run in place. */
export function setHelperThreadEnabled(on: boolean): void {
  helperThreadEnabled = on;
}

function startHelper(memory: WebAssembly.Memory): Helper | null {
  const threads = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.(
    'node:worker_threads',
  ) as typeof import('node:worker_threads') | undefined;
  if (!threads) return null; // browsers, and Node before 20.16
  try {
    const flags = new Int32Array(new SharedArrayBuffer(12));
    const requests = new threads.MessageChannel();
    const replies = new threads.MessageChannel();
    const worker = new threads.Worker(HELPER_SOURCE, {
      eval: true,
      workerData: { memory, flags: flags.buffer, requests: requests.port2, replies: replies.port2 },
      transferList: [requests.port2, replies.port2],
    });
    const helper: Helper = {
      flags,
      requests: requests.port1,
      replies: replies.port1,
      receive: threads.receiveMessageOnPort as Helper['receive'],
      codes: new Set(),
      errors: new Map(),
      received: 0,
      job: 0,
    };
    worker.on('error', (e) => (helper.failed = String(e)));
    worker.on('exit', (code) => (helper.failed ??= `it exited with code ${code}`));
    // It waits for work forever: it must not keep the process alive.
    worker.unref();
    requests.port1.unref();
    replies.port1.unref();
    return helper;
  } catch {
    return null;
  }
}

/** The helper for a wasm backend, where one can run: the threaded build's shared heap, in Node. */
export function helperFor(backend: WasmLike): Helper | null {
  const memory = backendMemory(backend);
  return memory ? helperOn(memory) : null;
}

/** The helper for `memory` (a wasm backend's heap, or the host loops' memory), where it is shared and one can run. */
export function helperOn(memory: WebAssembly.Memory): Helper | null {
  if (!helperThreadEnabled) return null;
  // SharedArrayBuffer is undefined in browsers without cross-origin isolation
  if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  if (!helpers.has(memory)) helpers.set(memory, startHelper(memory));
  const helper = helpers.get(memory)!;
  return helper && !helper.failed ? helper : null;
}

/** How many jobs have been posted to the helper on `memory` (for tests). */
export function helperJobs(memory: WebAssembly.Memory): number {
  return helpers.get(memory)?.job ?? 0;
}

/** Whether the helper on `memory` (if one started) has a job it has not finished. */
export function helperBusy(memory: WebAssembly.Memory): boolean {
  const helper = helpers.get(memory);
  return helper !== undefined && helper !== null && Atomics.load(helper.flags, 1) < helper.job;
}

/** Waits until the helper on `memory` (if one started) has finished every job posted to it. */
export function waitForHelper(memory: WebAssembly.Memory): void {
  const helper = helpers.get(memory);
  if (helper && !helper.failed) waitForJob(helper, helper.job, 'the host memory');
}

/** A kernel's outputs that a job is still writing, by data id. */
interface Pending {
  readonly helper: Helper;
  readonly job: number;
  readonly kernel: string;
}
const pending = new WeakMap<tf.DataId, Pending>();
let pendingCount = 0;
/**
 * A job's inputs, by data id (the last job reading each): their memory must not be freed, and so
 * reused by the calling thread, while the worker still reads it.
 */
const readers = new WeakMap<tf.DataId, Pending>();

/** Waits for the last job reading `id`, if one may still run: before its memory is freed. */
function releaseInput(id: tf.DataId): void {
  const entry = readers.get(id);
  if (!entry) return;
  readers.delete(id);
  waitForJob(entry.helper, entry.job, entry.kernel);
}

/**
 * Runs `call` (a kernel's `simd.call`, which must use no export's return value and read no memory) on
 * the helper thread: its calls are recorded here and replayed there. `outputIds` are pending until the
 * worker is done. With a wasm `backend`, its data accesses wait for them (`watchDataAccess`); without,
 * the caller settles them before it reads them and waits for the helper before it reuses its memory
 * (the host loops on tensorflow, host-loops.ts).
 */
export function runOnHelper(
  helper: Helper,
  backend: WasmLike | null,
  code: WasmKernelCode,
  kernel: string,
  inputIds: readonly tf.DataId[],
  outputIds: readonly tf.DataId[],
  call: (exports: WasmKernelExports) => void,
): void {
  const calls: [string, number[]][] = [];
  call(
    new Proxy({} as WasmKernelExports, {
      get:
        (_, fn: string) =>
        (...args: number[]) =>
          void calls.push([fn, args]),
    }),
  );
  if (backend) watchDataAccess(backend);
  const job = ++helper.job;
  // The module goes along with the first job that needs it.
  const { key, base64 } = moduleSource(code, true);
  const module = helper.codes.has(key) ? undefined : new WebAssembly.Module(decodeBase64(base64));
  helper.codes.add(key);
  helper.requests.postMessage({ job, name: key, module, calls });
  Atomics.store(helper.flags, 0, job);
  Atomics.notify(helper.flags, 0);
  for (const id of outputIds) pending.set(id, { helper, job, kernel });
  pendingCount += outputIds.length;
  if (backend) for (const id of inputIds) readers.set(id, { helper, job, kernel });
}

/** Waits until the worker has finished `job`. */
function waitForJob(helper: Helper, job: number, kernel: string): void {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (let done = Atomics.load(helper.flags, 1); done < job; done = Atomics.load(helper.flags, 1)) {
    if (helper.failed) throw new Error(`${kernel}: the helper thread stopped: ${helper.failed}`);
    if (Date.now() > deadline) throw new Error(`${kernel}: the helper thread did not finish in ${WAIT_TIMEOUT_MS / 1000} s`);
    Atomics.wait(helper.flags, 1, done, 100);
  }
}

/** Waits until the job writing `id` is done (if one is); throws (once) what it failed with. */
export function settle(id: tf.DataId): void {
  const entry = pending.get(id);
  if (!entry) return;
  pending.delete(id);
  pendingCount -= 1;
  const { helper, job, kernel } = entry;
  waitForJob(helper, job, kernel);
  // Reading the port is slow next to the kernels it waits for: only when an error was reported.
  while (helper.received < Atomics.load(helper.flags, 2)) {
    const reply = helper.receive(helper.replies);
    if (!reply) continue; // posted just before it was counted: on its way
    helper.errors.set(reply.message.job, reply.message.error);
    helper.received += 1;
  }
  const error = helper.errors.get(job);
  if (error !== undefined) {
    // Reported once, to the first access to one of its outputs; the others read what was written.
    helper.errors.delete(job);
    throw new Error(`${kernel} failed on the helper thread: ${error}`);
  }
}

interface DataMap {
  get(id: tf.DataId): unknown;
  has(id: tf.DataId): boolean;
}
const watched = new WeakSet<object>();

/**
 * Has the wasm backend wait for pending outputs before any use of their data (every kernel, read and
 * dispose of tfjs-backend-wasm looks a tensor's data up with `dataIdMap.get` or `.has`), and for the
 * jobs still reading an input before that input's memory is freed (`disposeData`).
 */
function watchDataAccess(backend: WasmLike): void {
  const map = (backend as unknown as { dataIdMap?: DataMap }).dataIdMap;
  if (!map || watched.has(map)) return;
  watched.add(map);
  // A job's inputs are freed only once it is done: the calling thread would reuse their memory at once.
  const owner = backend as unknown as { disposeData(id: tf.DataId, force?: boolean): boolean };
  const disposeData = owner.disposeData.bind(owner);
  owner.disposeData = (id, force) => {
    releaseInput(id);
    return disposeData(id, force);
  };
  const get = map.get.bind(map);
  const has = map.has.bind(map);
  map.get = (id) => {
    if (pendingCount > 0) settle(id);
    return get(id);
  };
  map.has = (id) => {
    if (pendingCount > 0) settle(id);
    return has(id);
  };
}
