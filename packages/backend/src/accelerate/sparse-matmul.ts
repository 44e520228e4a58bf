import * as tf from '@tensorflow/tfjs';
import { loopKernelSimdEnabled, wasmKernelExports, type LoopKernel, type WasmLike } from './loop-kernels.js';
import { SPARSEMATMUL_WASM } from './sparse-matmul.wasm.js';

/**
 * The kernel for `sparseMatMul` of `@sparsify/layers` (sparse × dense inference of Dense and 1×1 conv
 * layers): y = act(x · Wᵀ + bias), W in CSR with one row per output (see its `CsrMatrix`; the name is
 * checked against the op's in the layers tests). Inputs [x, values, columns, rowStarts, bias?]; the
 * index arrays hold 2²³ + i as float32.
 *
 * One sample is one pass over the non-zeros, each output a dot product of its row with the gathered
 * inputs (four at a time in SIMD lanes). A batch of more than `GATHER_BATCH` samples is transposed to
 * [inputs, batch] first (4×4 blocks in SIMD registers), so that each non-zero multiplies a contiguous
 * run of samples (32 lanes at a time where 32 remain, then 16, then 4: one load of a non-zero and its
 * index serves up to 32 samples), then transposed back with the bias and activation. Sums run in float32 (SIMD) or float64 (the JS loop), in another order
 * than tfjs's matMul: equal to float32 rounding.
 */
export const SPARSE_MATMUL_KERNEL_NAME = 'SparsifySparseMatMul';

interface SparseMatMulAttrs {
  rows: number;
  cols: number;
  relu: boolean;
}

/** Up to this many samples run row by row (one gather pass each); more are transposed. */
const GATHER_BATCH = 2;
const INDEX_MASK = 0x7fffff;

export const SPARSE_MATMUL: LoopKernel<SparseMatMulAttrs> = {
  name: SPARSE_MATMUL_KERNEL_NAME,
  outputShapes: ([x], { rows }) => [[x[0], rows]],
  run([x, values, columns, rowStarts, bias], [y], { rows, cols, relu }) {
    const batch = x.length / cols;
    const index = new Int32Array(columns.buffer, columns.byteOffset, columns.length);
    const starts = new Int32Array(rowStarts.buffer, rowStarts.byteOffset, rowStarts.length);
    for (let b = 0; b < batch; b++) {
      const offset = b * cols;
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let k = starts[r] & INDEX_MASK, end = starts[r + 1] & INDEX_MASK; k < end; k++)
          s += values[k] * x[offset + (index[k] & INDEX_MASK)];
        let v = Math.fround(s);
        if (bias) v = Math.fround(v + bias[r]);
        y[b * rows + r] = relu ? Math.max(v, 0) : v + 0;
      }
    }
  },
  simd: {
    code: SPARSEMATMUL_WASM,
    call: (e, [x, values, columns, rowStarts, bias], [y], [xShape], { rows, cols, relu }, context) => {
      const batch = xShape[0];
      const flags = (bias !== undefined ? 1 : 0) | (relu ? 2 : 0);
      if (batch <= GATHER_BATCH) {
        for (let b = 0; b < batch; b++) e.csrRows(x + 4 * b * cols, values, columns, rowStarts, bias ?? 0, y + 4 * b * rows, rows, flags);
        return;
      }
      const lanes = Math.ceil(batch / 4) * 4;
      const xT = context.scratch(cols * lanes) as number;
      const yT = context.scratch(rows * lanes) as number;
      if (lanes > batch) new Float32Array(context.memory!.buffer, xT, cols * lanes).fill(0);
      e.transpose(x, batch, cols, xT, lanes);
      e.csrLanes(xT, values, columns, rowStarts, yT, rows, lanes);
      e.finishLanes(yT, lanes, bias ?? 0, y, batch, rows, flags);
    },
  },
};

interface WasmData {
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } | undefined };
}

/**
 * On wasm, up to `GATHER_BATCH` samples (inference at batch 1, where a call's fixed cost is most of it)
 * run `csrRows` straight from the kernel function, without the loop-kernel wrapper's generic work
 * (ordered inputs, shape callbacks, views of every input), about half a call's fixed cost
 * (docs/performance.md). Other batches, and the JS loop, go to the wrapper registered before.
 * Call after `registerLoopKernels` has registered `SPARSE_MATMUL`.
 */
export function registerLeanWasmSparseMatMul(): void {
  const general = tf.getKernel(SPARSE_MATMUL_KERNEL_NAME, 'wasm');
  if (!general) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { inputs, backend } = args;
    const { rows, cols, relu } = args.attrs as unknown as SparseMatMulAttrs;
    const x = inputs.x0 as tf.TensorInfo;
    const batch = x.shape[0];
    const e = batch <= GATHER_BATCH && loopKernelSimdEnabled() ? wasmKernelExports(backend as tf.KernelBackend, SPARSEMATMUL_WASM) : null;
    if (!e || x.shape[1] !== cols || x.dtype !== 'float32') return general.kernelFunc(args);
    const wasm = backend as unknown as WasmLike & WasmData;
    const y = wasm.makeOutput([batch, rows], 'float32');
    // Heap offsets, not views: an allocation that grows the heap leaves them valid.
    const at = (t: tf.TensorInfo | undefined) => (t ? wasm.dataIdMap.get(t.dataId)!.memoryOffset : 0);
    const [values, columns, rowStarts, bias] = [inputs.x1, inputs.x2, inputs.x3, inputs.x4] as (tf.TensorInfo | undefined)[];
    const flags = (bias ? 1 : 0) | (relu ? 2 : 0);
    const [xAt, yAt] = [at(x), at(y)];
    for (let b = 0; b < batch; b++)
      e.csrRows(xAt + 4 * b * cols, at(values), at(columns), at(rowStarts), at(bias), yAt + 4 * b * rows, rows, flags);
    return y;
  };
  tf.unregisterKernel(SPARSE_MATMUL_KERNEL_NAME, 'wasm');
  tf.registerKernel({ kernelName: SPARSE_MATMUL_KERNEL_NAME, backendName: 'wasm', kernelFunc });
}
