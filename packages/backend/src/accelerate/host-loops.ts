import * as tf from '@tensorflow/tfjs';
import { helperBusy, helperJobs, helperOn, runOnHelper, settle, waitForHelper } from './helper-thread.js';
import {
  exportsOn,
  loopKernelSimdEnabled,
  noScratch,
  orderedInputs,
  type LoopContext,
  type LoopKernel,
  type WasmKernelCode,
  type WasmKernelExports,
} from './loop-kernels.js';
import { outputHandle, readValues, type NodeBackend, type TensorEntry } from './tfjs-node.js';

/**
 * Loop kernels on the tensorflow backend (tfjs-node), whose tensors live in TensorFlow: the inputs are
 * copied into a private WebAssembly memory and the kernel's SIMD loop runs there (its JS loop where the
 * module does not instantiate). For a formula of several elementwise steps the copies cost less than the
 * TensorFlow ops it takes, each a full pass over memory plus its dispatch (docs/performance.md).
 *
 * Copies are what costs, so values stay in the memory, keyed by data id (a tensor's data never
 * changes), and kernels called one after another on the same tensors copy them once: HALO's term, then
 * its gradients; a threshold, then HyperSparse's pass; a penalty's gradient, then the momentum update
 * that adds it; the weights and accumulation one update wrote, then the next step's penalty and update.
 * An output reaches TensorFlow only when something there reads it (`lazyEntry`): a penalty's gradient
 * that only the momentum update reads is never copied.
 *
 * TensorFlow takes an array it is given as the tensor's own memory where the array is aligned for its
 * vector code, and copies it otherwise; outputs are written 4 bytes past a multiple of 16, so that
 * TensorFlow copies them and no later use of the memory changes a tensor (`outputsCopied` checks that
 * once; where it fails, each output is handed over at once, as an array of its own).
 *
 * A tensor's memory is reused, by a later copy, output or scratch of the same size, once TensorFlow no
 * longer holds the tensor (it was disposed): a training step then works in the memory the step before
 * it used, which the caches still hold. The memory is cleared when a call would take it past twice
 * what the call itself needs, or 64 MiB if more, after the outputs still alive are handed to
 * TensorFlow; it grows as needed and never shrinks.
 *
 * Where it can be shared, a kernel whose calls need only its inputs (`offThread`: HyperSparse's pass)
 * runs on the helper thread (helper-thread.ts) while TensorFlow runs the forward and backward passes:
 * its outputs are settled (waited for) before anything reads them (another kernel, or TensorFlow when
 * they are handed over), and memory is reused only while the helper has no job left.
 */
class HostMemory {
  readonly memory = sharedIfPossible();
  private used = NOTHING_AT_0;
  /** What the memory holds for each tensor: its values (copied in, or written by a kernel) and where. */
  private readonly regions = new Map<tf.DataId, Region>();
  /** Offsets of regions free to reuse, by size: a training step allocates the same sizes every time. */
  private free = new Map<number, number[]>();

  /**
   * Byte offsets of `infos` in the memory (copied where not already there) and of new outputs of
   * `bytes` each, recorded under their data ids.
   */
  place(
    backend: NodeBackend,
    infos: readonly tf.TensorInfo[],
    outputs: readonly { id: tf.DataId; bytes: number }[],
  ): [inputs: number[], outputs: number[]] {
    this.reclaim(backend);
    const bytes = (info: tf.TensorInfo) => 4 * tf.util.sizeFromShape(info.shape);
    // Outputs take 4 bytes more (see above).
    const blocks = outputs.map((o) => o.bytes + 4);
    const fresh = this.unreusable([...infos.filter((info) => !this.regions.has(info.dataId)).map(bytes), ...blocks]);
    const needed = infos.reduce((n, info) => n + bytes(info), 0) + blocks.reduce((n, b) => n + b + 16, 0);
    if (this.used + fresh > Math.max(MIN_LIMIT, 2 * needed)) this.clear(backend);
    const inputs = infos.map((info) => {
      const region = this.regions.get(info.dataId);
      if (region) {
        settle(info.dataId);
        return region.at;
      }
      const values = readValues(backend, info);
      copied++;
      const at = this.allocate(values.byteLength);
      new Float32Array(this.memory.buffer, at, values.length).set(values);
      this.regions.set(info.dataId, { at, block: at, bytes: values.byteLength });
      return at;
    });
    const outputAt = outputs.map(({ id }, i) => {
      const block = this.allocate(blocks[i]);
      this.regions.set(id, { at: block + 4, block, bytes: blocks[i] });
      return block + 4;
    });
    return [inputs, outputAt];
  }

  /** Whether the values of `id` are here. */
  holds(id: tf.DataId): boolean {
    return this.regions.has(id);
  }

