import * as tf from '@tensorflow/tfjs';
import { baseKernel, type Info, sameShape, type WasmBackendLike, sizeOf } from './scope.js';

/**
 * Broadcasting comparisons and Maximum/Minimum. tfjs-backend-wasm 4.22 runs these as scalar C++ loops
 * that, when the operands' shapes differ (other than a scalar), map every output index through a
 * generic broadcasting routine, per element — and that exact pattern (e.g. `Equal([1, 300], [784, 300])`)
 * is in the gradient of every `tf.max`/`tf.min` over an axis. Here: plain loops over the wasm heap in
 * contiguous runs along the innermost (collapsed) dimension (figures: docs/performance.md), with the
 * cpu backend's semantics (`===`, `Math.max`, …). Same-shape and scalar cases keep the stock kernel
 * (it is as fast there); XNNPACK-backed kernels (Add, Sub, Mul, RealDiv) are fast and untouched.
 */

type View = Float32Array | Int32Array | Uint8Array;
type Run = (out: View, o: number, a: View, ai: number, as: number, b: View, bi: number, bs: number, n: number) => void;

// One function per operation so that V8 keeps each inner loop monomorphic and inlined.
const RUNS: Record<string, Run> = {
  Equal: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] === b[bi] ? 1 : 0;
  },
  NotEqual: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] !== b[bi] ? 1 : 0;
  },
  Greater: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] > b[bi] ? 1 : 0;
  },
  GreaterEqual: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] >= b[bi] ? 1 : 0;
  },
  Less: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] < b[bi] ? 1 : 0;
  },
  LessEqual: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] <= b[bi] ? 1 : 0;
  },
  Maximum: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = Math.max(a[ai], b[bi]);
  },
  Minimum: (out, o, a, ai, as, b, bi, bs, n) => {
    for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = Math.min(a[ai], b[bi]);
  },
};

export const ELEMENTWISE_BINARY = Object.keys(RUNS);
const COMPARISONS = new Set(['Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual']);

function view(backend: WasmBackendLike, info: Info): View {
  return backend.typedArrayFromHeap!(info) as View;
}

/**
 * Broadcasting as runs: the output shape with each operand's strides (0 where it broadcasts),
 * adjacent dimensions merged while both operands keep the same pattern.
 */
function plan(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]) {
  const rank = outShape.length;
  const pad = (s: readonly number[]) => [...new Array(rank - s.length).fill(1), ...s];
  const as = pad(aShape);
  const bs = pad(bShape);
  const dims: { n: number; a: boolean; b: boolean }[] = [];
  for (let d = 0; d < rank; d++) {
    const n = outShape[d];
    if (n === 1) continue;
    const a = as[d] !== 1;
    const b = bs[d] !== 1;
    const last = dims[dims.length - 1];
    if (last && last.a === a && last.b === b) last.n *= n;
    else dims.push({ n, a, b });
  }
  if (dims.length === 0) dims.push({ n: 1, a: false, b: false });
  // Element strides per merged dimension (row-major over the non-broadcast dimensions).
  const strideA = new Array<number>(dims.length);
  const strideB = new Array<number>(dims.length);
  let sa = 1;
  let sb = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    strideA[d] = dims[d].a ? sa : 0;
    strideB[d] = dims[d].b ? sb : 0;
    if (dims[d].a) sa *= dims[d].n;
    if (dims[d].b) sb *= dims[d].n;
  }
  return { sizes: dims.map((d) => d.n), strideA, strideB };
}

function binary(name: string) {
  const run = RUNS[name];
  return (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    const backend = args.backend as WasmBackendLike;
    const dtype = a.dtype;
    const numeric = dtype === 'float32' || dtype === 'int32' || (dtype === 'bool' && COMPARISONS.has(name));
    const trivial = sameShape(a.shape, b.shape) || sizeOf(a.shape) === 1 || sizeOf(b.shape) === 1;
    if (trivial || !numeric || b.dtype !== dtype || !backend.makeOutput || !backend.typedArrayFromHeap) {
      return baseKernel(name).kernelFunc(args as never) as Info;
    }
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = backend.makeOutput(outShape, COMPARISONS.has(name) ? 'bool' : dtype);
    if (sizeOf(outShape) === 0) return out;
    const [av, bv, ov] = [view(backend, a), view(backend, b), view(backend, out)];
    const { sizes, strideA, strideB } = plan(a.shape, b.shape, outShape);
    const rank = sizes.length;
    const inner = sizes[rank - 1];
    const ia = strideA[rank - 1];
    const ib = strideB[rank - 1];
    const outer = sizeOf(sizes) / inner;
    const index = new Array<number>(rank).fill(0);
    let offA = 0;
    let offB = 0;
    for (let r = 0, o = 0; r < outer; r++, o += inner) {
      run(ov, o, av, offA, ia, bv, offB, ib, inner);
      // Advance the outer multi-index (odometer over dimensions 0 … rank − 2).
      for (let d = rank - 2; d >= 0; d--) {
        index[d]++;
        offA += strideA[d];
        offB += strideB[d];
        if (index[d] < sizes[d]) break;
        offA -= strideA[d] * sizes[d];
        offB -= strideB[d] * sizes[d];
        index[d] = 0;
      }
    }
    return out;
  };
}

export const elementwiseKernels: { name: string; kernelFunc: ReturnType<typeof binary> }[] = ELEMENTWISE_BINARY.map((name) => ({
  name,
  kernelFunc: binary(name),
}));
