import * as tf from '@tensorflow/tfjs';
import {
  absAndSquareSums,
  absSum,
  batchNormTraining,
  groupScale,
  groupSquareSums,
  kthSmallestMagnitude,
  momentumUpdate,
  relu,
  signLinear,
} from '@sparsify/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { registerSparsifyKernels, unregisterSparsifyKernels } from '../src/index.js';
import { expectClose, values } from './helpers.js';

/**
 * Core's ops on this suite's backend (a matrix suite: cpu, wasm, tensorflow): with sparsify's kernels and
 * with the ops' plain tfjs versions, the same numbers to float32 rounding.
 */

beforeAll(() => useTestBackend());

/** f's outputs with the kernels, then without. */
function both(f: () => tf.Tensor[]): [Float32Array[], Float32Array[]] {
  const run = () => tf.tidy(() => f().map((t) => Float32Array.from(t.dataSync())));
  registerSparsifyKernels();
  const fast = run();
  unregisterSparsifyKernels();
  try {
    return [fast, run()];
  } finally {
    registerSparsifyKernels();
  }
}

// Sizes with and without a SIMD tail, and group layouts.
const SHAPES = [[7], [2, 9], [784, 30], [3, 3, 5, 6]];

describe(`core's ops with the accelerator's kernels on ${process.env.SPARSIFY_TEST_BACKEND ?? 'cpu'}`, () => {
  for (const shape of SHAPES) {
    const n = shape.reduce((a, b) => a * b, 1);
    it(`equal the plain ops on shape [${shape}]`, () => {
      const [fast, plain] = both(() => {
        const x = tf.tensor(values(n, 3), shape);
        const x2 = shape.length >= 2 ? x : tf.reshape(x, [1, n]);
        const [I, O] = x2.shape.slice(-2);
        const [a, b, c] = [tf.scalar(-0.75), tf.scalar(0.3), tf.scalar(-2)];
        const [acc, g1, g2] = [4, 5, 6].map((seed) => tf.tensor(values(n, seed), shape));
        return [
          ...absAndSquareSums(x),
          absSum(x),
          signLinear(x, a),
          signLinear(x, a, b),
          signLinear(x, a, b, c),
          ...groupSquareSums(x2),
          groupScale(x2, tf.tensor1d(values(I, 7)), tf.tensor1d(values(O, 8))),
          tf.scalar(kthSmallestMagnitude([x, acc], Math.floor(0.9 * 2 * n))),
          ...momentumUpdate([x, acc, g1, tf.scalar(0.9), tf.scalar(-0.1)], false),
          ...momentumUpdate([x, acc, g1, tf.scalar(0.9), tf.scalar(-0.1), g2], true),
        ];
      });
      // Sums in another order (float64 loops, tree reductions): relative 2e-5; elementwise results 2e-6.
      const sums = new Set([0, 1, 2, 6, 7, 9]);
      fast.forEach((got, k) => expectClose(got, plain[k], sums.has(k) ? 2e-5 : 2e-6, `output ${k}`));
    });
  }

  it('leak no tensors, with the kernels and without', () => {
    const x = tf.tensor(values(301, 9), [43, 7]);
    for (const fast of [true, false]) {
      if (!fast) unregisterSparsifyKernels();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++)
        tf.tidy(() => void [absSum(x), signLinear(x, tf.scalar(1)), ...groupSquareSums(x), kthSmallestMagnitude([x], 100)]);
      expect(tf.memory().numTensors).toBe(before);
    }
    registerSparsifyKernels();
    x.dispose();
  });

  // Channel counts with and without whole SIMD vectors; more rows than one 64-row block of the SIMD sums.
  const LAYER_SHAPES = [
    [5, 3],
    [130, 4],
    [4, 6, 6, 8],
    [2, 3, 3, 12],
    [1, 2, 2, 5],
  ];
  for (const shape of LAYER_SHAPES) {
    const n = shape.reduce((a, b) => a * b, 1);
    const C = shape[shape.length - 1];
    it(`batchNormTraining and relu equal the plain ops, values and gradients, on shape [${shape}]`, () => {
      const [fast, plain] = both(() => {
        // An offset per channel, so that centring matters; γ with a zero and a negative entry.
        const x = tf.add(tf.tensor(values(n, 11), shape), tf.tensor1d(values(C, 12).map((v, c) => 3 * v + c)));
        const gamma = tf.tensor1d(values(C, 13).map((v, c) => (c === 1 ? 0 : c === 2 ? -1.5 : 1 + v)));
        const beta = tf.tensor1d(values(C, 14));
        const dy = tf.tensor(values(n, 15), shape);
        const { y, mean, variance } = batchNormTraining(x, gamma, beta, 1e-3);
        const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(relu(batchNormTraining(a, g, b, 1e-3).y), dy));
        const [dx, dGamma, dBeta] = tf.grads(loss)([x, gamma, beta]);
        const dRelu = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(relu(a), dy)))(x);
        return [y, mean, variance, relu(y), dx, dGamma, dBeta, dRelu];
      });
      const what = ['y', 'mean', 'variance', 'relu', 'dx', 'dγ', 'dβ', 'relu dx'];
      // Sums in another order (float64, blocks of float32): statistics and the gradients built from them
      // to 1e-5 of their largest magnitude; dx sums three terms that nearly cancel: 1e-4.
      const tolerance = [1e-5, 1e-5, 1e-5, 1e-5, 1e-4, 1e-5, 1e-5, 0];
      // The sign of a zero gradient is read by nothing (a zero γ gives ±0 in dx).
      fast.forEach((got, k) => expectClose(got, plain[k], tolerance[k], what[k], true));
    });
  }
});

