import * as tf from '@tensorflow/tfjs';
import { convDirect, filterGradDirect } from './conv-direct.js';
import { heapLoops } from './loops.js';
import { batchMatMul } from './matmul.js';
import { baseKernel, heapViews, type Info, type KernelScope, type WasmBackendLike, withScope } from './scope.js';

type Pair = [number, number];
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

interface ConvAttrs {
  strides: number | Pair;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | Pair;
}

const toNHWC = [0, 2, 3, 1];
const toNCHW = [0, 3, 1, 2];

/**
 * Crops (negative amounts) and pads (positive amounts) the two spatial axes of an NHWC tensor for a
 * following `valid`-style conv: crops are done here with a Slice, pads are returned as the conv's
 * explicit padding (no copy).
 */
function cropForConv(s: KernelScope, x: Info, [top, bottom]: Pair, [left, right]: Pair): { x: Info; pad: tf.backend_util.ExplicitPadding } {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  const cropped = s.slice(x, [0, cropTop, cropLeft, 0], [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c]);
  return {
    x: cropped,
    pad: [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ],
  };
}

/**
 * Inserts `stride − 1` zeros after every row/column of an NHWC tensor (the input of a transposed conv
 * with that stride). The result has `out·stride` rows; the trailing zeros count as padding.
 */
