import type { LoopKernel } from './loop-kernels.js';
import { SPARSEMATMUL_WASM } from './sparse-matmul.wasm.js';

/**
 * The kernel for `sparseMatMul` of `@sparsify/layers` (sparse × dense inference of Dense and 1×1 conv
 * layers): y = act(x · Wᵀ + bias), W in CSR with one row per output (see its `CsrMatrix`; the name is
 * checked against the op's in the layers tests). Inputs [x, values, columns, rowStarts, bias?]; the
 * index arrays hold 2²³ + i as float32.
 *
 * One sample is one pass over the non-zeros, each output a dot product of its row with the gathered
 * inputs (four at a time in SIMD lanes). A batch of more than `GATHER_BATCH` samples is transposed to
 * [inputs, batch] first, so that each non-zero multiplies a contiguous run of samples (16 lanes at a
 * time), then transposed back. Sums run in float32 (SIMD) or float64 (the JS loop), in another order
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
