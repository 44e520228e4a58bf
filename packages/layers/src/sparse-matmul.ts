import * as tf from '@tensorflow/tfjs';
import { check, runOp } from '@sparsify/core';

/** The kernel name of `sparseMatMul` (an accelerator such as `@sparsify/backend` registers fast ones). */
export const SPARSE_MATMUL_KERNEL = 'SparsifySparseMatMul';

/**
 * Index tensors hold index i as the float32 2²³ + i, exact for i < 2²³: its bits are 0x4B000000 | i, so a
 * kernel reads the index with one mask, while the op's inputs stay float32 as `runOp` requires.
 */
export const INDEX_BIAS = 2 ** 23;

/** Activations `sparseMatMul` applies itself (others run after it, as tfjs ops). */
export type FusedActivation = 'linear' | 'relu';

/**
 * A weight matrix of `rows` outputs × `cols` inputs in compressed sparse rows: row r's non-zeros are
 * `values[rowStarts[r] … rowStarts[r + 1])`, in the columns `columns[…]` (ascending). Indices are
 * stored as `INDEX_BIAS + i`. The matrix is Wᵀ of a Dense kernel W [inputs, outputs]: one row per
 * output, so each output is one dot product over its row.
 */
export interface CsrMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly values: tf.Tensor1D;
  readonly columns: tf.Tensor1D;
  readonly rowStarts: tf.Tensor1D;
}

/** The CSR arrays of Wᵀ for a row-major kernel W [inputs, outputs], dropping exact zeros. */
export function csrArrays(
  kernel: Float32Array,
  inputs: number,
  outputs: number,
): { values: Float32Array; columns: Float32Array; rowStarts: Float32Array } {
  check(kernel.length === inputs * outputs, 'csrArrays kernel length', kernel.length, `${inputs} × ${outputs} = ${inputs * outputs}`);
  let nnz = 0;
  for (let k = 0; k < kernel.length; k++) if (kernel[k] !== 0) nnz++;
  check(inputs < INDEX_BIAS && nnz < INDEX_BIAS, 'sparse matrix size', `${inputs} columns, ${nnz} non-zeros`, `below 2^23 each`);
  const values = new Float32Array(nnz);
  const columns = new Float32Array(nnz);
  const rowStarts = new Float32Array(outputs + 1);
  let k = 0;
  for (let o = 0; o < outputs; o++) {
    rowStarts[o] = INDEX_BIAS + k;
    for (let i = 0; i < inputs; i++) {
      const v = kernel[i * outputs + o];
      if (v !== 0) {
        values[k] = v;
        columns[k++] = INDEX_BIAS + i;
      }
    }
  }
  rowStarts[outputs] = INDEX_BIAS + k;
  return { values, columns, rowStarts };
}

/** `csrArrays` as tensors: the CSR form of a Dense kernel [inputs, outputs] (the caller disposes them). */
export function csrMatrix(kernel: Float32Array, inputs: number, outputs: number): CsrMatrix {
  const { values, columns, rowStarts } = csrArrays(kernel, inputs, outputs);
  return {
    rows: outputs,
    cols: inputs,
    values: tf.tensor1d(values),
    columns: tf.tensor1d(columns),
    rowStarts: tf.tensor1d(rowStarts),
  };
}

export interface SparseMatMulAttrs {
  rows: number;
  cols: number;
  relu: boolean;
}

/**
 * act(x · Wᵀ + bias) for x [batch, cols] and W in CSR [rows, cols]: x · kernel for the Dense kernel the
 * matrix came from. `activation` relu or linear (default). Where `@sparsify/backend`'s kernels are
 * registered (cpu, wasm) one loop over the non-zeros; elsewhere the plain version below, which defines
 * the result: W scattered dense, then `matMul`.
 */
export function sparseMatMul(
  x: tf.Tensor2D,
  w: CsrMatrix,
  options: { bias?: tf.Tensor1D; activation?: FusedActivation } = {},
): tf.Tensor2D {
  check(x.rank === 2 && x.shape[1] === w.cols, 'sparseMatMul input shape', x.shape, `[batch, ${w.cols}]`);
  if (options.bias) check(options.bias.size === w.rows, 'sparseMatMul bias size', options.bias.size, String(w.rows));
  const attrs: SparseMatMulAttrs = { rows: w.rows, cols: w.cols, relu: options.activation === 'relu' };
  const inputs = [x, w.values, w.columns, w.rowStarts, ...(options.bias ? [options.bias] : [])];
  return runOp(SPARSE_MATMUL_KERNEL, inputs, attrs, plainSparseMatMul)[0] as tf.Tensor2D;
}

/**
 * W [cols, rows] (the Dense kernel the matrix came from) from CSR Wᵀ [rows, cols]: each non-zero
 * scattered to its place, in tfjs ops (any backend).
 */
export function csrToDense(w: CsrMatrix): tf.Tensor2D {
  return tf.tidy(() => tf.transpose(csrScatter(w.values, w.columns, w.rowStarts, w.rows, w.cols)));
}

function csrScatter(values: tf.Tensor, columns: tf.Tensor, rowStarts: tf.Tensor, rows: number, cols: number): tf.Tensor2D {
  const nnz = values.size;
  if (nnz === 0) return tf.zeros([rows, cols]);
  // The row of non-zero k: how many of rowStarts[1 … rows] are ≤ k, a running sum of marks at each
  // row's start (tf.upperBound would say it directly, but tfjs-node 4.22 has no SearchSorted kernel).
  const starts = tf.cast(tf.sub(tf.slice(rowStarts, [1], [rows]), INDEX_BIAS), 'int32');
  const marks = tf.scatterND(tf.reshape(starts, [rows, 1]), tf.ones([rows]), [nnz + 1]);
  const rowOf = tf.cast(tf.cumsum(tf.slice(marks, [0], [nnz])), 'int32');
  const columnOf = tf.cast(tf.sub(columns, INDEX_BIAS), 'int32');
  return tf.scatterND(tf.stack([rowOf, columnOf], 1), values, [rows, cols]);
}

function plainSparseMatMul([x, values, columns, rowStarts, bias]: tf.Tensor[], { rows, cols, relu }: SparseMatMulAttrs): tf.Tensor[] {
  let y: tf.Tensor = tf.matMul(x, csrScatter(values, columns, rowStarts, rows, cols), false, true);
  if (bias) y = tf.add(y, bias);
  return [relu ? tf.relu(y) : y];
}