  /** `bytes` of the memory, 16-byte aligned: a free region of that size, or new memory (views taken before may detach). */
  allocate(bytes: number): number {
    const reused = this.free.get(roundUp(bytes))?.pop();
    if (reused !== undefined) return reused;
    const at = this.used;
    this.used += roundUp(bytes);
    const missing = this.used - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / 65536));
    return at;
  }

  /** Frees a region `allocate` gave (scratch memory, once its kernel has returned). */
  release(at: number, bytes: number): void {
    const size = roundUp(bytes);
    const list = this.free.get(size);
    if (list) list.push(at);
    else this.free.set(size, [at]);
  }

  /** How many bytes of `sizes` free regions cannot hold (each region taken once). */
  private unreusable(sizes: readonly number[]): number {
    const taken = new Map<number, number>();
    let n = 0;
    for (const b of sizes) {
      const size = roundUp(b);
      const k = taken.get(size) ?? 0;
      if (k < (this.free.get(size)?.length ?? 0)) taken.set(size, k + 1);
      else n += size;
    }
    return n;
  }

  /**
   * Frees the regions of tensors TensorFlow no longer holds (disposed, or an output of a kernel that
   * threw), so that the next calls reuse them: a step's copies and outputs then take the memory the last
   * step's took, instead of new memory each time until the memory is cleared. Only while the helper runs
   * no job: a job may still read or write a disposed tensor's region.
   */
  private reclaim(backend: NodeBackend): void {
    if (helperBusy(this.memory)) return;
    for (const [id, region] of this.regions) {
      if (backend.tensorMap.has(id)) continue;
      this.regions.delete(id);
      this.release(region.block, region.bytes);
    }
  }

  view(at: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, length);
  }

  /** Forgets everything, after handing the outputs still alive to TensorFlow (reading an entry's `values` does: `lazyEntry`). */
  clear(backend: NodeBackend): void {
    waitForHelper(this.memory);
    for (const id of this.regions.keys()) if (backend.tensorMap.has(id)) void backend.tensorMap.get(id)!.values;
    this.used = NOTHING_AT_0;
    this.regions.clear();
    this.free = new Map();
  }
}

/** A tensor's values in the host memory, at `at`, in the `bytes` from `block` that `allocate` gave. */
interface Region {
  readonly at: number;
  readonly block: number;
  readonly bytes: number;
}

const roundUp = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** The kernels read offset 0 as "none" (no addend, no sums wanted): the memory's first 16 bytes are never given out. */
const NOTHING_AT_0 = 16;

const MIN_LIMIT = 64 << 20;

/** Shared memory where the runtime has it (a helper thread can then work on it), else plain. */
function sharedIfPossible(): WebAssembly.Memory {
  try {
    if (typeof SharedArrayBuffer !== 'undefined') return new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  } catch {
    // no shared memory here
  }
  return new WebAssembly.Memory({ initial: 1 });
}

let host: HostMemory | undefined;
let copied = 0;

/** How many input tensors host loops have copied out of TensorFlow (for tests). */
export const hostCopies = (): number => copied;
const hostMemory = () => (host ??= new HostMemory());

/** How many kernel calls host loops have run on the helper thread (for tests). */
export const hostHelperJobs = (): number => helperJobs(hostMemory().memory);

/** The host memory's size in bytes (for tests). */
export const hostMemoryBytes = (): number => hostMemory().memory.buffer.byteLength;

/** Forgets what the host memory holds, so that the next calls reuse it from the start (for tests). */
export const clearHostMemory = (): void => hostMemory().clear(tf.findBackend('tensorflow') as unknown as NodeBackend);

let copiesUnaligned: boolean | undefined;

/**
 * Whether TensorFlow copies an array given at an offset that is not a multiple of 16 (rather than taking
 * it as the tensor's memory): checked once, by writing to the array after handing it over.
 */
function outputsCopied(backend: NodeBackend): boolean {
  if (copiesUnaligned === undefined) {
    const view = new Float32Array(new ArrayBuffer(32), 4, 1);
    view[0] = 1;
    const id = backend.binding.createTensor([1], backend.binding.TF_FLOAT, view);
    view[0] = 2;
    copiesUnaligned = backend.binding.tensorDataSync(id)[0] === 1;
    backend.binding.deleteTensor(id);
  }
  return copiesUnaligned;
}

/** Whether host loops hold `info`'s values (no copy out of TensorFlow needed). */
export function heldOnHost(info: tf.TensorInfo): boolean {
  return hostMemory().holds(info.dataId);
}

/** `code` instantiated on the host memory, or null where it does not instantiate (then the JS loop runs). */
export function hostKernelExports(code: WasmKernelCode): WasmKernelExports | null {
  return exportsOn(hostMemory().memory, code);
}

