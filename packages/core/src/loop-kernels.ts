import * as tf from '@tensorflow/tfjs';

/**
 * Fused kernels written as plain loops, for the backends whose tensors JavaScript can read in place:
 * `cpu` (typed arrays) and `wasm` (views of the module's heap). A penalty's value and gradient are a
 * handful of elementwise passes over every weight; as separate tfjs ops each pass reads and writes the
 * whole tensor and costs a kernel launch, so on LeNet-300-100 a penalty made of them added 20–85% to a
 * training step. One loop per direction reads each weight once. Other backends (webgl, webgpu,
 * tfjs-node) run `composite`, the same computation as tfjs ops, where those ops are already fast.
 */
export interface LoopKernel<A extends object = Record<string, never>> {
  /** The tfjs kernel name, unique across packages (e.g. `Sparsify<Package><What>`). */
  readonly name: string;
  /** Output shapes from the input shapes. */
  outputShapes(inputShapes: readonly number[][], attrs: A): number[][];
  /**
   * Fills every element of every output (outputs are not zeroed beforehand). Inputs are float32 and
   * must not be written.
   */
  run(inputs: readonly Float32Array[], outputs: Float32Array[], attrs: A): void;
  /** The same computation with tfjs ops, for backends without a loop kernel or with loops disabled. */
  composite(inputs: tf.Tensor[], attrs: A): tf.Tensor[];
  /**
   * The loop in WebAssembly SIMD, for the wasm backend: `call` runs an export of `code`, instantiated
   * on the backend's own memory, with the byte offsets of the inputs and the (allocated) outputs. A
   * scalar JS loop is 2–8× slower than tfjs's SIMD ops per pass; this is what makes fusing pay there.
   * Without it (or where the module cannot be instantiated) the wasm backend runs `run`.
   */
  readonly simd?: {
    readonly code: WasmKernelCode;
    call(
      exports: WasmKernelExports,
      inputs: readonly number[],
      outputs: readonly number[],
      inputShapes: readonly number[][],
      attrs: A,
      /** The backend's memory, for kernels that read results between calls. */
      memory: WebAssembly.Memory,
    ): void;
  };
}

/**
 * A WebAssembly module for `LoopKernel.simd`, as base64, twice: importing `env.memory` as a plain
 * memory (tfjs-backend-wasm's single-threaded builds) and as a shared one with maximum 65536 pages (its
 * threaded build). Written by tools/scripts/compile-wat.mjs from a `.wat` source.
 */
export interface WasmKernelCode {
  /** Where it was compiled from (the cache key, with the memory). */
  readonly name: string;
  readonly plain: string;
  readonly shared: string;
}

export type WasmKernelExports = Record<string, (...args: number[]) => number | undefined>;

/** Backends with loop kernels. */
export const LOOP_KERNEL_BACKENDS: readonly string[] = ['cpu', 'wasm'];

let enabled = true;

/**
 * Turns the loop kernels off (or on again) for every backend: penalties then run their composite tfjs
 * ops everywhere. For comparisons and debugging; the results agree to float32 rounding (the loops sum in
 * float64).
 */
export function setLoopKernelsEnabled(on: boolean): void {
  enabled = on;
}

export function loopKernelsEnabled(): boolean {
  return enabled;
}

interface CpuLike {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/** What loop kernels use of tfjs-backend-wasm's backend object. */
export interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  /** The emscripten module: its memory is `wasmMemory` (threaded build) or `asm.memory` (the others). */
  wasm?: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
}

/** Instances per backend memory and module; null where instantiation failed (then the JS loop runs). */
const instances = new WeakMap<WebAssembly.Memory, Map<string, WasmKernelExports | null>>();

