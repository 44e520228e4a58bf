import * as tf from '@tensorflow/tfjs';
import { helperJobs, helperOn, runOnHelper, settle, waitForHelper } from './helper-thread.js';
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
 * The memory is cleared when a call would take it past twice what the call itself needs, or 64 MiB if
 * more, after the outputs still alive are handed to TensorFlow; it grows as needed and never shrinks.
 *
 * Where it can be shared, a kernel whose calls need only its inputs (`offThread`: HyperSparse's pass)
 * runs on the helper thread (helper-thread.ts) while TensorFlow runs the forward and backward passes:
 * its outputs are settled (waited for) before anything reads them (another kernel, or TensorFlow when
 * they are handed over), and the memory is reused only once the helper is done with every job.
 */
class HostMemory {
  readonly memory = sharedIfPossible();
  private used = 0;
  /** Byte offsets of the tensors copied in or written since the last clear. */
  private readonly copies = new Map<tf.DataId, number>();
  /** Hand the outputs written since the last clear to TensorFlow, where not done yet. */
  private handOvers: (() => void)[] = [];

  /** Byte offsets of `infos` in the memory (copied where not already there) and of new `outputBytes`-sized outputs. */
  place(backend: NodeBackend, infos: readonly tf.TensorInfo[], outputBytes: readonly number[]): [inputs: number[], outputs: number[]] {
    const bytes = (info: tf.TensorInfo) => 4 * tf.util.sizeFromShape(info.shape);
    const outputs = outputBytes.reduce((n, b) => n + b + 16, 0);
    const fresh = infos.reduce((n, info) => n + (this.copies.has(info.dataId) ? 0 : bytes(info)), outputs);
    const needed = infos.reduce((n, info) => n + bytes(info), outputs);
    if (this.used + fresh > Math.max(MIN_LIMIT, 2 * needed)) this.clear();
    const inputs = infos.map((info) => {
      let at = this.copies.get(info.dataId);
      if (at !== undefined) settle(info.dataId);
      else {
        const values = readValues(backend, info);
        copied++;
        at = this.allocate(values.byteLength);
        new Float32Array(this.memory.buffer, at, values.length).set(values);
        this.copies.set(info.dataId, at);
      }
      return at;
    });
    // 4 bytes past a multiple of 16 (see above)
    return [inputs, outputBytes.map((b) => this.allocate(b + 4) + 4)];
  }

  /** Whether the values of `id` are here. */
  holds(id: tf.DataId): boolean {
    return this.copies.has(id);
  }

  /** Records that the values of `id` are at `at`, to be handed to TensorFlow by `handOver` before they are overwritten. */
  keep(id: tf.DataId, at: number, handOver?: () => void): void {
    this.copies.set(id, at);
    if (handOver) this.handOvers.push(handOver);
  }

  /** `bytes` of the memory, 16-byte aligned, growing it if needed (views taken before may detach). */
  allocate(bytes: number): number {
    const at = this.used;
    this.used += Math.ceil(bytes / 16) * 16;
    const missing = this.used - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / 65536));
    return at;
  }

  view(at: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, length);
  }

  clear(): void {
    waitForHelper(this.memory);
    for (const handOver of this.handOvers) handOver();
    this.handOvers = [];
    this.used = 0;
    this.copies.clear();
  }
}

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

/** Forgets what the host memory holds, so that the next calls reuse it from the start (for tests). */
export const clearHostMemory = (): void => hostMemory().clear();

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
    const memory = hostMemory();
    const [ins, outs] = memory.place(
      node,
      infos,
      outputSizes.map((n) => 4 * n),
    );
    const context: LoopContext = {
      inputIds: infos.map((i) => i.dataId),
      outputIds: shapes.map(() => ({})),
      memory: memory.memory,
      scratch: (n) => memory.allocate(4 * n),
    };
    const exports = loopKernelSimdEnabled() && kernel.simd ? hostKernelExports(kernel.simd.code) : null;
    const copies = outputsCopied(node);
    // Off the thread only where outputs wait in the memory until read (`lazyEntry`), never handed over at once.
    const helper = exports && kernel.simd!.offThread && copies ? helperOn(memory.memory) : null;
    if (helper) {
      runOnHelper(helper, null, kernel.simd!.code, kernel.name, context.inputIds, context.outputIds, (recorder) =>
        kernel.simd!.call(recorder, ins, outs, inputShapes, a, { ...context, scratch: noScratch(kernel.name) }),
      );
    } else if (exports) kernel.simd!.call(exports, ins, outs, inputShapes, a, context);
    else {
      const scratch = (n: number) => memory.view(memory.allocate(4 * n), n);
      kernel.run(
        ins.map((at, i) => memory.view(at, sizes[i])),
        outs.map((at, i) => memory.view(at, outputSizes[i])),
        a,
        { ...context, scratch },
      );
    }
    return outs.map((at, i) => {
      const dataId = context.outputIds[i];
      const [shape, view] = [shapes[i], memory.view(at, outputSizes[i])];
      if (!copies) {
        memory.keep(dataId, at);
        return outputHandle(node, node.binding.createTensor(shape, node.binding.TF_FLOAT, view.slice()), shape, dataId);
      }
      const entry = lazyEntry(node, dataId, shape, memory, at, outputSizes[i]);
      node.tensorMap.set(dataId, entry);
      memory.keep(dataId, at, () => {
        if (node.tensorMap.has(dataId)) void entry.values;
      });
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