describe.runIf(process.env.SPARSIFY_TEST_BACKEND === 'tensorflow')('host loops on tensorflow', () => {
  it('give TensorFlow outputs of their own: a later call that reuses the host memory changes none', async () => {
    const { clearHostMemory } = await import('../src/accelerate/host-loops.js');
    clearHostMemory();
    // Outputs of every size up to a few SIMD vectors, at every offset the memory gives them.
    const kept = tf.tidy(() =>
      Array.from({ length: 12 }, (_, n) => {
        const x = tf.tensor(values(4 * n + 1, 20 + n));
        return [absSum(x), signLinear(x, tf.scalar(2)), ...absAndSquareSums(x)].map((t) => tf.keep(t));
      }).flat(),
    );
    const before = kept.map((t) => Array.from(t.dataSync()));
    clearHostMemory();
    // Inputs copied in from the start of the memory again, over where the outputs were written.
    tf.tidy(() => void [absSum(tf.fill([1 << 16], -3)), signLinear(tf.fill([1 << 16], 5), tf.scalar(7))]);
    expect(kept.map((t) => Array.from(t.dataSync()))).toEqual(before);
    tf.dispose(kept);
  });

  it('hand an output to TensorFlow only when something there reads it', async () => {
    const { clearHostMemory } = await import('../src/accelerate/host-loops.js');
    const binding = (tf.backend() as unknown as { binding: { getNumOfTensors(): number } }).binding;
    // From the start of the memory: the outputs below lie where the copy after the clear is written.
    clearHostMemory();
    const x = tf.tensor(values(999, 23));
    const a = tf.scalar(-1.5);
    const want = signLinear(x, a);
    const handed = () => binding.getNumOfTensors();
    const before = handed();
    // Disposed unread: never in TensorFlow.
    tf.tidy(() => void signLinear(x, a));
    expect(handed()).toBe(before);
    const [read, used, kept] = [signLinear(x, a), signLinear(x, a), signLinear(x, a)];
    expect(handed()).toBe(before);
    expect(Array.from(read.dataSync())).toEqual(Array.from(want.dataSync()));
    const sum = tf.add(used, 0);
    expect(Array.from(sum.dataSync())).toEqual(Array.from(want.dataSync()));
    // A live output is handed over before the memory is cleared and reused.
    clearHostMemory();
    tf.tidy(() => void absSum(tf.fill([1 << 16], -3)));
    expect(Array.from(kept.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([x, a, want, read, used, kept, sum]);
  });

  it("run the momentum update bit for bit as tfjs's ops do, as TensorFlow's ops and as the host loop", async () => {
    const { clearHostMemory, hostCopies } = await import('../src/accelerate/host-loops.js');
    const shape = [300, 41];
    const n = shape[0] * shape[1];
    const t = (seed: number) => tf.tensor(values(n, seed), shape);
    const [m, c, a, b] = [tf.scalar(0.9), tf.scalar(-0.05), tf.scalar(0.01), tf.scalar(-0.003)];
    /** Two steps of a variable with a penalty's gradient (`signLinear`) as the addend, then one without. */
    const steps = (nesterov: boolean, decay: number, held: boolean) =>
      tf.tidy(() => {
        let [value, acc] = [t(31), t(32)];
        const out: tf.Tensor[] = [];
        for (let step = 0; step < 2; step++) {
          if (!held) clearHostMemory();
          const addend = signLinear(value, a, b);
          if (!held) clearHostMemory();
          [value, acc] = momentumUpdate([value, acc, t(40 + step), m, c, addend], nesterov, decay);
          out.push(value, acc);
        }
        if (!held) clearHostMemory();
        out.push(...momentumUpdate([value, acc, t(50), m, c], nesterov, decay));
        return out.map((x) => Array.from(new Int32Array(Float32Array.from(x.dataSync()).buffer)));
      });
    for (const [nesterov, decay] of [
      [false, 0],
      [true, 0],
      [false, 1e-3],
    ] as const) {
      const tensors = tf.memory().numTensors;
      const copies = hostCopies();
      const host = steps(nesterov, decay, true);
      // The first step copies the weights, the penalty's scalars, the accumulation, the gradient and m and
      // c; the next ones (without a penalty too) only the gradient.
      expect(hostCopies() - copies, 'tensors copied out of TensorFlow').toBe(7 + 1 + 1);
      const ops = steps(nesterov, decay, false);
      unregisterSparsifyKernels();
      const plain = steps(nesterov, decay, false);
      registerSparsifyKernels();
      expect(host, `host loop, nesterov ${nesterov}, decay ${decay}`).toEqual(plain);
      expect(ops, `TensorFlow's ops, nesterov ${nesterov}, decay ${decay}`).toEqual(plain);
      expect(tf.memory().numTensors).toBe(tensors);
    }
    tf.dispose([m, c, a, b]);
  });

  it('reuse the memory of disposed tensors: a step copies only the gradient, and the memory stops growing', async () => {
    const { clearHostMemory, hostCopies, hostMemoryBytes } = await import('../src/accelerate/host-loops.js');
    // 4 MiB a tensor: a step's weights, accumulation, gradient and penalty gradient take 16 MiB, so without
    // reuse the memory (64 MiB) would be cleared every few steps, and the weights copied in again.
    const shape = [1024, 1024];
    const n = shape[0] * shape[1];
    const gradients = [0, 1, 2].map((k) => tf.tensor(values(n, 70 + k), shape));
    const [m, c, a] = [tf.scalar(0.9), tf.scalar(-0.05), tf.scalar(0.01)];
    const train = () => {
      let [value, acc] = [tf.tensor(values(n, 61), shape), tf.tensor(values(n, 62), shape)];
      const [copies, bytes] = [[hostCopies()], [hostMemoryBytes()]];
      for (let step = 0; step < 12; step++) {
        // A fresh gradient tensor each step, as backpropagation gives one.
        const next = tf.tidy(() => momentumUpdate([value, acc, tf.add(gradients[step % 3], 0), m, c, signLinear(value, a)], false, 0));
        tf.dispose([value, acc]);
        [value, acc] = next;
        copies.push(hostCopies());
        bytes.push(hostMemoryBytes());
      }
      const bits = [value, acc].map((x) => Array.from(new Int32Array(Float32Array.from(x.dataSync()).buffer)));
      tf.dispose([value, acc]);
      return { copies, bytes, bits };
    };
    clearHostMemory();
    const tensors = tf.memory().numTensors;
    const host = train();
    expect(tf.memory().numTensors).toBe(tensors);
    // The first step copies the weights, a, the accumulation, the gradient, m and c; each later one the gradient.
    expect(host.copies.slice(1).map((k, i) => k - host.copies[i])).toEqual([6, ...Array<number>(11).fill(1)]);
    expect(new Set(host.bytes.slice(3)).size, 'the memory grows after the third step').toBe(1);
    unregisterSparsifyKernels();
    const plain = train();
    registerSparsifyKernels();
    expect(host.bits).toEqual(plain.bits);
    tf.dispose([...gradients, m, c, a]);
  });

  it("reuse the first tensor's memory for an addend: the kernels read offset 0 as none", async () => {
    const { clearHostMemory } = await import('../src/accelerate/host-loops.js');
    const t = (seed: number) => tf.tensor(values(64, seed));
    const [first, acc0, gradient, addend, m, c] = [t(1), t(2), t(3), t(4), tf.scalar(0.9), tf.scalar(-0.05)];
    clearHostMemory();
    // `first` is the first tensor copied in after a clear, and so the update runs as the host loop; then
    // disposed, its memory is the one free.
    tf.tidy(() => absSum(first));
    const [value, acc] = momentumUpdate([first, acc0, gradient, m, c], false, 0);
    first.dispose();
    // The addend, the one tensor the next call copies in, gets that memory.
    const update = () => tf.tidy(() => momentumUpdate([value, acc, gradient, m, c, addend], false, 0).map((x) => Array.from(x.dataSync())));
    const host = update();
    unregisterSparsifyKernels();
    const plain = update();
    registerSparsifyKernels();
    expect(host).toEqual(plain);
    tf.dispose([value, acc, acc0, gradient, addend, m, c]);
  });

  it("run HyperSparse's pass on the helper thread: outputs waited for, the same bits as in place", async () => {
    const { clearHostMemory, hostHelperJobs } = await import('../src/accelerate/host-loops.js');
    const { setHelperThreadEnabled } = await import('../src/index.js');
    const bits = (t: tf.Tensor) => Array.from(new Int32Array(Float32Array.from(t.dataSync()).buffer));
    // Two tensors in TensorFlow (4099 values: a tail of 3), as HyperSparse's gradients op gets them.
    const ws = [tf.add(tf.tensor(values(4099, 5)), 0), tf.add(tf.tensor(values(300, 6), [30, 10]), 0)];
    const pass = () => tf.engine().runKernel('SparsifyHyperSparseGradients', { x0: ws[0], x1: ws[1] }, { s: 3, alpha: 2 }) as tf.Tensor[];
    const read = (helper: boolean, clearFirst: boolean) => {
      setHelperThreadEnabled(helper);
      try {
        return tf.tidy(() => {
          const jobs = hostHelperJobs();
          const outputs = pass();
          expect(hostHelperJobs() - jobs, 'jobs on the helper thread').toBe(helper ? 1 : 0);
          // Clearing the memory under a running job waits for it and hands its outputs over first.
          if (clearFirst) clearHostMemory();
          return outputs.map(bits);
        });
      } finally {
        setHelperThreadEnabled(true);
      }
    };
    const inPlace = read(false, false);
    expect(read(true, false)).toEqual(inPlace);
    expect(read(true, true)).toEqual(inPlace);
    // Outputs disposed unread, then the memory reused: nothing leaks, and the next pass is the same.
    const before = tf.memory().numTensors;
    tf.dispose(pass());
    clearHostMemory();
    expect(tf.memory().numTensors).toBe(before);
    expect(read(true, false)).toEqual(inPlace);
    tf.dispose(ws);
  });

  it('copy a tensor once for the kernels called on it one after another', async () => {
    const { hostCopies } = await import('../src/accelerate/host-loops.js');
    const x = tf.tensor(values(4096, 11), [64, 64]);
    const before = hostCopies();
    tf.tidy(() => void [absSum(x), signLinear(x, tf.scalar(0.5)), ...absAndSquareSums(x)]);
    // x once; the scalar a once.
    expect(hostCopies() - before).toBe(2);
    const y = tf.add(x, 1);
    tf.tidy(() => void absSum(y));
    expect(hostCopies() - before).toBe(3);
    tf.dispose([x, y]);
  });
});