/** A `WasmKernelCode` module's bytes. */
export function decodeBase64(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The wasm backend's heap, or null where it cannot be reached. */
export function backendMemory(wasm: WasmLike): WebAssembly.Memory | null {
  const memory = wasm.wasm?.wasmMemory ?? wasm.wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

function simdExports(wasm: WasmLike, code: WasmKernelCode): WasmKernelExports | null {
  const memory = backendMemory(wasm);
  if (!memory) return null;
  let byCode = instances.get(memory);
  if (!byCode) instances.set(memory, (byCode = new Map()));
  if (!byCode.has(code.name)) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    try {
      const module = new WebAssembly.Module(decodeBase64(shared ? code.shared : code.plain));
      byCode.set(code.name, new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmKernelExports);
    } catch {
      byCode.set(code.name, null); // e.g. a runtime without wasm SIMD
    }
  }
  return byCode.get(code.name)!;
}

/**
 * The exports of `code` instantiated on a wasm backend's own memory (cached per memory), or null where
 * the backend has no accessible memory or the module does not instantiate (e.g. no wasm SIMD). For
 * kernels outside `LoopKernel` that address the heap directly (the wasm training kernels).
 */
export function wasmKernelExports(backend: tf.KernelBackend, code: WasmKernelCode): WasmKernelExports | null {
  return simdExports(backend as unknown as WasmLike, code);
}

function kernelFunc<A extends object>(kernel: LoopKernel<A>, backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const infos = Object.keys(inputs)
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
      .map((k) => inputs[k] as tf.TensorInfo);
    for (const info of infos) {
      if (info.dtype !== 'float32') throw new Error(`${kernel.name}: inputs must be float32, got ${info.dtype}`);
    }
    const a = attrs as unknown as A;
    const shapes = kernel.outputShapes(
      infos.map((i) => i.shape),
      a,
    );
    if (backendName === 'wasm') {
      const wasm = backend as unknown as WasmLike;
      // Allocate first: an allocation can grow the heap and detach views taken before it.
      const outs = shapes.map((s) => wasm.makeOutput(s, 'float32'));
      const exports = kernel.simd && simdExports(wasm, kernel.simd.code);
      if (exports) {
        const offset = (i: tf.TensorInfo) => wasm.typedArrayFromHeap(i).byteOffset;
        kernel.simd!.call(exports, infos.map(offset), outs.map(offset), infos.map((i) => i.shape), a, backendMemory(wasm)!);
        return outs;
      }
      kernel.run(
        infos.map((i) => wasm.typedArrayFromHeap(i)),
        outs.map((o) => wasm.typedArrayFromHeap(o)),
        a,
      );
      return outs;
    }
    const cpu = backend as unknown as CpuLike;
    const values = shapes.map((s) => new Float32Array(tf.util.sizeFromShape(s)));
    kernel.run(
      infos.map((i) => cpu.readSync(i.dataId) as Float32Array),
      values,
      a,
    );
    return shapes.map((s, k) => cpu.makeTensorInfo(s, 'float32', values[k]));
  };
}

function ensureRegistered<A extends object>(kernel: LoopKernel<A>, backendName: string): void {
  // The registry is global (two builds of a package share it): register once per backend.
  if (!tf.getKernel(kernel.name, backendName)) {
    tf.registerKernel({ kernelName: kernel.name, backendName, kernelFunc: kernelFunc(kernel, backendName) });
  }
}

export type LoopKernelImplementation = 'simd' | 'js' | 'composite';

/**
 * What `runLoopKernel(kernel, …)` runs on the current backend: WebAssembly SIMD (wasm, where the
 * kernel has it and its module instantiates), a JS loop (cpu; wasm otherwise), or the composite tfjs
 * ops (other backends, or loop kernels disabled).
 */
export function loopKernelImplementation(kernel: Pick<LoopKernel<object>, 'simd'>): LoopKernelImplementation {
  const backendName = tf.getBackend();
  if (!enabled || !LOOP_KERNEL_BACKENDS.includes(backendName)) return 'composite';
  if (backendName === 'wasm' && kernel.simd && simdExports(tf.backend() as unknown as WasmLike, kernel.simd.code)) return 'simd';
  return 'js';
}

/**
 * Runs `kernel` on the current backend: the loop where the backend has one, else the composite. No
 * gradient is recorded: use it inside `tf.customGrad`, whose gradient function can run another one.
 */
export function runLoopKernel<A extends object>(kernel: LoopKernel<A>, inputs: readonly tf.Tensor[], attrs: A): tf.Tensor[] {
  const backendName = tf.getBackend();
  if (!enabled || !LOOP_KERNEL_BACKENDS.includes(backendName) || inputs.some((t) => t.dtype !== 'float32')) {
    return tf.tidy(() => kernel.composite(inputs.slice(), attrs));
  }
  ensureRegistered(kernel, backendName);
  const named: tf.NamedTensorMap = {};
  inputs.forEach((t, i) => (named[`x${i}`] = t));
  const out = tf.engine().runKernel(kernel.name, named, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}