function dilateSpatial(s: KernelScope, x: Info, [sh, sw]: Pair): Info {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const r = s.reshape(x, [n * h, 1, w, 1, c]);
  const padded = s.run(
    'PadV2',
    { x: r },
    {
      paddings: [
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  return s.reshape(padded, [n, h * sh, w * sw, c]);
}

/**
 * dW = Σ over batch and output positions of input patches × dy, computed as one XNNPACK conv:
 * the input with batch and channels swapped ([ci, H, W, b]) convolved with dy as the filter
 * ([oh, ow, b, co]), stride = the forward dilation, dilation = the forward stride.
 */
function filterGradNHWC(s: KernelScope, x: Info, dy: Info, info: Conv2DInfo): Info {
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  const needH = (fh - 1) * dh + (oh - 1) * sh + 1;
  const needW = (fw - 1) * dw + (ow - 1) * sw + 1;
  const { x: xc, pad } = cropForConv(s, x, [padInfo.top, needH - h - padInfo.top], [padInfo.left, needW - w - padInfo.left]);
  const xT = s.transpose(xc, [3, 1, 2, 0]);
  const f = s.transpose(dy, [1, 2, 0, 3]);
  const out = s.run(
    'Conv2D',
    { x: xT, filter: f },
    {
      strides: [dh, dw],
      dilations: [sh, sw],
      pad,
      dataFormat: 'NHWC',
    },
  );
  // [ci, fh, fw, co] → [fh, fw, ci, co]
  return s.transpose(out, [1, 2, 0, 3]);
}

/** The geometry arguments of loops.wat's conv loops, in their order. */
function heapLoopArgs(info: Conv2DInfo): number[] {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  return [
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
    padInfo.top,
    padInfo.left,
  ];
}

/** The JS im2colTransposed of loops.wat: row (kh, kw, c) of patchesᵀ holds x[b, y·sh + kh·dh − top, x·sw + kw·dw − left, c] over (b, y, x). */
function im2colTransposed(xv: Float32Array, pv: Float32Array, info: Conv2DInfo): void {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  const n = b * oh * ow;
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      for (let c = 0; c < ci; c++) {
        let dst = ((kh * fw + kw) * ci + c) * n;
        for (let bi = 0; bi < b; bi++) {
          const image = bi * h * w * ci;
          for (let y = 0; y < oh; y++) {
            const r = y * sh + kh * dh - padInfo.top;
            if (r < 0 || r >= h) {
              pv.fill(0, dst, dst + ow);
              dst += ow;
              continue;
            }
            const row = image + r * w * ci + c;
            for (let xo = 0; xo < ow; xo++, dst++) {
              const col = xo * sw + kw * dw - padInfo.left;
              pv[dst] = col >= 0 && col < w ? xv[row + col * ci] : 0;
            }
          }
        }
      }
    }
  }
}

/**
 * dW as one GEMM: patchesᵀ [fh·fw·ci, b·oh·ow] times dy [b·oh·ow, co] (used as is, no transpose;
 * XNNPACK packs dy as the right operand). im2col runs over the wasm heap: WebAssembly SIMD
 * (loops.wat), or the JS loop where that module does not instantiate.
 */
function filterGradIm2col(s: KernelScope, x: Info, dy: Info, info: Conv2DInfo): Info | null {
  const backend = s.backend;
  if (!backend.makeOutput || !backend.typedArrayFromHeap) return null;
  const { filterHeight: fh, filterWidth: fw, inChannels: ci, outChannels: co } = info;
  const k = fh * fw * ci;
  const n = info.batchSize * info.outHeight * info.outWidth;
  const patches = s.track(backend.makeOutput([k, n], 'float32'));
  const [xv, pv] = heapViews(backend, [x, patches])!;
  const simd = heapLoops(backend);
  if (simd) simd.im2colTransposed(xv.byteOffset, pv.byteOffset, ...heapLoopArgs(info));
  else im2colTransposed(xv, pv, info);
  const grad = s.track(
    batchMatMul({
      inputs: { a: patches, b: s.reshape(dy, [n, co]) } as unknown as tf.NamedTensorInfoMap,
      backend,
      attrs: { transposeA: false, transposeB: false },
    }),
  );
  return s.reshape(grad, [fh, fw, ci, co]);
}

let filterGradMethod: 'auto' | 'conv' | 'im2col' | 'direct' = 'auto';
/**
 * For benchmarks: how Conv2DBackpropFilter is computed. `auto`: the direct loop (filter-grad.wat) where
 * it applies (co a multiple of 8; faster than both others on every CIFAR layer shape, docs/performance.md),
 * else im2col when the patch matrix is at most twice the size of dy (few input channels, e.g. a first
 * layer on grey images, where the conv spends its time copying dy three times), else the conv.
 */
export function setConvFilterGradMethod(method: 'auto' | 'conv' | 'im2col' | 'direct'): void {
  filterGradMethod = method;
}

function useIm2col(info: Conv2DInfo): boolean {
  if (filterGradMethod !== 'auto') return filterGradMethod === 'im2col';
  return info.filterHeight * info.filterWidth * info.inChannels <= 2 * info.outChannels;
}

/** Conv2DBackpropFilter for wasm (tfjs-backend-wasm 4.22 has none). */
export function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info {
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  const backend = args.backend as WasmBackendLike;
  return withScope(backend, [x, dy], (s) => {
    const nchw = attrs.dataFormat === 'NCHW';
    const xh = nchw ? s.transpose(x, toNHWC) : x;
    const dyh = nchw ? s.transpose(dy, toNHWC) : dy;
    const info = tf.backend_util.computeConv2DInfo(
      xh.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const direct = filterGradMethod === 'direct' || filterGradMethod === 'auto' ? filterGradDirect(s, xh, dyh, info) : null;
    return direct ?? (useIm2col(info) ? filterGradIm2col(s, xh, dyh, info) : null) ?? filterGradNHWC(s, xh, dyh, info);
  });
}

/**
 * dx of a conv as a conv of the zero-dilated, padded dy with the spatially flipped filter (in/out
 * channels swapped). Replaces wasm's stock Conv2DBackpropInput, a scalar loop.
 */
function inputGradNHWC(s: KernelScope, dy: Info, filter: Info, info: Conv2DInfo): Info {
  const { inHeight: h, inWidth: w, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  const dyd = dilateSpatial(s, dy, [sh, sw]);
  const effH = (fh - 1) * dh;
  const effW = (fw - 1) * dw;
  const top = effH - padInfo.top;
  const left = effW - padInfo.left;
  const bottom = h + effH - top - dyd.shape[1];
  const right = w + effW - left - dyd.shape[2];
  const { x: src, pad } = cropForConv(s, dyd, [top, bottom], [left, right]);
  const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  const f = s.transpose(flipped, [0, 1, 3, 2]);
  return s.run('Conv2D', { x: src, filter: f }, { strides: [1, 1], dilations: [dh, dw], pad, dataFormat: 'NHWC' });
}

/** The JS col2imAdd of loops.wat: dx = 0, then every row (n, y, x) of cols added at the input positions its taps read. */
function col2imAdd(cv: Float32Array, dxv: Float32Array, info: Conv2DInfo): void {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  dxv.fill(0);
  const rowStride = w * ci;
  const tapRow = fw * ci;
  let src = 0;
  for (let n = 0; n < b; n++) {
    const image = n * h * rowStride;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const col0 = x * sw - padInfo.left;
        for (let kh = 0; kh < fh; kh++, src += tapRow) {
          const r = y * sh + kh * dh - padInfo.top;
          if (r < 0 || r >= h) continue;
          const rowBase = image + r * rowStride;
          if (dw === 1) {
            // The fw taps of this row land on consecutive input columns: one contiguous run.
            const kwLo = Math.max(0, -col0);
            const kwHi = Math.min(fw, w - col0);
            if (kwHi <= kwLo) continue;
            const dst = rowBase + (col0 + kwLo) * ci;
            const from = src + kwLo * ci;
            const len = (kwHi - kwLo) * ci;
            for (let i = 0; i < len; i++) dxv[dst + i] += cv[from + i];
          } else {
            for (let kw = 0; kw < fw; kw++) {
              const col = col0 + kw * dw;
              if (col < 0 || col >= w) continue;
              const dst = rowBase + col * ci;
              const from = src + kw * ci;
              for (let c = 0; c < ci; c++) dxv[dst + c] += cv[from + c];
            }
          }
        }
      }
    }
  }
}

/**
 * dx of a conv as a GEMM and a scatter: cols = dy · Wᵀ ([b·oh·ow, fh·fw·ci], XNNPACK with the small
 * filter as the packed operand), then every column block is added into its input position (col2im)
 * over the wasm heap (WebAssembly SIMD, loops.wat; a JS loop where that module does not instantiate). No
 * work on padding zeros, any stride/dilation/padding.
 */
function inputGradCol2im(s: KernelScope, dy: Info, filter: Info, info: Conv2DInfo): Info | null {
  const backend = s.backend;
  if (!backend.makeOutput || !backend.typedArrayFromHeap) return null;
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const k = info.filterHeight * info.filterWidth * ci;
  const rows = b * oh * ow;
  const cols = s.track(
    batchMatMul({
      inputs: { a: s.reshape(dy, [rows, co]), b: s.reshape(filter, [k, co]) } as unknown as tf.NamedTensorInfoMap,
      backend,
      attrs: { transposeA: false, transposeB: true },
    }),
  );
  const out = backend.makeOutput([b, h, w, ci], 'float32');
  s.track(out);
  const [cv, dxv] = heapViews(backend, [cols, out])!;
  const simd = heapLoops(backend);
  if (simd) simd.col2imAdd(cv.byteOffset, dxv.byteOffset, ...heapLoopArgs(info));
  else col2imAdd(cv, dxv, info);
  return out;
}

/**
 * dx of a stride-1 conv as `convDirect` of dy with the flipped filter (in/out channels swapped): dy's
 * rows outside [0, oh) read as 0, so no padded copy of dy is made. null where it does not apply
 * (strides, ci not a multiple of 8).
 */
function inputGradDirect(s: KernelScope, dy: Info, filter: Info, info: Conv2DInfo): Info | null {
  const { strideHeight, strideWidth, inChannels, filterHeight: fh, filterWidth: fw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  if (strideHeight !== 1 || strideWidth !== 1 || inChannels % 8 !== 0) return null;
  const flipped = s.transpose(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
  const backward: Conv2DInfo = {
    ...info,
    inHeight: info.outHeight,
    inWidth: info.outWidth,
    inChannels: info.outChannels,
    outHeight: info.inHeight,
    outWidth: info.inWidth,
    outChannels: inChannels,
    padInfo: { ...padInfo, top: (fh - 1) * dh - padInfo.top, left: (fw - 1) * dw - padInfo.left },
  };
  const out = convDirect(s.backend, dy, flipped, undefined, backward);
  return out && s.track(out);
}

let inputGradMethod: 'auto' | 'col2im' | 'conv' | 'direct' = 'auto';
/**
 * For benchmarks: how Conv2DBackpropInput is computed. `auto`: the direct loop where it applies (stride
 * 1, ci a multiple of 8; at least as fast as the others on CIFAR layer shapes), else GEMM + col2im where
 * the conv of the padded dy would waste work, i.e. with fewer than 8 input channels (a conv with 1–7 output channels
 * wastes most of XNNPACK's vector lanes) or where dx is at least 1.5× the area of dy (`valid` padding
 * with a large filter, strides > 1: the conv also runs over the padding and the zeros between dy's
 * values), and the column matrix stays within 2²⁴ values (64 MB); else the conv (the choice as measured
 * on LeNet-5: docs/performance.md).
 */
export function setConvInputGradMethod(method: 'auto' | 'col2im' | 'conv' | 'direct'): void {
  inputGradMethod = method;
}

const MAX_COL2IM_VALUES = 2 ** 24;

function useCol2im(info: Conv2DInfo): boolean {
  if (inputGradMethod === 'col2im' || inputGradMethod === 'conv') return inputGradMethod === 'col2im';
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  if (b * oh * ow * info.filterHeight * info.filterWidth * ci > MAX_COL2IM_VALUES) return false;
  return ci < 8 || h * w >= 1.5 * oh * ow;
}

export function conv2dBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const backend = args.backend as WasmBackendLike;
  return withScope(backend, [dy, filter], (s) => {
    const nchw = attrs.dataFormat === 'NCHW';
    const inShape = nchw
      ? ([attrs.inputShape[0], attrs.inputShape[2], attrs.inputShape[3], attrs.inputShape[1]] as [number, number, number, number])
      : attrs.inputShape;
    const dyh = nchw ? s.transpose(dy, toNHWC) : dy;
    const info = tf.backend_util.computeConv2DInfo(
      inShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const direct = inputGradMethod === 'direct' || inputGradMethod === 'auto' ? inputGradDirect(s, dyh, filter, info) : null;
    const dx = direct ?? (useCol2im(info) ? inputGradCol2im(s, dyh, filter, info) : null) ?? inputGradNHWC(s, dyh, filter, info);
    return nchw ? s.transpose(dx, toNCHW) : dx;
  });
}

interface DepthwiseAttrs {
  strides: number | Pair;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | Pair;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Depthwise dW[kh, kw, c, m] = Σ_{b, oh, ow} x[b, oh·s + kh·d − pad, …, c] · dy[b, oh, ow, c·M + m], as one
 * depthwise conv: x as a single image with (c, b) channels, dy as a [oh, ow, (c, b), M] filter
 * (stride = forward dilation, dilation = forward stride), then a sum over b.
 */
export function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}): Info {
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = args.attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
  const backend = args.backend as WasmBackendLike;
  return withScope(backend, [x, dy], (s) => {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
    const m = attrs.filterShape[3];
    const needH = (fh - 1) * dh + (oh - 1) * sh + 1;
    const needW = (fw - 1) * dw + (ow - 1) * sw + 1;
    const { x: xc, pad } = cropForConv(s, x, [padInfo.top, needH - h - padInfo.top], [padInfo.left, needW - w - padInfo.left]);
    const [, hc, wc] = xc.shape;
    // [b, H, W, c] → [1, H, W, c·b]
    const xT = s.reshape(s.transpose(xc, [1, 2, 3, 0]), [1, hc, wc, c * b]);
    // [b, oh, ow, c·M] → [oh, ow, c·b, M]
    const f = s.reshape(s.transpose(s.reshape(dy, [b, oh, ow, c, m]), [1, 2, 3, 0, 4]), [oh, ow, c * b, m]);
    const out = s.run('DepthwiseConv2dNative', { x: xT, filter: f }, { strides: [dh, dw], dilations: [sh, sw], pad });
    // [1, fh, fw, c·b·M] → sum over b → [fh, fw, c, M]
    return s.sum(s.reshape(out, [fh, fw, c, b, m]), [3]);
  });
}

/**
 * Depthwise dx: the zero-dilated, padded dy convolved depthwise (multiplier 1, c·M channels) with the
 * flipped filter, then summed over the multiplier.
 */
export function depthwiseConv2dNativeBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}): Info {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = args.attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
  const backend = args.backend as WasmBackendLike;
  return withScope(backend, [dy, filter], (s) => {
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    const { batchSize: b, inHeight: h, inWidth: w, inChannels: c } = info;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
    const m = filter.shape[3];
    const dyd = dilateSpatial(s, dy, [sh, sw]);
    const effH = (fh - 1) * dh;
    const effW = (fw - 1) * dw;
    const top = effH - padInfo.top;
    const left = effW - padInfo.left;
    const { x: src, pad } = cropForConv(s, dyd, [top, h + effH - top - dyd.shape[1]], [left, w + effW - left - dyd.shape[2]]);
    const f = s.reshape(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [fh, fw, c * m, 1]);
    const out = s.run('DepthwiseConv2dNative', { x: src, filter: f }, { strides: [1, 1], dilations: [dh, dw], pad });
    if (m === 1) return out;
    return s.sum(s.reshape(out, [b, h, w, c, m]), [4]);
  });
}

