import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { BackendSelectionError, selectBackend, type BackendSelection } from '../src/index.js';
import { wasmThreadsUnsupported } from '../src/wasm-threads.js';
import { FUSED_KERNELS, applyGradients, disposeOptimizer, runLoopKernel, startLoopKernel, type LoopKernel } from '@sparsify/core';
import { expectLoopMatchesComposite } from '../../../tools/testing/loop-kernels.js';
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

  it("runs sparsify's WebAssembly SIMD loop kernels on the threaded build's shared memory", () => {
    const x = () => tf.tensor2d(Array.from({ length: 7 * 9 }, (_, i) => (i % 5 === 0 ? 0 : Math.sin(i))), [7, 9]);
    expectLoopMatchesComposite(FUSED_KERNELS.absAndSquareSums, () => [x()], {}, 2e-5);
    expectLoopMatchesComposite(FUSED_KERNELS.signLinear, () => [x(), tf.scalar(-0.5), tf.scalar(2), tf.scalar(0.25)], {});
    expectLoopMatchesComposite(FUSED_KERNELS.groupSquareSums, () => [x()], {}, 2e-5);
    expectLoopMatchesComposite(FUSED_KERNELS.groupScale, () => [x(), tf.linspace(-1, 1, 7) as tf.Tensor1D, tf.linspace(0, 2, 9) as tf.Tensor1D], {});
  });

  it("runs the fused momentum update on the shared memory as on cpu, bit for bit (both addend forms, blocks and a tail)", async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const shape = [37, 29]; // 1073 values: one whole block of 1024, then vectors, then a tail of 1
      const [v, w] = [3, 4].map((seed) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', seed), true, `threads_momentum_${backend}_${seed}`));
      const optimizer = tf.train.momentum(0.1, 0.9, true);
      for (let i = 0; i < 3; i++) {
        tf.tidy(() => {
          const g = (seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
          applyGradients(optimizer, { [v.name]: g(10 + i), [w.name]: g(20 + i) }, {
            [v.name]: { variable: v, a: tf.scalar(0.01), b: tf.scalar(-0.02) },
            [w.name]: { variable: w, tensor: g(30 + i), scale: tf.scalar(0.3) },
          });
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

describe("core's helper thread on the shared memory (startLoopKernel)", () => {
  const x = () => tf.tensor2d(Array.from({ length: 7 * 9 }, (_, i) => (i % 5 === 0 ? 0 : Math.sin(i))), [7, 9]);
  const bits = (ts: tf.Tensor[]) => ts.map((t) => Array.from(new Int32Array((t.dataSync() as Float32Array).slice().buffer)));

  it('runs a loop kernel on the worker: the same bits as in place, two jobs started before either is joined', async () => {
    await tf.setBackend('wasm');
    const inputs = [x(), tf.scalar(-0.5), tf.scalar(2), tf.scalar(0.25)];
    const other = [tf.neg(inputs[0]), ...inputs.slice(1)];
    const first = startLoopKernel(FUSED_KERNELS.signLinear, inputs, {});
    const second = startLoopKernel(FUSED_KERNELS.signLinear, other, {});
    expect(first && second).toBeDefined();
    const [a, b] = [second!.join(), first!.join()];
    const [refA, refB] = [runLoopKernel(FUSED_KERNELS.signLinear, other, {}), runLoopKernel(FUSED_KERNELS.signLinear, inputs, {})];
    expect(bits(a)).toEqual(bits(refA));
    expect(bits(b)).toEqual(bits(refB));
    expect(() => first!.join()).toThrow('SparsifySignLinear: join() called twice');
    tf.dispose([...inputs, ...other, ...a, ...b, ...refA, ...refB]);
  });

  it("reports a kernel's failure at join, naming it, and runs the next job", async () => {
    await tf.setBackend('wasm');
    const broken: LoopKernel = { ...FUSED_KERNELS.signLinear, name: 'Broken', simd: { ...FUSED_KERNELS.signLinear.simd!, call: (e) => e.noSuchExport(1) } };
    const inputs = [x(), tf.scalar(1), tf.scalar(1), tf.scalar(1)];
    const before = tf.memory().numTensors;
    expect(() => startLoopKernel(broken, inputs, {})!.join()).toThrow(/^Broken failed on the helper thread: Error: packages\/core\/src\/fused.wat has no export noSuchExport/);
    expect(tf.memory().numTensors).toBe(before); // its outputs freed
    const out = startLoopKernel(FUSED_KERNELS.signLinear, inputs, {})!.join();
    const ref = runLoopKernel(FUSED_KERNELS.signLinear, inputs, {});
    expect(bits(out)).toEqual(bits(ref));
    tf.dispose([...inputs, ...out, ...ref]);
  });

  it('declines on the cpu backend, and leaves nothing that keeps the process alive', async () => {
    await tf.setBackend('cpu');
    const input = x();
    expect(startLoopKernel(FUSED_KERNELS.signLinear, [input, tf.scalar(1), tf.scalar(1), tf.scalar(1)], {})).toBeUndefined();
    input.dispose();
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
