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
  /** Process CPU seconds so far (user + system). */
  cpuSec?: number;
}

export interface MemoryResult {
  workload: string;
  config: Config['id'];
  /** The engine's label where it ran in an engine child (e.g. `wasm + sparsify, 2 threads`). */
  engine?: string;
  batch?: number;
  steps: number;
  start: MemoryPoint;
  end: MemoryPoint;
  /** Every sample, start to end. */
  points?: MemoryPoint[];
  peak: { rssMB: number; heapUsedMB: number; numTensors: number; wasmHeapMB?: number };
  /** The process's peak resident memory over the whole run (getrusage maxRSS), MB. */
  maxRssMB?: number;
  /** Tensors alive after the run minus before (0: no leak). */
  tensorGrowth: number;
  wallSec?: number;
}

const MB = 1024 * 1024;

function wasmHeapMB(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8 ? backend.wasm.HEAPU8.byteLength / MB : undefined;
}

function point(step: number): MemoryPoint {
  const m = process.memoryUsage();
  const t = tf.memory();
  const cpu = process.cpuUsage();
  return {
    step,
    rssMB: m.rss / MB,
    heapUsedMB: m.heapUsed / MB,
    externalMB: m.external / MB,
    numTensors: t.numTensors,
    numDataBuffers: t.numDataBuffers,
    tfBytesMB: t.numBytes / MB,
    wasmHeapMB: wasmHeapMB(),
    cpuSec: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * A long training run: memory, live tensors and the wasm heap sampled every `every` steps (after the
 * first step, which creates the optimizer's slots). `onPoint` sees each sample as it is taken.
 */
export function longRun(
  workload: Workload,
  config: Config,
  steps: number,
  every: number,
  onPoint?: (p: MemoryPoint) => void,
  runner: Runner = new Runner(workload, config),
): MemoryResult {
  const t0 = performance.now();
  runner.step(false); // optimizer slots are created on the first step
  const start = point(0);
  onPoint?.(start);
  const points = [start];
  const peak = { rssMB: start.rssMB, heapUsedMB: start.heapUsedMB, numTensors: start.numTensors, wasmHeapMB: start.wasmHeapMB };
  let last = start;
  for (let i = 1; i <= steps; i++) {
    if (!runner.step(false)) throw new Error(`${config.label} cannot train ${workload.label}: ${runner.error}`);
    if (i % every === 0 || i === steps) {
      last = point(i);
      points.push(last);
      onPoint?.(last);
      peak.rssMB = Math.max(peak.rssMB, last.rssMB);
      peak.heapUsedMB = Math.max(peak.heapUsedMB, last.heapUsedMB);
      peak.numTensors = Math.max(peak.numTensors, last.numTensors);
      if (last.wasmHeapMB != null) peak.wasmHeapMB = Math.max(peak.wasmHeapMB ?? 0, last.wasmHeapMB);
    }
  }
  runner.dispose();
  return {
    workload: workload.name,
    config: config.id,
    batch: workload.batch,
    steps,
    start,
    end: last,
    points,
    peak,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    tensorGrowth: last.numTensors - start.numTensors,
    wallSec: (performance.now() - t0) / 1000,
  };
}

/** The sample nearest the middle of the run. */
export const middlePoint = (r: MemoryResult): MemoryPoint | undefined =>
  r.points?.reduce((best, p) => (Math.abs(p.step - r.steps / 2) < Math.abs(best.step - r.steps / 2) ? p : best));
