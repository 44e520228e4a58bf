import type * as tf from '@tensorflow/tfjs';
import { baseKernel, type Info, type WasmBackendLike } from './scope.js';

/**
 * sign over float32 bits: |bits| = 0 (±0) or > 0x7f800000 (NaN) gives +0, anything else ±1.0
 * (0x3f800000) with the input's sign bit. A small function of its own, with literal constants, so
 * that V8 optimises the loop as a whole, which it does not for the same loop inside the kernel.
 */
function signOfBits(x: Int32Array, out: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const bits = x[i];
    const magnitude = bits & 0x7fffffff;
    out[i] = magnitude === 0 || magnitude > 0x7f800000 ? 0 : (bits & (0x80000000 | 0)) | 0x3f800000;
  }
}

/**
 * Sign for float32 on wasm. The stock kernel is a slow scalar loop, and every L1-type penalty's
 * gradient, sign(w)·dy, runs it on every penalised weight each step (figures: docs/performance.md).
 * This works on the float bits over the wasm heap with the cpu backend's semantics: ±0 and NaN give
 * +0, anything else (denormals too, which the stock kernel flushes to 0) ±1. int32 goes to the stock
 * kernel.
 */
export function sign(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info {
  const { x } = args.inputs as { x: Info };
  const backend = args.backend as WasmBackendLike;
  if (x.dtype !== 'float32' || !backend.makeOutput || !backend.typedArrayFromHeap) {
    return baseKernel('Sign').kernelFunc(args as never) as Info;
  }
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  // Views only after the allocation: it may grow the heap and replace its buffer.
  const xs = backend.typedArrayFromHeap(x);
  const os = backend.typedArrayFromHeap(out);
  signOfBits(new Int32Array(xs.buffer, xs.byteOffset, xs.length), new Int32Array(os.buffer, os.byteOffset, os.length), xs.length);
  return out;
}

/**
 * Identity that shares its input's data (one more reference), as the cpu backend's Identity and the
 * wasm backend's own Reshape do. The stock wasm kernel copies the whole tensor, and the engine clones
 * (Identity) every tensor a gradient saves for the backward pass: each weight and activation a MatMul
 * saves, each weight a penalty saves, one full copy per step. Sharing is safe because tensor data is
 * never written after creation (a Variable's `assign` takes the new value's data instead). Strings go
 * to the stock kernel.
 */
export function identity(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info {
  const { x } = args.inputs as { x: Info };
  if (x.dtype === 'string') return baseKernel('Identity').kernelFunc(args as never) as Info;
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}
