import * as tf from '@tensorflow/tfjs';

/** A kernel's inputs and outputs as the backend sees them (no engine bookkeeping). */
export type Info = tf.TensorInfo;

/** The backend object a wasm kernelFunc receives: the parts of `BackendWasm` used here. */
export interface WasmBackendLike extends tf.KernelBackend {
  incRef(dataId: tf.DataId): void;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /** BackendWasm: allocates an output on the wasm heap. */
  makeOutput?(shape: number[], dtype: tf.DataType): Info;
  /** BackendWasm: a view (not a copy) of a tensor's data on the wasm heap. */
  typedArrayFromHeap?(info: Info): Float32Array | Int32Array | Uint8Array;
}

/**
 * Views of tensors on the wasm heap, for kernels written as plain loops. The heap can grow (and its
 * buffer be replaced) on any allocation, so views are taken only after the output is allocated and
 * used before anything else allocates.
 */
export function heapViews(backend: WasmBackendLike, infos: Info[]): Float32Array[] | null {
  if (!backend.typedArrayFromHeap) return null;
  return infos.map((info) => backend.typedArrayFromHeap!(info) as Float32Array);
}

const ORIGINALS_KEY = Symbol.for('sparsify.wasm.originalKernels');

/**
 * The stock wasm kernels that sparsify replaced, kept on `globalThis` (like tfjs's own registry) so
 * that the ESM and CJS builds of this package, if both are loaded, see the same originals.
 */
export function originals(): Map<string, tf.KernelConfig> {
  const g = globalThis as unknown as Record<symbol, Map<string, tf.KernelConfig> | undefined>;
  let map = g[ORIGINALS_KEY];
  if (!map) {
    map = new Map();
    g[ORIGINALS_KEY] = map;
  }
  return map;
}

/** The stock wasm kernel `name`: the saved original if sparsify replaced it, else the registered one. */
export function baseKernel(name: string): tf.KernelConfig {
  const kernel = originals().get(name) ?? tf.getKernel(name, 'wasm');
  if (!kernel) {
    throw new Error(`sparsify: the wasm backend has no '${name}' kernel (is @tensorflow/tfjs-backend-wasm 4.22.0 loaded?)`);
  }
  return kernel;
}

/**
 * Runs stock wasm kernels directly on the backend (no engine, no tape, no recursion into overrides)
 * and frees every intermediate on `dispose()` except the ones passed to `keep`.
 */
export class KernelScope {
  private readonly temps: Info[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  run(name: string, inputs: Record<string, Info> | Info[], attrs: Record<string, unknown> = {}): Info {
    const out = baseKernel(name).kernelFunc({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as tf.NamedAttrMap,
    }) as Info;
    this.temps.push(out);
    return out;
  }

  /** Adds an info created outside `run` (e.g. by `backend.write`) to the intermediates. */
  track(info: Info): Info {
    this.temps.push(info);
    return info;
  }

  reshape(x: Info, shape: number[]): Info {
    if (sameShape(x.shape, shape)) return x;
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: Info, perm: number[]): Info {
    if (perm.every((p, i) => p === i)) return x;
    return this.run('Transpose', { x }, { perm });
  }

  /** Slices `x`; a no-op (no copy) when the slice is the whole tensor. */
  slice(x: Info, begin: number[], size: number[]): Info {
    if (begin.every((b) => b === 0) && sameShape(size, x.shape)) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  sum(x: Info, axis: number[]): Info {
    return this.run('Sum', { x }, { axis, keepDims: false });
  }

  /** Removes `info` from the intermediates so it outlives the scope (the kernel's result). */
  keep(info: Info): Info {
    for (let i = this.temps.length - 1; i >= 0; i--) {
      if (this.temps[i] === info) this.temps.splice(i, 1);
    }
    return info;
  }

  dispose(): void {
    for (const t of this.temps.splice(0)) this.backend.disposeData(t.dataId);
  }
}

/**
 * Runs `body` in a fresh scope; the returned info is kept, everything else is freed, also on throw.
 * If the result is one of the inputs (a no-op), a new reference to it is returned.
 */
export function withScope(backend: WasmBackendLike, inputs: Info[], body: (s: KernelScope) => Info): Info {
  const scope = new KernelScope(backend);
  try {
    const out = body(scope);
    if (inputs.includes(out)) {
      backend.incRef(out.dataId);
      return { dataId: out.dataId, shape: out.shape.slice(), dtype: out.dtype };
    }
    return scope.keep(out);
  } finally {
    scope.dispose();
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}