/** `kernel` as a tensorflow kernel function, run as above. */
export function hostKernelFunc<A extends object>(kernel: LoopKernel<A>): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const node = backend as unknown as NodeBackend;
    const infos = orderedInputs(inputs);
    for (const info of infos) {
      if (info.dtype !== 'float32') throw new Error(`${kernel.name}: inputs must be float32, got ${info.dtype}`);
    }
    const a = attrs as unknown as A;
    const [inputShapes, sizes] = [infos.map((i) => i.shape), infos.map((i) => tf.util.sizeFromShape(i.shape))];
    const shapes = kernel.outputShapes(inputShapes, a);
    const outputSizes = shapes.map((s) => tf.util.sizeFromShape(s));
    const outputIds = shapes.map(() => ({}));
    const memory = hostMemory();
    const [ins, outs] = memory.place(
      node,
      infos,
      outputIds.map((id, i) => ({ id, bytes: 4 * outputSizes[i] })),
    );
    // Scratch is free again once the kernel returns.
    const scratches: [at: number, bytes: number][] = [];
    const allocateScratch = (n: number) => {
      const at = memory.allocate(4 * n);
      scratches.push([at, 4 * n]);
      return at;
    };
    const context: LoopContext = {
      inputIds: infos.map((i) => i.dataId),
      outputIds,
      memory: memory.memory,
      scratch: allocateScratch,
    };
    const exports = loopKernelSimdEnabled() && kernel.simd ? hostKernelExports(kernel.simd.code) : null;
    const copies = outputsCopied(node);
    // Off the thread only where outputs wait in the memory until read (`lazyEntry`), never handed over at once.
    const helper = exports && kernel.simd!.offThread && copies ? helperOn(memory.memory) : null;
    try {
      if (helper) {
        runOnHelper(helper, null, kernel.simd!.code, kernel.name, context.inputIds, context.outputIds, (recorder) =>
          kernel.simd!.call(recorder, ins, outs, inputShapes, a, { ...context, scratch: noScratch(kernel.name) }),
        );
      } else if (exports) kernel.simd!.call(exports, ins, outs, inputShapes, a, context);
      else {
        const scratch = (n: number) => memory.view(allocateScratch(n), n);
        kernel.run(
          ins.map((at, i) => memory.view(at, sizes[i])),
          outs.map((at, i) => memory.view(at, outputSizes[i])),
          a,
          { ...context, scratch },
        );
      }
    } finally {
      for (const [at, bytes] of scratches) memory.release(at, bytes);
    }
    return outs.map((at, i) => {
      const dataId = context.outputIds[i];
      const [shape, view] = [shapes[i], memory.view(at, outputSizes[i])];
      if (!copies) return outputHandle(node, node.binding.createTensor(shape, node.binding.TF_FLOAT, view.slice()), shape, dataId);
      node.tensorMap.set(dataId, lazyEntry(node, dataId, shape, memory, at, outputSizes[i]));
      return { dataId, shape, dtype: 'float32' };
    });
  };
}

/**
 * tfjs-node's entry for an output still in the memory at `at`: reading its `values` (what tfjs-node
 * does before an op reads the tensor, and to read its data) first hands the values to TensorFlow (a
 * copy, at that offset) and records the tensor's id, then gives null, so that tfjs-node goes on with the
 * id. The memory does the same before it is cleared. An output that nothing outside host loops reads
 * (a penalty's gradient the momentum update adds, the accumulation the next update reads) is disposed
 * without ever being copied. An output the helper thread is still writing is waited for first.
 */
function lazyEntry(backend: NodeBackend, dataId: tf.DataId, shape: number[], memory: HostMemory, at: number, length: number): TensorEntry {
  const entry = { shape, dtype: backend.binding.TF_FLOAT, id: -1, refCount: 1 } as TensorEntry;
  const fix = (values: Float32Array | null) =>
    Object.defineProperty(entry, 'values', { value: values, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(entry, 'values', {
    enumerable: true,
    configurable: true,
    get() {
      settle(dataId);
      entry.id = backend.binding.createTensor(shape, backend.binding.TF_FLOAT, memory.view(at, length));
      fix(null);
      return null;
    },
    set: fix,
  });
  return entry;
}

/** Registers each kernel under its name for the tensorflow backend, run as above. */
export function registerHostLoopKernels(kernels: readonly LoopKernel<object>[]): void {
  for (const kernel of kernels) {
    if (tf.getKernel(kernel.name, 'tensorflow')) tf.unregisterKernel(kernel.name, 'tensorflow');
    tf.registerKernel({ kernelName: kernel.name, backendName: 'tensorflow', kernelFunc: hostKernelFunc(kernel) });
  }
}

export function unregisterHostLoopKernels(kernels: readonly LoopKernel<object>[]): void {
  for (const kernel of kernels) if (tf.getKernel(kernel.name, 'tensorflow')) tf.unregisterKernel(kernel.name, 'tensorflow');
}