interface Conv2DAttrs extends ConvAttrs {
  activation?: string;
}

/**
 * Conv2D and FusedConv2D (bias, no activation) for wasm by `convDirect`, where it applies (NHWC, float32,
 * co a multiple of 8); everything else goes to the stock kernel (XNNPACK).
 */
function directConvKernel(name: 'Conv2D' | 'FusedConv2D') {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as {
      x: Info;
      filter: Info;
      bias?: Info;
      preluActivationWeights?: Info;
    };
    const attrs = args.attrs as unknown as Conv2DAttrs;
    const backend = args.backend as WasmBackendLike;
    const plain = (attrs.activation ?? 'linear') === 'linear' && !preluActivationWeights && (attrs.dataFormat ?? 'NHWC') === 'NHWC';
    const floats = x.dtype === 'float32' && filter.dtype === 'float32' && (!bias || (bias.dtype === 'float32' && bias.shape.length === 1));
    if (convMethod === 'direct' && plain && floats) {
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filter.shape as [number, number, number, number],
        attrs.strides,
        attrs.dilations ?? 1,
        attrs.pad,
        attrs.dimRoundingMode,
      );
      const out = convDirect(backend, x, filter, bias, info);
      if (out) return out;
    }
    return baseKernel(name).kernelFunc(args as never) as Info;
  };
}

let convMethod: 'direct' | 'xnnpack' = 'direct';
/** For benchmarks: the forward conv by conv2d.wat's loop (`direct`, where it applies) or the stock XNNPACK kernel. */
export function setConvMethod(method: 'direct' | 'xnnpack'): void {
  convMethod = method;
}

export const conv2d = directConvKernel('Conv2D');
export const fusedConv2d = directConvKernel('FusedConv2D');
