import * as tf from '@tensorflow/tfjs';
import { baseKernel, type Info, type KernelScope, type WasmBackendLike, sizeOf, withScope } from './scope.js';

/**
 * tfjs-backend-wasm 4.22 multiplies with XNNPACK only when neither operand is transposed and there is
 * no batch (`batch_mat_mul_impl.cc`); every other case runs a much slower scalar blocked loop. That
 * includes both products of a dense layer's backward pass (dx = dy·Wᵀ, dW = xᵀ·dy). These overrides
 * transpose operands explicitly (a cheap copy) and run the fast path, per batch when batched.
 *
 * Two layouts compute the same product C = op(A)·op(B) [m×n, inner k]:
 *  - direct:  C  = A'·B'     (XNNPACK packs B' [k×n]);
 *  - swapped: Cᵀ = op(B)ᵀ·op(A)ᵀ, then Cᵀ is transposed (packs op(A)ᵀ [k×m]).
 * XNNPACK re-packs the right operand on every call (its operator cache is keyed by tensor id, and
 * these are fresh tensors), so the cheaper layout is the one with fewer elements to copy and pack.
 */
export type MatMulLayout = 'auto' | 'direct' | 'swapped';

let layoutChoice: MatMulLayout = 'auto';

/** For benchmarks and tests: force one layout of the transposed-product rewrite. */
export function setMatMulLayout(layout: MatMulLayout): void {
  layoutChoice = layout;
}

/** Relative per-element cost of packing the right operand vs. a transpose copy (as measured: docs/performance.md). */
const PACK_COST = 3;
/** Below this many multiply-adds the stock kernel's single call beats transposes + a fast call. */
const MIN_WORK = 16 * 16 * 16;
/**
 * Batched products run one fast call per batch entry (≈ 3 kernel calls of JS overhead each), so each
 * entry must be big enough to pay for that: many small matrices stay on the stock kernel.
 */
const MIN_WORK_PER_BATCH = 40 * 40 * 40;

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

export function chooseLayout(m: number, k: number, n: number, tA: boolean, tB: boolean): 'direct' | 'swapped' {
  if (layoutChoice !== 'auto') return layoutChoice;
  const direct = (tA ? m * k : 0) + (tB ? k * n : 0) + PACK_COST * k * n;
  const swapped = (tB ? 0 : k * n) + (tA ? 0 : m * k) + m * n + PACK_COST * k * m;
  return swapped < direct ? 'swapped' : 'direct';
}

/**
 * One rank-2 product on the fast path. `a`, `b` are rank-2 views; returns [m, n].
 * `nn` runs the stock kernel with no transposes.
 */
function product2d(s: KernelScope, a: Info, b: Info, tA: boolean, tB: boolean, allowSwap: boolean, nn: (a: Info, b: Info) => Info): Info {
  const m = tA ? a.shape[1] : a.shape[0];
  const k = tA ? a.shape[0] : a.shape[1];
  const n = tB ? b.shape[0] : b.shape[1];
  if (!allowSwap || chooseLayout(m, k, n, tA, tB) === 'direct') {
    const a2 = tA ? s.transpose(a, [1, 0]) : a;
    const b2 = tB ? s.transpose(b, [1, 0]) : b;
    return nn(a2, b2);
  }
  const left = tB ? b : s.transpose(b, [1, 0]); // [n, k]
  const right = tA ? a : s.transpose(a, [1, 0]); // [k, m]
  return s.transpose(nn(left, right), [1, 0]);
}

type AnyKernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

/**
 * Shared by BatchMatMul and _FusedMatMul: `finish` runs the stock kernel on an untransposed rank-3
 * pair with batch 1 (it adds bias and activation for the fused kernel).
 */
function fastMatMul(
  args: AnyKernelArgs,
  kernelName: string,
  extraAttrs: (attrs: tf.NamedAttrMap) => tf.NamedAttrMap,
  allowSwap: boolean,
): Info | null {
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA: tA, transposeB: tB } = args.attrs as unknown as MatMulAttrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  if (!tA && !tB && batchA === 1 && batchB === 1) return null; // already the fast path
  const m = tA ? a.shape[aRank - 1] : a.shape[aRank - 2];
  const k = tA ? a.shape[aRank - 2] : a.shape[aRank - 1];
  const n = tB ? b.shape[bRank - 2] : b.shape[bRank - 1];
  if (m * k * n < MIN_WORK || m === 0 || k === 0 || n === 0) return null;
  const batch = Math.max(batchA, batchB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null; // general broadcasting: stock path
  if (batch > 1 && m * k * n < MIN_WORK_PER_BATCH) return null;
  const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as tf.NamedAttrMap;
  return withScope(backend, [a, b], (s) => {
    const nn = (x: Info, y: Info): Info =>
      s.reshape(
        s.run(
          kernelName,
          { ...args.inputs, a: s.reshape(x, [1, x.shape[0], x.shape[1]]), b: s.reshape(y, [1, y.shape[0], y.shape[1]]) },
          { ...extraAttrs(attrs), transposeA: false, transposeB: false },
        ),
        [x.shape[0], y.shape[1]],
      );
    const a3 = s.reshape(a, [batchA, a.shape[aRank - 2], a.shape[aRank - 1]]);
    const b3 = s.reshape(b, [batchB, b.shape[bRank - 2], b.shape[bRank - 1]]);
    if (batch === 1) {
      const a2 = s.reshape(a3, a3.shape.slice(1));
      const b2 = s.reshape(b3, b3.shape.slice(1));
      return s.reshape(product2d(s, a2, b2, tA, tB, allowSwap, nn), [...outBatchShape, m, n]);
    }
    const parts: Info[] = [];
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? a3 : s.slice(a3, [i, 0, 0], [1, a3.shape[1], a3.shape[2]]);
      const bi = batchB === 1 ? b3 : s.slice(b3, [i, 0, 0], [1, b3.shape[1], b3.shape[2]]);
      const c = product2d(s, s.reshape(ai, ai.shape.slice(1)), s.reshape(bi, bi.shape.slice(1)), tA, tB, allowSwap, nn);
      parts.push(s.reshape(c, [1, m, n]));
    }
    const stacked = s.run('Concat', parts, { axis: 0 });
    return s.reshape(stacked, [...outBatchShape, m, n]);
  });
}

export function batchMatMul(args: AnyKernelArgs): Info {
  return fastMatMul(args, 'BatchMatMul', () => ({}), true) ?? (baseKernel('BatchMatMul').kernelFunc(args as never) as Info);
}

export function fusedMatMul(args: AnyKernelArgs): Info {
  const { bias } = args.inputs as { bias?: Info };
  const { activation } = args.attrs as unknown as { activation?: string };
  // A bias of rank > 1 broadcasts over the whole output; a per-batch split would not know how to slice it.
  if ((bias && bias.shape.length !== 1) || activation === 'prelu') {
    return baseKernel('_FusedMatMul').kernelFunc(args as never) as Info;
  }
  // The bias runs along the output's last axis, so the swapped layout (which produces Cᵀ) is only
  // allowed without one; activations are elementwise and commute with the final transpose.
  return fastMatMul(args, '_FusedMatMul', (attrs) => attrs, bias == null) ?? (baseKernel('_FusedMatMul').kernelFunc(args as never) as Info);
}
