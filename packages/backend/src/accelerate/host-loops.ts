import * as tf from '@tensorflow/tfjs';
import {
  exportsOn,
  loopKernelSimdEnabled,
  orderedInputs,
  type LoopContext,
  type LoopKernel,
  type WasmKernelCode,
  type WasmKernelExports,
} from './loop-kernels.js';
import { outputHandle, readValues, type NodeBackend } from './tfjs-node.js';

/**
 * Loop kernels on the tensorflow backend (tfjs-node), whose tensors live in TensorFlow: the inputs are
 * copied into a private WebAssembly memory, the kernel's SIMD loop runs there (its JS loop where the
 * module does not instantiate), and the outputs are copied into new TensorFlow tensors. For a formula
 * of several elementwise steps the two copies cost less than the TensorFlow ops it takes, each a full
 * pass over memory plus its dispatch (docs/performance.md).
 *
 * TensorFlow takes an array it is given as the tensor's memory when the array is aligned for its
 * vector code, and copies it otherwise; so outputs are written at offsets that are not (4 bytes past
 * a multiple of 16), and TensorFlow copies them into memory of its own, which no later call can
 * overwrite (`outputsCopied` checks that once, else each output is first copied into an array of its
 * own).
 *
 * Inputs and outputs stay in the memory, keyed by data id (a tensor's data never changes), so that
 * kernels called one after another on the same tensors (HALO's term, then its gradients; a threshold,
 * then HyperSparse's pass; a penalty's gradient, then the momentum update that adds it; the weights
 * the update wrote, then the next step's penalty) copy them once. The memory is cleared when a call
 * would take it past twice what the call itself needs, or 64 MiB if more; it grows as needed and
 * never shrinks.
 */
class HostMemory {
  readonly memory = new WebAssembly.Memory({ initial: 1 });
  private used = 0;
  /** Byte offsets of the tensors copied in or written since the last clear. */
  private readonly copies = new Map<tf.DataId, number>();

  /** Byte offsets of `infos` in the memory (copied where not already there) and of new `outputBytes`-sized outputs. */
  place(backend: NodeBackend, infos: readonly tf.TensorInfo[], outputBytes: readonly number[]): [inputs: number[], outputs: number[]] {
    const bytes = (info: tf.TensorInfo) => 4 * tf.util.sizeFromShape(info.shape);
    const outputs = outputBytes.reduce((n, b) => n + b + 16, 0);
    const fresh = infos.reduce((n, info) => n + (this.copies.has(info.dataId) ? 0 : bytes(info)), outputs);
    const needed = infos.reduce((n, info) => n + bytes(info), outputs);
    if (this.used + fresh > Math.max(MIN_LIMIT, 2 * needed)) this.clear();
    const inputs = infos.map((info) => {
      let at = this.copies.get(info.dataId);
      if (at === undefined) {
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

  /** Records that the values of `id` are at `at`. */
  keep(id: tf.DataId, at: number): void {
    this.copies.set(id, at);
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
    this.used = 0;
    this.copies.clear();
  }
}

const MIN_LIMIT = 64 << 20;

let host: HostMemory | undefined;
let copied = 0;

/** How many input tensors host loops have copied out of TensorFlow (for tests). */
export const hostCopies = (): number => copied;
const hostMemory = () => (host ??= new HostMemory());

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
    if (exports) kernel.simd!.call(exports, ins, outs, inputShapes, a, context);
    else {
      const scratch = (n: number) => memory.view(memory.allocate(4 * n), n);
      kernel.run(
        ins.map((at, i) => memory.view(at, sizes[i])),
        outs.map((at, i) => memory.view(at, outputSizes[i])),
        a,
        { ...context, scratch },
      );
    }
    const copies = outputsCopied(node);
    return outs.map((at, i) => {
      const dataId = context.outputIds[i];
      const view = memory.view(at, outputSizes[i]);
      memory.keep(dataId, at);
      const id = node.binding.createTensor(shapes[i], node.binding.TF_FLOAT, copies ? view : view.slice());
      return outputHandle(node, id, shapes[i], dataId);
    });
  };
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
