import * as tf from '@tensorflow/tfjs';
import type { Config } from './configs.js';
import type { Workload } from './models.js';
import { Runner } from './runner.js';

export interface MemoryPoint {
  step: number;
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  numTensors: number;
  numDataBuffers: number;
  tfBytesMB: number;
  wasmHeapMB?: number;
}

export interface MemoryResult {
  workload: string;
  config: Config['id'];
  steps: number;
  start: MemoryPoint;
  end: MemoryPoint;
  peak: { rssMB: number; heapUsedMB: number; numTensors: number; wasmHeapMB?: number };
  /** Tensors alive after the run minus before (0: no leak). */
  tensorGrowth: number;
}

const MB = 1024 * 1024;

function wasmHeapMB(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8 ? backend.wasm.HEAPU8.byteLength / MB : undefined;
}

function point(step: number): MemoryPoint {
  const m = process.memoryUsage();
  const t = tf.memory();
  return {
    step,
    rssMB: m.rss / MB,
    heapUsedMB: m.heapUsed / MB,
    externalMB: m.external / MB,
    numTensors: t.numTensors,
    numDataBuffers: t.numDataBuffers,
    tfBytesMB: t.numBytes / MB,
    wasmHeapMB: wasmHeapMB(),
  };
}

/** A long training run: memory and live tensors sampled every `every` steps. */
export function longRun(workload: Workload, config: Config, steps: number, every: number): MemoryResult {
  const runner = new Runner(workload, config);
  runner.step(false); // optimizer slots are created on the first step
  const start = point(0);
  const peak = { rssMB: start.rssMB, heapUsedMB: start.heapUsedMB, numTensors: start.numTensors, wasmHeapMB: start.wasmHeapMB };
  let last = start;
  for (let i = 1; i <= steps; i++) {
    if (!runner.step(false)) throw new Error(`${config.label} cannot train ${workload.label}: ${runner.error}`);
    if (i % every === 0 || i === steps) {
      last = point(i);
      peak.rssMB = Math.max(peak.rssMB, last.rssMB);
      peak.heapUsedMB = Math.max(peak.heapUsedMB, last.heapUsedMB);
      peak.numTensors = Math.max(peak.numTensors, last.numTensors);
      if (last.wasmHeapMB != null) peak.wasmHeapMB = Math.max(peak.wasmHeapMB ?? 0, last.wasmHeapMB);
    }
  }
  runner.dispose();
  return { workload: workload.name, config: config.id, steps, start, end: last, peak, tensorGrowth: last.numTensors - start.numTensors };
}
