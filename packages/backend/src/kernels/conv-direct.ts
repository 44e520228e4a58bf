import type * as tf from '@tensorflow/tfjs';
import { settle, helperFor, runOnHelper } from '../accelerate/helper-thread.js';
import { wasmKernelExports, type WasmKernelCode, type WasmKernelExports, type WasmLike } from '../accelerate/loop-kernels.js';
import { CONV2D_WASM } from './conv2d.wasm.js';
import { FILTERGRAD_WASM } from './filter-grad.wasm.js';
import { heapViews, type Info, type KernelScope, type WasmBackendLike } from './scope.js';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The conv's shape, strides, dilations and padding in the order both wasm functions take them last. */
const geometry = (i: Conv2DInfo): number[] => [
  i.inHeight,
  i.inWidth,
  i.inChannels,
  i.outHeight,
  i.outWidth,
  i.outChannels,
  i.filterHeight,
  i.filterWidth,
  i.strideHeight,
  i.strideWidth,
  i.dilationHeight,
  i.dilationWidth,
  i.padInfo.top,
  i.padInfo.left,
];

/**
 * Convs and their filter gradient as register-blocked WebAssembly SIMD loops straight over the NHWC
 * tensors on the wasm heap (conv2d.wat, filter-grad.wat): no im2col, no indirection buffer, no
 * transposes. A conv output is the same sum in the same order as XNNPACK's conv (bit-identical); dW
 * adds the images in another order (float32 rounding). Their output channels must be a multiple of 8.
 * On the threaded build the images are split between the calling thread and the accelerator's helper
 * thread (helper-thread.ts).
 */

/** Below this many multiply-adds a kernel runs on the calling thread alone (waking the helper costs ≈ 1 ms). */
const MIN_SPLIT_WORK = 2 ** 24;

/**
 * Runs `run(exports, first, count)` over the images [0, batch): where the helper thread runs and the work
 * is large enough, the last ⌊batch/2⌋ images on it (its writes to `pendingIds` are waited for when their
 * data is next used, and `inputIds` are not freed before it is done), the rest here. Returns whether the
 * helper took a share.
 */
function overImages(
  backend: WasmBackendLike,
  code: WasmKernelCode,
  exports: WasmKernelExports,
  name: string,
  batch: number,
  work: number,
  inputIds: tf.DataId[],
  pendingIds: tf.DataId[],
  run: (e: WasmKernelExports, first: number, count: number) => void,
): boolean {
  const helper = batch > 1 && work >= MIN_SPLIT_WORK ? helperFor(backend as unknown as WasmLike) : null;
  const mine = helper ? Math.ceil(batch / 2) : batch;
  if (helper) runOnHelper(helper, backend as unknown as WasmLike, code, name, inputIds, pendingIds, (e) => run(e, mine, batch - mine));
  run(exports, 0, mine);
  return helper !== null;
}

/**
 * out [b, oh, ow, co] of x [b, h, w, ci] and f [fh, fw, ci, co], plus `bias` [co] when given. null where co
 * is not a multiple of 8 or the module does not instantiate.
 */
export function convDirect(backend: WasmBackendLike, x: Info, filter: Info, bias: Info | undefined, info: Conv2DInfo): Info | null {
  if (info.outChannels % 8 !== 0 || !backend.makeOutput || !backend.typedArrayFromHeap) return null;
  const e = wasmKernelExports(backend as unknown as tf.KernelBackend, CONV2D_WASM);
  if (!e) return null;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const out = backend.makeOutput([batchSize, outHeight, outWidth, outChannels], 'float32');
  const [xv, fv, ov] = heapViews(backend, [x, filter, out])!;
  const bv = bias ? heapViews(backend, [bias])![0].byteOffset : 0;
  const [xImage, outImage] = [4 * inHeight * inWidth * inChannels, 4 * outHeight * outWidth * outChannels];
  const work = batchSize * outHeight * outWidth * outChannels * filterHeight * filterWidth * inChannels;
  const inputIds = [x.dataId, filter.dataId, ...(bias ? [bias.dataId] : [])];
  overImages(backend, CONV2D_WASM, e, 'Conv2D', batchSize, work, inputIds, [out.dataId], (ex, first, count) =>
    ex.conv2d(xv.byteOffset + first * xImage, fv.byteOffset, bv, ov.byteOffset + first * outImage, count, ...geometry(info)),
  );
  return out;
}

/**
 * dW [fh, fw, ci, co] of x and dy (Conv2DBackpropFilter): where the helper takes a share of the images,
 * its partial dW is added to this thread's when both are done. null where co is not a multiple of 8 or
 * the module does not instantiate.
 */
export function filterGradDirect(s: KernelScope, x: Info, dy: Info, info: Conv2DInfo): Info | null {
  const backend = s.backend;
  if (info.outChannels % 8 !== 0 || !backend.makeOutput || !backend.typedArrayFromHeap) return null;
  const e = wasmKernelExports(backend as unknown as tf.KernelBackend, FILTERGRAD_WASM);
  if (!e) return null;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const shape = [filterHeight, filterWidth, inChannels, outChannels];
  const out = s.track(backend.makeOutput(shape, 'float32'));
  const partial = s.track(backend.makeOutput(shape, 'float32'));
  const [xv, dyv, ov, pv] = heapViews(backend, [x, dy, out, partial])!;
  const [xImage, dyImage] = [4 * inHeight * inWidth * inChannels, 4 * outHeight * outWidth * outChannels];
  const work = batchSize * outHeight * outWidth * outChannels * filterHeight * filterWidth * inChannels;
  const split = overImages(
    backend,
    FILTERGRAD_WASM,
    e,
    'Conv2DBackpropFilter',
    batchSize,
    work,
    [x.dataId, dy.dataId],
    [partial.dataId],
    (ex, first, count) =>
      ex.filterGrad(
        xv.byteOffset + first * xImage,
        dyv.byteOffset + first * dyImage,
        first === 0 ? ov.byteOffset : pv.byteOffset,
        count,
        ...geometry(info),
      ),
  );
  if (split) {
    settle(partial.dataId);
    const [sum, part] = heapViews(backend, [out, partial])!;
    for (let i = 0; i < sum.length; i++) sum[i] += part[i];
  }
  return out;
}
