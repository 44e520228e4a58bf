import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { BackendSelectionError, selectBackend, type BackendSelection } from '../src/index.node.js';
import { wasmThreadsUnsupported } from '../src/wasm-threads.js';
import { absAndSquareSums, applyGradients, disposeOptimizer, groupScale, groupSquareSums, PASS_KERNELS, signLinear } from '@sparsify/core';
import { registerLoopKernels, type LoopKernel } from '../src/index.node.js';
import { PASS_LOOP_KERNELS } from '../src/accelerate/passes.js';
import { expectKernelMatchesPlain } from '../../../tools/testing/kernels.js';
import { trainingSuite } from './training-suite.js';

/**
 * The threaded wasm build in Node. The thread count is fixed when wasm first starts in a process, so
 * this file (its own process) starts it with 2 threads and runs the whole training suite on it.
 */

const before = { Blob: globalThis.Blob, createObjectURL: URL.createObjectURL, cpus: os.cpus, hasWorker: 'Worker' in globalThis };
let selection: BackendSelection | undefined;

trainingSuite('wasm', '2 threads', async () => {
  selection = await selectBackend({ prefer: 'wasm', env: {}, wasmThreads: 2 });
});

describe('wasmThreads: 2', () => {
  it('runs XNNPACK on 2 threads and says so', () => {
    expect(selection?.backend).toBe('wasm');
    expect(selection?.wasmThreads).toBe(2);
    expect(selection?.reason).toBe('backend wasm (2 threads): explicit choice');
    expect(getThreadsCount()).toBe(2);
  });

  it('restores every global it patched while the module started', () => {
    expect(globalThis.Blob).toBe(before.Blob);
    expect(URL.createObjectURL).toBe(before.createObjectURL);
    expect(os.cpus).toBe(before.cpus);
    expect('Worker' in globalThis).toBe(before.hasWorker);
  });

  it('leaves nothing that keeps the process alive (the pool threads are unref’d)', () => {
    const holding = process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker');
    expect(holding).toEqual([]);
  });

  it('a second selection cannot change the thread count, and says why', async () => {
    await expect(selectBackend({ prefer: 'wasm', env: {}, wasmThreads: 1 })).rejects.toThrow(
      '1 wasm threads were asked for, but the wasm backend already runs with 2 in this process (threads are fixed when it first starts)',
    );
    expect((await selectBackend({ prefer: 'wasm', env: {} })).wasmThreads).toBe(2);
    await tf.setBackend('cpu');
  });

  it("runs sparsify's WebAssembly SIMD loop kernels on the threaded build's shared memory", async () => {
    await tf.setBackend('wasm');
    const x = () =>
      tf.tensor2d(
        Array.from({ length: 7 * 9 }, (_, i) => (i % 5 === 0 ? 0 : Math.sin(i))),
        [7, 9],
      );
    expectKernelMatchesPlain(PASS_KERNELS.absAndSquareSums, () => absAndSquareSums(x()), 2e-5);
    expectKernelMatchesPlain(PASS_KERNELS.signLinear, () => [signLinear(x(), tf.scalar(-0.5), tf.scalar(2), tf.scalar(0.25))]);
    expectKernelMatchesPlain(PASS_KERNELS.groupSquareSums, () => groupSquareSums(x()), 2e-5);
    expectKernelMatchesPlain(PASS_KERNELS.groupScale, () => [
      groupScale(x(), tf.linspace(-1, 1, 7) as tf.Tensor1D, tf.linspace(0, 2, 9) as tf.Tensor1D),
    ]);
    await tf.setBackend('cpu');
  });

  it('runs the momentum update kernel on the shared memory as on cpu, bit for bit (with and without an addend, with decay, blocks and a tail)', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const shape = [37, 29]; // 1073 values: one whole block of 1024, then vectors, then a tail of 1
      const [v, w] = [3, 4].map((seed) =>
        tf.variable(tf.randomNormal(shape, 0, 1, 'float32', seed), true, `threads_momentum_${backend}_${seed}`),
      );
      const optimizer = tf.train.momentum(0.1, 0.9, true);
      for (let i = 0; i < 3; i++) {
        tf.tidy(() => {
          const g = (seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
          applyGradients(
            optimizer,
            { [v.name]: g(10 + i), [w.name]: g(20 + i) },
            { addends: { [w.name]: g(30 + i) }, decay: { [v.name]: 1e-3, [w.name]: 2e-4 } },
          );
        });
      }
      const out = [v, w].map((x) => Array.from(new Int32Array((x.dataSync() as Float32Array).slice().buffer)));
      disposeOptimizer(optimizer);
      tf.dispose([v, w]);
      return out;
    };
    const cpu = await run('cpu');
    expect(await run('wasm')).toEqual(cpu);
    await tf.setBackend('cpu');
  });

  it('a matMul big enough to be split over the threads equals the cpu backend', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const a = tf.randomNormal([96, 300], 0, 1, 'float32', 1);
      const b = tf.randomNormal([300, 200], 0, 1, 'float32', 2);
      const c = tf.matMul(a, b);
      const out = await c.data();
      tf.dispose([a, b, c]);
      return out;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    let worst = 0;
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - wasm[i]));
    expect(worst).toBeLessThan(1e-3);
    await tf.setBackend('cpu');
  });
});

