import * as tf from '@tensorflow/tfjs';
import type { MessagePort as NodeMessagePort } from 'node:worker_threads';
import {
  backendMemory,
  decodeBase64,
  loopKernelsEnabled,
  type LoopKernel,
  type WasmKernelCode,
  type WasmKernelExports,
  type WasmLike,
} from './loop-kernels.js';

/**
 * A loop kernel's WebAssembly on a second thread, while the caller goes on: for work whose inputs are
 * known early in a training step and whose results are needed only at its end (HyperSparse's pass
 * needs only the weights, and its gradient only at the update). On the threaded wasm backend the
 * heap is shared memory, so a worker that instantiates the same module on it can run the kernel
 * while the forward and backward passes run on the main thread.
 *
 * A worker woken in the middle of a step typically starts about a millisecond late (measured on a
 * 2-core machine: 1.2–1.5 ms median after a matMul): far too late to share a pass the caller then
 * waits for, early enough for one started before a forward pass of several milliseconds.
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

/** How long `join` waits for the worker before it gives up (a worker that died never answers). */
const JOIN_TIMEOUT_MS = 60_000;

interface Helper {
  readonly flags: Int32Array;
  readonly requests: NodeMessagePort;
  readonly replies: NodeMessagePort;
  readonly receive: (port: NodeMessagePort) => { message: { job: number; error: string } } | undefined;
  /** Codes whose module the worker has been sent. */
  readonly codes: Set<string>;
  /** Errors the worker reported, by job, until that job's `join`. */
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

/** Turns the helper thread off (or on again): `startLoopKernel` then declines, and callers run kernels in place. */
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
    const helper: Helper = { flags, requests: requests.port1, replies: replies.port1, receive: threads.receiveMessageOnPort as Helper['receive'], codes: new Set(), errors: new Map(), received: 0, job: 0 };
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

function helperFor(memory: WebAssembly.Memory): Helper | null {
  if (!helpers.has(memory)) helpers.set(memory, startHelper(memory));
  return helpers.get(memory)!;
}

/** A kernel running on the helper thread: `join()` waits for it and hands over its outputs. */
export interface PendingLoopKernel {
  /** Waits until the kernel is done; returns its outputs (the caller owns them). Call it exactly once. */
  join(): tf.Tensor[];
}

/**
 * Starts `kernel`'s WebAssembly on the helper thread and returns at once, or returns undefined where it
 * cannot (any backend but threaded wasm, a kernel without `simd`, loop kernels or the helper disabled,
 * no `worker_threads`): run it in place then. The inputs must stay alive and unchanged, and the outputs
 * unread, until `join()`. Only for kernels whose `simd.call` uses no export's return value and reads no
 * memory: the calls are recorded here and replayed on the worker.
 */
export function startLoopKernel<A extends object>(kernel: LoopKernel<A>, inputs: readonly tf.Tensor[], attrs: A): PendingLoopKernel | undefined {
  if (!helperThreadEnabled || !loopKernelsEnabled() || !kernel.simd || tf.getBackend() !== 'wasm') return undefined;
  if (inputs.some((t) => t.dtype !== 'float32')) return undefined;
  const backend = tf.backend() as unknown as WasmLike;
  const memory = backendMemory(backend);
  // SharedArrayBuffer is undefined in browsers without cross-origin isolation
  if (!memory || typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return undefined;
  const helper = helperFor(memory);
  if (!helper || helper.failed) return undefined;
  const shapes = kernel.outputShapes(
    inputs.map((t) => t.shape),
    attrs,
  );
  // Kept: a tidy must not free them while the worker writes them.
  const outputs = shapes.map((s) => tf.keep(tf.engine().makeTensorFromTensorInfo(backend.makeOutput(s, 'float32'))));
  const offset = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
  const calls: [string, number[]][] = [];
  const recorder = new Proxy({} as WasmKernelExports, { get: (_, fn: string) => (...args: number[]) => void calls.push([fn, args]) });
  kernel.simd.call(recorder, inputs.map(offset), outputs.map(offset), inputs.map((t) => t.shape), attrs, memory);
  const job = post(helper, kernel.simd.code, calls);
  let joined = false;
  return {
    join() {
      if (joined) throw new Error(`${kernel.name}: join() called twice`);
      joined = true;
      wait(helper, job, kernel.name);
      const error = helper.errors.get(job);
      if (error !== undefined) {
        helper.errors.delete(job);
        tf.dispose(outputs); // the worker is past this job: nothing writes them any more
        throw new Error(`${kernel.name} failed on the helper thread: ${error}`);
      }
      return outputs;
    },
  };
}

/** Queues a job for the worker and wakes it; returns the job's sequence number. */
function post(helper: Helper, code: WasmKernelCode, calls: [string, number[]][]): number {
  const job = ++helper.job;
  // The module goes along with the first job that needs it.
  const module = helper.codes.has(code.name) ? undefined : new WebAssembly.Module(decodeBase64(code.shared));
  helper.codes.add(code.name);
  helper.requests.postMessage({ job, name: code.name, module, calls });
  Atomics.store(helper.flags, 0, job);
  Atomics.notify(helper.flags, 0);
  return job;
}

/** Waits until the worker is past `job`, and collects the errors it reported. */
function wait(helper: Helper, job: number, name: string): void {
  const deadline = Date.now() + JOIN_TIMEOUT_MS;
  for (let done = Atomics.load(helper.flags, 1); done < job; done = Atomics.load(helper.flags, 1)) {
    if (helper.failed) throw new Error(`${name}: the helper thread stopped: ${helper.failed}`);
    if (Date.now() > deadline) throw new Error(`${name}: the helper thread did not finish in ${JOIN_TIMEOUT_MS / 1000} s`);
    Atomics.wait(helper.flags, 1, done, 100);
  }
  // Reading the port costs ≈ 20 µs: only when an error was reported.
  while (helper.received < Atomics.load(helper.flags, 2)) {
    const reply = helper.receive(helper.replies);
    if (!reply) continue; // posted just before it was counted: on its way
    helper.errors.set(reply.message.job, reply.message.error);
    helper.received += 1;
  }
}
