import * as tf from '@tensorflow/tfjs';
import { helperFor, runOnHelper } from './helper-thread.js';

/**
 * Kernels written as plain loops, for the backends whose tensors JavaScript can read in place: `cpu`
 * (typed arrays) and `wasm` (views of the module's heap). An op of `@sparsify/core` or of a penalty
 * package (`runOp(name, …)`) runs one of these where it is registered, and its plain tfjs version
 * elsewhere: a penalty's few elementwise passes then cost one kernel call and one read of each weight
 * instead of a tfjs op (and a full write) each.
 */
export interface LoopKernel<A extends object = Record<string, never>> {
  /** The kernel name the op runs (e.g. `SparsifyHaloTerm`). */
  readonly name: string;
  /** Output shapes from the input shapes. */
  outputShapes(inputShapes: readonly number[][], attrs: A): number[][];
  /**
   * Fills every element of every output (outputs are not zeroed beforehand). Inputs are float32 and
   * must not be written.
   */
  run(inputs: readonly Float32Array[], outputs: Float32Array[], attrs: A, context: LoopContext): void;
  /**
   * The loop in WebAssembly SIMD, for the wasm backend: `call` runs exports of `code`, instantiated on
   * the backend's own memory, with the byte offsets of the inputs and the (allocated) outputs. Without it
   * (or where the module does not instantiate) the wasm backend runs `run` over heap views.
   */
  readonly simd?: {
    readonly code: WasmKernelCode;
    call(
      exports: WasmKernelExports,
      inputs: readonly number[],
      outputs: readonly number[],
      inputShapes: readonly number[][],
      attrs: A,
      context: LoopContext,
    ): void;
    /**
     * `call` uses no export's return value, reads no memory and takes no scratch: on the threaded build
     * it may run on the helper thread while the caller goes on (helper-thread.ts).
     */
    readonly offThread?: boolean;
  };
}

/** What a loop knows of its call beyond the arrays: the tensors' data ids (for caches), the heap, scratch. */
export interface LoopContext {
  readonly inputIds: readonly tf.DataId[];
  readonly outputIds: readonly tf.DataId[];
  /** The wasm backend's memory (absent on cpu). */
  readonly memory?: WebAssembly.Memory;
  /**
   * `n` float32 values of scratch memory, freed when the kernel returns: a heap offset on wasm (an
   * allocation may grow the heap: take views after it), the array on cpu.
   */
  scratch(n: number): number | Float32Array;
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
  /**
   * The same module with its accumulating multiply-adds as relaxed SIMD's `f32x4.relaxed_madd` (fused
   * where the CPU has FMA), for runtimes that compile relaxed SIMD; `plain` and `shared` run elsewhere.
   */
  readonly relaxed?: { readonly plain: string; readonly shared: string };
}

/** `(func (param v128 v128 v128) (result v128) (f32x4.relaxed_madd …))`: validates where relaxed SIMD compiles. */
const RELAXED_SIMD_PROBE = 'AGFzbQEAAAABCAFgA3t7ewF7AwIBAAcFAQFmAAAKDQELACAAIAEgAv2FAgs=';
let relaxedSupported: boolean | undefined;
let relaxedEnabled = true;

/**
 * Whether this runtime compiles relaxed SIMD (on by default in Node ≥ 22 and Chrome ≥ 114; Node 20 with
 * `--experimental-wasm-relaxed-simd`). The answer is kept; `recheck` asks again (after a V8 flag changed).
 */
export function relaxedSimdSupported(recheck = false): boolean {
  if (relaxedSupported === undefined || recheck) {
    try {
      relaxedSupported = WebAssembly.validate(decodeBase64(RELAXED_SIMD_PROBE));
    } catch {
      relaxedSupported = false;
    }
  }
  return relaxedSupported;
}

/**
 * For tests and benchmarks: run the plain-SIMD modules even where relaxed SIMD compiles (`false`), or
 * the relaxed ones again where it does (`true`, the default).
 */
export function setRelaxedSimd(on: boolean): void {
  relaxedEnabled = on;
}

/** Whether `code` runs as its relaxed-SIMD variant here. */
export const usesRelaxedSimd = (code: WasmKernelCode): boolean => code.relaxed !== undefined && relaxedEnabled && relaxedSimdSupported();

/** The module of `code` to run here, for a plain or shared memory, and its cache key. */
export function moduleSource(code: WasmKernelCode, shared: boolean): { key: string; base64: string } {
  const relaxed = usesRelaxedSimd(code);
  const variant = relaxed ? code.relaxed! : code;
  return { key: relaxed ? `${code.name}#relaxed` : code.name, base64: shared ? variant.shared : variant.plain };
}

export type WasmKernelExports = Record<string, (...args: number[]) => number | undefined>;

/** The backends loop kernels are registered for. */
export const LOOP_KERNEL_BACKENDS = ['cpu', 'wasm'] as const;
export type LoopBackend = (typeof LOOP_KERNEL_BACKENDS)[number];

