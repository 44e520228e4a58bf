import * as tf from '@tensorflow/tfjs';
import { baseKernel, heapViews, type Info, type WasmBackendLike } from './scope.js';

/**
 * MaxPoolGrad for wasm, replacing the stock kernel, which is both slow (≈ 80 ms for a
 * [64, 24, 24, 20] input, a generic 3-D pooling loop) and wrong: it starts its running maximum at
 * FLT_MIN (the smallest *positive* float), so a window whose maximum is ≤ 0 passes no gradient at
 * all, and it breaks ties towards the last element. This follows the cpu backend exactly: the first
 * strict maximum of each window (row-major) receives dy; −∞/NaN-only windows receive nothing.
 * Plain loops over the wasm heap, channels innermost (NHWC), so it streams through memory once.
 */
export function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info {
  const { dy, input: x } = args.inputs as { dy: Info; input: Info };
  const backend = args.backend as WasmBackendLike;
  if (!backend.makeOutput || !backend.typedArrayFromHeap || x.dtype !== 'float32' || dy.dtype !== 'float32') {
    return baseKernel('MaxPoolGrad').kernelFunc(args as never) as Info;
  }
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const out = backend.makeOutput(x.shape, 'float32');
  const [xv, dyv, dxv] = heapViews(backend, [x, dy, out])!;
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, effectiveFilterHeight, effectiveFilterWidth, padInfo } = info;
  dxv.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  const rowStride = inWidth * c;
  const imageStride = inHeight * rowStride;
  let dyOffset = 0;
  for (let b = 0; b < batchSize; b++) {
    const image = b * imageStride;
    for (let yR = 0; yR < outHeight; yR++) {
      const rCorner = yR * strideHeight - padInfo.top;
      let rMin = rCorner;
      while (rMin < 0) rMin += dilationHeight;
      const rMax = Math.min(inHeight, effectiveFilterHeight + rCorner);
      for (let yC = 0; yC < outWidth; yC++) {
        const cCorner = yC * strideWidth - padInfo.left;
        let cMin = cCorner;
        while (cMin < 0) cMin += dilationWidth;
        const cMax = Math.min(inWidth, effectiveFilterWidth + cCorner);
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let r = rMin; r < rMax; r += dilationHeight) {
          for (let col = cMin; col < cMax; col += dilationWidth) {
            const base = image + r * rowStride + col * c;
            for (let d = 0; d < c; d++) {
              const v = xv[base + d];
              if (v > best[d]) {
                best[d] = v;
                where[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < c; d++) {
          const at = where[d];
          if (at >= 0) dxv[at] += dyv[dyOffset + d];
        }
        dyOffset += c;
      }
    }
  }
  return out;
}
