import * as tf from '@tensorflow/tfjs';
import { Worker, workerData } from 'node:worker_threads';
import { registerWasmTrainingKernels } from '../../../packages/backend/src/kernels/index.js';
import { stats, type Stats } from './measure.js';
import { WORKLOADS, type WorkloadName } from './models.js';

/**
 * Data-parallel training prototype (an avenue to measure, not a library feature): W worker threads,
 * each with its own tfjs engine and wasm backend, compute the gradient of their shard of the batch;
 * the main thread averages the gradients and applies SGD with momentum to the master weights, all in
 * SharedArrayBuffers (no copies between threads). Synchronous: one global step at a time.
 */

interface WorkerInit {
  sparsifyBenchWorker: true;
  workload: WorkloadName;
  rank: number;
  shard: number;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

// control[0]: global step the workers may run; control[1]: workers done with it; control[2]: ready count; control[3]: stop.
const STEP = 0;
const DONE = 1;
const READY = 2;
const STOP = 3;

export function isParallelWorker(): boolean {
  return (workerData as WorkerInit | null)?.sparsifyBenchWorker === true;
}

/** The worker thread's loop. */
export async function runParallelWorker(): Promise<void> {
  const init = workerData as WorkerInit;
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
  const workload = WORKLOADS[init.workload];
  const model = workload.build(1);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const params = new Float32Array(init.params);
  const grads = new Float32Array(init.grads);
  const control = new Int32Array(init.control);
  const total = params.length;
  const x = tf.randomNormal([init.shard, ...workload.inputShape], 0, 1, 'float32', 100 + init.rank);
  const y = tf.oneHot(tf.randomUniform([init.shard], 0, 10, 'int32', 200 + init.rank), 10);
  const gradOffset = init.rank * total;
  Atomics.add(control, READY, 1);
  Atomics.notify(control, READY);
  for (let step = 1; ; step++) {
    while (Atomics.load(control, STEP) < step && Atomics.load(control, STOP) === 0) Atomics.wait(control, STEP, step - 1, 1000);
    if (Atomics.load(control, STOP) !== 0) break;
    tf.tidy(() => {
      let offset = 0;
      for (const v of vars) {
        const n = v.size;
        v.assign(tf.tensor(params.subarray(offset, offset + n), v.shape));
        offset += n;
      }
      const { value, grads: g } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        vars,
      );
      value.dataSync();
      offset = gradOffset;
      for (const v of vars) {
        grads.set(g[v.name].dataSync() as Float32Array, offset);
        offset += v.size;
      }
    });
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
  tf.dispose([x, y]);
  model.dispose();
}

export interface ParallelResult {
  workload: string;
  workers: number;
  batch: number;
  steps: number;
  wallMs: Stats;
  samplesPerSec: number;
  error?: string;
}

/** Runs `steps` synchronous data-parallel steps with `workers` threads on the workload's batch. */
export async function measureParallel(name: WorkloadName, workers: number, warmup: number, steps: number): Promise<ParallelResult> {
  const workload = WORKLOADS[name];
  if (workload.batch % workers !== 0) throw new Error(`batch ${workload.batch} is not divisible by ${workers} workers`);
  // Master weights: the same seeded initialisation the workers build.
  const model = workload.build(1);
  const initial = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  const total = initial.reduce((s, w) => s + w.length, 0);
  const paramsBuf = new SharedArrayBuffer(total * 4);
  const gradsBuf = new SharedArrayBuffer(total * 4 * workers);
  const controlBuf = new SharedArrayBuffer(16);
  const params = new Float32Array(paramsBuf);
  let o = 0;
  for (const w of initial) {
    params.set(w, o);
    o += w.length;
  }
  const grads = new Float32Array(gradsBuf);
  const control = new Int32Array(controlBuf);
  const velocity = new Float32Array(total);
  const lr = 0.01;
  const momentum = 0.9;
  const threads = Array.from(
    { length: workers },
    (_, rank) =>
      new Worker(new URL(import.meta.url), {
        workerData: {
          sparsifyBenchWorker: true,
          workload: name,
          rank,
          shard: workload.batch / workers,
          params: paramsBuf,
          grads: gradsBuf,
          control: controlBuf,
        } satisfies WorkerInit,
      }),
  );
  let failure: string | undefined;
  for (const t of threads) t.on('error', (e) => (failure = e.message));
  let stopping = false;
  threads.forEach((t, rank) =>
    t.on('exit', (code) => {
      if (!stopping) failure ??= `worker ${rank} exited (code ${code})`;
    }),
  );
  // Polls with a timer: a pending Atomics.waitAsync alone does not keep Node's event loop alive.
  const waitFor = async (index: number, target: number) => {
    while (Atomics.load(control, index) < target) {
      if (failure) throw new Error(failure);
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  const times: number[] = [];
  try {
    await waitFor(READY, workers);
    for (let step = 1; step <= warmup + steps; step++) {
      const t0 = performance.now();
      Atomics.store(control, STEP, step);
      Atomics.notify(control, STEP);
      await waitFor(DONE, step * workers);
      // Average the workers' gradients, then SGD with momentum (tfjs's rule: v = m·v + g; θ −= lr·v).
      for (let i = 0; i < total; i++) {
        let g = 0;
        for (let w = 0; w < workers; w++) g += grads[w * total + i];
        const v = momentum * velocity[i] + g / workers;
        velocity[i] = v;
        params[i] -= lr * v;
      }
      if (step > warmup) times.push(performance.now() - t0);
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    stopping = true;
    Atomics.store(control, STOP, 1);
    Atomics.notify(control, STEP);
    await Promise.all(threads.map((t) => t.terminate()));
  }
  const wallMs = stats(times);
  return {
    workload: name,
    workers,
    batch: workload.batch,
    steps: times.length,
    wallMs,
    samplesPerSec: (workload.batch / wallMs.median) * 1000,
    error: failure,
  };
}