interface CpuLike {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/** What loop kernels use of tfjs-backend-wasm's backend object. */
export interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
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

/**
 * The exports of `code` instantiated on a wasm backend's own memory (cached per memory), or null where
 * the backend has no accessible memory or the module does not instantiate (e.g. no wasm SIMD).
 */
export function wasmKernelExports(backend: tf.KernelBackend, code: WasmKernelCode): WasmKernelExports | null {
  const memory = backendMemory(backend as unknown as WasmLike);
  return memory ? exportsOn(memory, code) : null;
}

/** The exports of `code` instantiated on `memory` (cached per memory), or null where it does not instantiate. */
export function exportsOn(memory: WebAssembly.Memory, code: WasmKernelCode): WasmKernelExports | null {
  let byCode = instances.get(memory);
  if (!byCode) instances.set(memory, (byCode = new Map()));
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const { key, base64 } = moduleSource(code, shared);
  if (!byCode.has(key)) {
    try {
      const module = new WebAssembly.Module(decodeBase64(base64));
      byCode.set(key, new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmKernelExports);
    } catch {
      byCode.set(key, null); // e.g. a runtime without wasm SIMD
    }
  }
  return byCode.get(key)!;
}

let simdEnabled = true;

export const noScratch = (name: string) => (): never => {
  throw new Error(`${name}: an offThread kernel takes no scratch memory`);
};

/**
 * For tests and benchmarks: run loop kernels' JS loops on wasm instead of their WebAssembly SIMD
 * (what runs where the module does not instantiate).
 */
export function setLoopKernelSimd(on: boolean): void {
  simdEnabled = on;
}

export const loopKernelSimdEnabled = (): boolean => simdEnabled;

export function orderedInputs(inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  return Object.keys(inputs)
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((k) => inputs[k] as tf.TensorInfo);
}

function kernelFunc<A extends object>(kernel: LoopKernel<A>, backendName: LoopBackend): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const infos = orderedInputs(inputs);
    for (const info of infos) {
      if (info.dtype !== 'float32') throw new Error(`${kernel.name}: inputs must be float32, got ${info.dtype}`);
    }
    const a = attrs as unknown as A;
    const shapes = kernel.outputShapes(
      infos.map((i) => i.shape),
      a,
    );
    const inputIds = infos.map((i) => i.dataId);
    if (backendName === 'wasm') {
      const wasm = backend as unknown as WasmLike;
      // Allocate first: an allocation can grow the heap and detach views taken before it.
      const outs = shapes.map((s) => wasm.makeOutput(s, 'float32'));
      const temps: tf.TensorInfo[] = [];
      const context: LoopContext = {
        inputIds,
        outputIds: outs.map((o) => o.dataId),
        memory: backendMemory(wasm) ?? undefined,
        scratch: (n) => {
          const info = wasm.makeOutput([n], 'float32');
          temps.push(info);
          return wasm.typedArrayFromHeap(info).byteOffset;
        },
      };
      try {
        const exports = simdEnabled && kernel.simd ? wasmKernelExports(backend as tf.KernelBackend, kernel.simd.code) : null;
        const helper = exports && kernel.simd!.offThread ? helperFor(wasm) : null;
        if (helper) {
          const offset = (i: tf.TensorInfo) => wasm.typedArrayFromHeap(i).byteOffset;
          const [ins, outOffsets] = [infos.map(offset), outs.map(offset)];
          runOnHelper(helper, wasm, kernel.simd!.code, kernel.name, inputIds, context.outputIds, (recorder) =>
            kernel.simd!.call(
              recorder,
              ins,
              outOffsets,
              infos.map((i) => i.shape),
              a,
              { ...context, scratch: noScratch(kernel.name) },
            ),
          );
        } else if (exports) {
          const offset = (i: tf.TensorInfo) => wasm.typedArrayFromHeap(i).byteOffset;
          kernel.simd!.call(
            exports,
            infos.map(offset),
            outs.map(offset),
            infos.map((i) => i.shape),
            a,
            context,
          );
        } else {
          kernel.run(
            infos.map((i) => wasm.typedArrayFromHeap(i)),
            outs.map((o) => wasm.typedArrayFromHeap(o)),
            a,
            context,
          );
        }
      } finally {
        for (const t of temps) wasm.disposeData(t.dataId);
      }
      return outs;
    }
    const cpu = backend as unknown as CpuLike;
    const values = shapes.map((s) => new Float32Array(tf.util.sizeFromShape(s)));
    const outs = shapes.map((s, k) => cpu.makeTensorInfo(s, 'float32', values[k]));
    const context: LoopContext = { inputIds, outputIds: outs.map((o) => o.dataId), scratch: (n) => new Float32Array(n) };
    kernel.run(
      infos.map((i) => cpu.readSync(i.dataId) as Float32Array),
      values,
      a,
      context,
    );
    return outs;
  };
}

/** The loop kernels registered through `registerLoopKernels`, by name. */
const registered = new Map<string, LoopKernel<object>>();

export const registeredLoopKernel = (name: string): LoopKernel<object> | undefined => registered.get(name);

/**
 * Registers each kernel under its name for cpu and wasm (replacing an earlier registration of the same
 * name, e.g. from a second copy of this package). Returns the names.
 */
export function registerLoopKernels(kernels: readonly LoopKernel<object>[]): string[] {
  for (const kernel of kernels) {
    for (const backendName of LOOP_KERNEL_BACKENDS) {
      if (tf.getKernel(kernel.name, backendName)) tf.unregisterKernel(kernel.name, backendName);
      tf.registerKernel({ kernelName: kernel.name, backendName, kernelFunc: kernelFunc(kernel, backendName) });
    }
    registered.set(kernel.name, kernel);
  }
  return kernels.map((k) => k.name);
}

/** Removes them again: the ops then run their plain tfjs versions. */
export function unregisterLoopKernels(kernels: readonly LoopKernel<object>[]): void {
  for (const kernel of kernels) {
    for (const backendName of LOOP_KERNEL_BACKENDS) {
      if (tf.getKernel(kernel.name, backendName)) tf.unregisterKernel(kernel.name, backendName);
    }
    registered.delete(kernel.name);
  }
}
