import * as tf from '@tensorflow/tfjs';
import {
  loopKernelImplementation,
  registerSparsifyKernels,
  setLoopKernelSimd,
  SPARSIFY_KERNELS,
  unregisterSparsifyKernels,
} from '@sparsify/backend/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackend, useTestBackend } from '../../../tools/testing/backends.js';
import { csrArrays, csrMatrix, INDEX_BIAS, SPARSE_MATMUL_KERNEL, sparseMatMul, type FusedActivation } from '../src/index.js';

/**
 * sparseMatMul on this suite's backend (a matrix suite: cpu, wasm, tensorflow): the accelerator's kernel
 * (SIMD and JS loop on wasm, JS loop on cpu; none on tensorflow) against the op's plain version, and
 * both against tfjs's matMul of the dense kernel, to float32 rounding.
 */

const backend = testBackend();
beforeAll(() => useTestBackend());
afterAll(() => setLoopKernelSimd(true));

function noise(i: number, seed: number): number {
  const s = Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453;
  return 2 * (s - Math.floor(s)) - 1;
}

/** A kernel [inputs, outputs] with about `sparsity` of its entries 0, output 1 all zero, output 2 with one non-zero. */
function kernel(inputs: number, outputs: number, sparsity: number, seed: number): Float32Array {
  const w = new Float32Array(inputs * outputs).map((_, k) => (Math.abs(noise(k, seed + 100)) < sparsity ? 0 : noise(k, seed)));
  for (let i = 0; i < inputs; i++) {
    if (outputs > 1) w[i * outputs + 1] = 0;
    if (outputs > 2) w[i * outputs + 2] = i === inputs - 1 ? 0.5 : 0;
  }
  return w;
}

function run(f: () => tf.Tensor): Float32Array {
  return tf.tidy(() => f().dataSync() as Float32Array);
}

function expectClose(got: Float32Array, want: Float32Array, relative: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(relative * scale + 1e-30);
    if (Object.is(want[i], 0)) expect(Object.is(got[i], -0), `${what}[${i}] is −0`).toBe(false);
  }
}

it('the accelerator has a kernel for the op', () => {
  expect(SPARSIFY_KERNELS).toContain(SPARSE_MATMUL_KERNEL);
});

it('stores indices as 2^23 + i, whose float32 bits are 0x4B000000 | i', () => {
  const { values, columns, rowStarts } = csrArrays(Float32Array.from([0, 2, 3, 0, 0, 4]), 3, 2);
  expect([...values]).toEqual([3, 2, 4]);
  expect([...columns].map((c) => c - INDEX_BIAS)).toEqual([1, 0, 2]);
  expect([...rowStarts].map((c) => c - INDEX_BIAS)).toEqual([0, 1, 3]);
  expect(new Int32Array(columns.buffer)[2]).toBe(0x4b000000 | 2);
});

describe(`sparseMatMul on ${backend}`, () => {
  const cases: [batch: number, inputs: number, outputs: number, sparsity: number][] = [
    [1, 7, 5, 0],
    [1, 301, 37, 0.95],
    [2, 64, 9, 0.5],
    [3, 33, 6, 0.9],
    [5, 20, 11, 0.8],
    [17, 300, 19, 0.95],
    [32, 97, 13, 0.99],
    [4, 10, 3, 1],
    // Around the wasm kernel's blocks: 4 samples to a SIMD register, 4×4 blocks in the transposes, 16 and
    // 32 samples to a pass over the non-zeros.
    ...[1, 15, 16, 17, 31, 32, 33, 64].map((batch): [number, number, number, number] => [batch, 45, 7, 0.9]),
  ];
  for (const [batch, inputs, outputs, sparsity] of cases) {
    for (const [activation, withBias] of [
      ['linear', false],
      ['relu', true],
    ] as [FusedActivation, boolean][]) {
      it(`equals the plain op and the dense matMul: x [${batch}, ${inputs}], ${outputs} outputs, ${sparsity * 100}% zeros, ${activation}${
        withBias ? ' + bias' : ''
      }`, () => {
        const w = kernel(inputs, outputs, sparsity, inputs + outputs);
        const x = tf.tensor2d(
          new Float32Array(batch * inputs).map((_, i) => noise(i, batch)),
          [batch, inputs],
        );
        const bias = withBias ? tf.tensor1d(new Float32Array(outputs).map((_, i) => noise(i, 7))) : undefined;
        const matrix = csrMatrix(w, inputs, outputs);
        const before = tf.memory().numTensors;
        const op = () => sparseMatMul(x, matrix, { bias, activation });
        const dense = run(() => {
          const y = tf.matMul(x, tf.tensor2d(w, [inputs, outputs]));
          const b = bias ? tf.add(y, bias) : y;
          return activation === 'relu' ? tf.relu(b) : b;
        });
        registerSparsifyKernels();
        const simd = run(op);
        setLoopKernelSimd(false);
        const js = run(op);
        setLoopKernelSimd(true);
        expect(loopKernelImplementation(SPARSE_MATMUL_KERNEL)).toBe(backend === 'wasm' ? 'simd' : backend === 'cpu' ? 'js' : 'none');
        unregisterSparsifyKernels();
        const plain = run(op);
        registerSparsifyKernels();
        expect(tf.memory().numTensors).toBe(before);
        expectClose(plain, dense, 1e-6, 'plain vs dense');
        expectClose(simd, plain, 1e-6, 'kernel vs plain');
        expectClose(js, plain, 1e-6, 'JS loop vs plain');
        tf.dispose([x, bias, matrix.values, matrix.columns, matrix.rowStarts]);
      });
    }
  }

  it('rejects an input of the wrong width, naming both', () => {
    const matrix = csrMatrix(new Float32Array(6), 3, 2);
    expect(() => sparseMatMul(tf.zeros([1, 4]), matrix)).toThrow(/\[batch, 3\]; got \[1,4\]/);
    tf.dispose([matrix.values, matrix.columns, matrix.rowStarts]);
  });
});