describe('the helper thread on the shared memory', () => {
  const x = () =>
    tf.tensor2d(
      Array.from({ length: 7 * 9 }, (_, i) => (i % 5 === 0 ? 0 : Math.sin(i))),
      [7, 9],
    );
  const bits = (t: tf.Tensor) => Array.from(new Int32Array((t.dataSync() as Float32Array).slice().buffer));
  const signLinearKernel = PASS_LOOP_KERNELS.find((k) => k.name === PASS_KERNELS.signLinear)!;
  /** signLinear as a kernel that may run off the main thread. */
  const offThread = (call = signLinearKernel.simd!.call): LoopKernel<object> => ({
    ...signLinearKernel,
    simd: { ...signLinearKernel.simd!, call, offThread: true },
  });
  const afterwards = () => registerLoopKernels([signLinearKernel]);

  it('runs a kernel on the worker: the same bits as in place, two jobs started before either is read', async () => {
    await tf.setBackend('wasm');
    const inputs = [x(), tf.scalar(-0.5), tf.scalar(2), tf.scalar(0.25)];
    const reference = [
      bits(signLinear(inputs[0], inputs[1], inputs[2], inputs[3])),
      bits(signLinear(tf.neg(inputs[0]), inputs[1], inputs[2], inputs[3])),
    ];
    registerLoopKernels([offThread()]);
    try {
      const first = signLinear(inputs[0], inputs[1], inputs[2], inputs[3]);
      const second = signLinear(tf.neg(inputs[0]), inputs[1], inputs[2], inputs[3]);
      expect([bits(second), bits(first)]).toEqual([reference[1], reference[0]]);
      tf.dispose([first, second]);
    } finally {
      afterwards();
    }
    tf.dispose(inputs);
  });

  it('frees a job’s inputs only once the worker is done reading them', async () => {
    await tf.setBackend('wasm');
    const n = 1 << 22;
    const coefficients = [tf.scalar(-0.5), tf.scalar(2), tf.scalar(0.25)] as const;
    const input = tf.tidy(() => tf.sin(tf.range(0, n, 1, 'float32')));
    const reference = signLinear(input, ...coefficients);
    registerLoopKernels([offThread()]);
    try {
      const out = signLinear(input, ...coefficients);
      // Freed while the worker may still be reading it, and at once reused and written by this thread.
      input.dispose();
      const reuse = tf.fill([n], 7);
      const [got, want] = [out.dataSync(), reference.dataSync()];
      let differing = 0;
      for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) differing++;
      expect(differing).toBe(0);
      tf.dispose([out, reuse]);
    } finally {
      afterwards();
    }
    tf.dispose([reference, ...coefficients]);
  });

  it("reports a kernel's failure at the first use of its outputs, naming it, and runs the next job", async () => {
    await tf.setBackend('wasm');
    const inputs = [x(), tf.scalar(1), tf.scalar(1), tf.scalar(1)];
    const reference = bits(signLinear(inputs[0], inputs[1], inputs[2], inputs[3]));
    registerLoopKernels([offThread((e) => void e.noSuchExport(1))]);
    try {
      const out = signLinear(inputs[0], inputs[1], inputs[2], inputs[3]);
      expect(() => out.dataSync()).toThrow(
        /^SparsifySignLinear failed on the helper thread: Error: packages\/backend\/src\/accelerate\/passes.wat has no export noSuchExport/,
      );
      out.dispose();
      registerLoopKernels([offThread()]);
      expect(bits(tf.tidy(() => signLinear(inputs[0], inputs[1], inputs[2], inputs[3])))).toEqual(reference);
    } finally {
      afterwards();
    }
    tf.dispose(inputs);
  });

  it('is not used on the cpu backend, and leaves nothing that keeps the process alive', async () => {
    await tf.setBackend('cpu');
    registerLoopKernels([offThread()]);
    try {
      const input = x();
      expect(bits(tf.tidy(() => signLinear(input, tf.scalar(1), tf.scalar(1))))).toHaveLength(63);
      input.dispose();
    } finally {
      afterwards();
    }
    const holding = process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker');
    expect(holding).toEqual([]);
  });
});

describe('when threads cannot be had', () => {
  it('names the reason: another tfjs-backend-wasm version, no setThreadsCount', () => {
    expect(wasmThreadsUnsupported({ version_wasm: '4.21.0', setThreadsCount: () => {} })).toBe(
      'tfjs-backend-wasm 4.21.0 is not 4.22.0, the version this workaround was written for',
    );
    expect(wasmThreadsUnsupported({ version_wasm: '4.22.0' })).toBe('tfjs-backend-wasm has no setThreadsCount');
    expect(wasmThreadsUnsupported({ version_wasm: '4.22.0', setThreadsCount: () => {} })).toBeUndefined();
  });

  it('rejects counts outside 1–8, from the option or SPARSIFY_WASM_THREADS, before starting anything', async () => {
    for (const bad of [0, 9, 1.5]) {
      await expect(selectBackend({ prefer: 'cpu', env: {}, wasmThreads: bad })).rejects.toThrow(
        `wasmThreads must be "auto" or an integer from 1 to 8; got ${bad}`,
      );
    }
    await expect(selectBackend({ prefer: 'cpu', env: { SPARSIFY_WASM_THREADS: 'two' } })).rejects.toThrow(BackendSelectionError);
    await expect(selectBackend({ prefer: 'cpu', env: { SPARSIFY_WASM_THREADS: 'two' } })).rejects.toThrow(
      'SPARSIFY_WASM_THREADS must be "auto" or an integer from 1 to 8; got "two"',
    );
  });
});
