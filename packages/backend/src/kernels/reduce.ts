import * as tf from '@tensorflow/tfjs';
import { heapLoops } from './loops.js';
import { baseKernel, heapViews, type Info, type WasmBackendLike, sizeOf, withScope } from './scope.js';

/**
 * Sum for wasm, replacing the stock kernel when the reduced axes are the leading ones (bias
 * gradients: dy summed over batch and space). The stock kernel first transposes the reduced axes
 * innermost (a full copy through a generic transpose); this sums rows
 * straight from the wasm heap (loops.wat: f32 lanes over blocks of 256 rows, float64 across blocks;
 * the JS loop sums in float64, as the cpu backend does). Every other reduction goes to the stock kernel.
 */
export function sum(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info {
  const { x } = args.inputs as { x: Info };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const backend = args.backend as WasmBackendLike;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32' || !backend.makeOutput || !backend.typedArrayFromHeap) {
    return baseKernel('Sum').kernelFunc(args as never) as Info;
  }
  const rows = sizeOf(x.shape.slice(0, axes.length));
  const inner = x.shape.slice(axes.length);
  const width = sizeOf(inner);
  const outShape = keepDims ? [...axes.map(() => 1), ...inner] : inner;
  const out = backend.makeOutput(outShape, 'float32');
  const simd = heapLoops(backend);
  if (simd) {
    return withScope(backend, [], (s) => {
      const acc = s.track(backend.makeOutput!([2 * width], 'float32')); // width float64 accumulators
      const [xv, ov, av] = heapViews(backend, [x, out, acc])!;
      simd.sumLeadingAxes(xv.byteOffset, rows, width, av.byteOffset, ov.byteOffset);
      return out;
    });
  }
  const [xv, ov] = heapViews(backend, [x, out])!;
  const acc = new Float64Array(width);
  for (let r = 0, o = 0; r < rows; r++, o += width) {
    for (let j = 0; j < width; j++) acc[j] += xv[o + j];
  }
  ov.set(acc);
  return out;
}
