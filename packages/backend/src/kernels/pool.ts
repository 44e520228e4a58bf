import * as tf from '@tensorflow/tfjs';
import { heapLoops } from './loops.js';
import { baseKernel, heapViews, type Info, type WasmBackendLike } from './scope.js';

/**
 * MaxPoolGrad for wasm, replacing the stock kernel, which is both slow (a generic 3-D pooling loop)
 * and wrong: it starts its running maximum at
 * FLT_MIN (the smallest *positive* float), so a window whose maximum is ≤ 0 passes no gradient at
 * all, and it breaks ties towards the last element. This follows the cpu backend exactly: the first
 * strict maximum of each window (row-major) receives dy; −∞/NaN-only windows receive nothing.
 * Plain loops over the wasm heap, channels innermost (NHWC), so it streams through memory once; the
 * usual disjoint 2×2 pool runs four channels at a time in WebAssembly SIMD (loops.wat).
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
  const y = (args.inputs as { output?: Info }).output;
  if (isDisjoint2x2(info) && y?.dtype === 'float32' && tf.util.arraysEqual(y.shape, dy.shape)) {
    const [mv] = heapViews(backend, [y])!;
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
    if (2 * outHeight < inHeight || 2 * outWidth < inWidth) dxv.fill(0); // a row or column no window covers
    const simd = heapLoops(backend);
    if (simd)
      simd.maxPoolGrad2x2(
        xv.byteOffset,
        dyv.byteOffset,
        mv.byteOffset,
        dxv.byteOffset,
        batchSize,
        inHeight,
        inWidth,
        inChannels,
        outHeight,
        outWidth,
      );
    else maxPoolGrad2x2(xv, dyv, mv, dxv, info);
    return out;
  }
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

/** The usual 2×2 pool with stride 2 and no padding: windows are disjoint and inside the input. */
function isDisjoint2x2(info: tf.backend_util.Conv2DInfo): boolean {
  return (
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight &&
    2 * info.outWidth <= info.inWidth
  );
}

/**
 * The same rule as the general loop for disjoint 2×2 windows, without data-dependent branches (on
 * random data the winner is a coin toss, and mispredicted branches cost more than the arithmetic):
 * the forward pass's output `m` is each window's maximum, so the winner is the first element equal to
 * it. Windows whose maximum is −∞ or NaN (where "equal to the max" and "first strict maximum" differ)
 * take the general rule. Positions no window covers are zeroed by the caller (as for loops.wat's version).
 */
function maxPoolGrad2x2(xv: Float32Array, dyv: Float32Array, mv: Float32Array, dxv: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const row = inWidth * c;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let i = 0; i < outHeight; i++) {
      let corner = (b * inHeight + 2 * i) * row;
      for (let j = 0; j < outWidth; j++, corner += 2 * c) {
        for (let d = 0; d < c; d++, o++) {
          const p0 = corner + d;
          const p1 = p0 + c;
          const p2 = p0 + row;
          const p3 = p2 + c;
          const m = mv[o];
          const g = dyv[o];
          if (m > Number.NEGATIVE_INFINITY) {
            const w0 = +(xv[p0] === m);
            const w1 = +(xv[p1] === m) * (1 - w0);
            const w2 = +(xv[p2] === m) * (1 - w0 - w1);
            // + 0: a loser gets +0, not 0·g = −0 for negative g (as cpu's zero-filled dx).
            dxv[p0] = w0 * g + 0;
            dxv[p1] = w1 * g + 0;
            dxv[p2] = w2 * g + 0;
            dxv[p3] = (1 - w0 - w1 - w2) * g + 0;
          } else {
            dxv[p0] = dxv[p1] = dxv[p2] = dxv[p3] = 0;
            let at = -1;
            let best = Number.NEGATIVE_INFINITY;
            for (const p of [p0, p1, p2, p3]) {
              if (xv[p] > best) {
                best = xv[p];
                at = p;
              }
            }
            if (at >= 0) dxv[at] = g;
          }
        }
      }
    }
  }
}
