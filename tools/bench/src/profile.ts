import * as tf from '@tensorflow/tfjs';
import type { Runner } from './runner.js';

/**
 * Where a training step's time goes, per kernel: `tf.profile` over a few steps (each kernel timed by
 * the backend, as it runs), summed by kernel name, beside the steps' wall clock. What the kernels do
 * not account for is the engine's and the layers' JavaScript around them (tape, bookkeeping, tidy).
 */

export interface KernelTime {
  name: string;
  /** Calls per step. */
  calls: number;
  /** Milliseconds per step. */
  ms: number;
}

export interface StepProfile {
  steps: number;
  /** Wall clock per step under the profiler, kernels and everything else. */
  stepMs: number;
  /** Σ of the kernels' times per step. */
  kernelMs: number;
  kernels: KernelTime[];
}

export async function profileSteps(runner: Runner, steps: number): Promise<StepProfile> {
  const byName = new Map<string, KernelTime>();
  let wall = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const info = await tf.profile(() => {
      runner.step(false);
    });
    wall += performance.now() - t0;
    if (runner.error) throw new Error(runner.error);
    for (const k of info.kernels) {
      // `<name>__op` is an op with a custom gradient around the kernels it runs (counted themselves).
      if (k.name.endsWith('__op')) continue;
      const row = byName.get(k.name) ?? { name: k.name, calls: 0, ms: 0 };
      row.calls += 1;
      row.ms += k.kernelTimeMs as number;
      byName.set(k.name, row);
    }
  }
  const kernels = [...byName.values()].map((k) => ({ name: k.name, calls: k.calls / steps, ms: k.ms / steps })).sort((a, b) => b.ms - a.ms);
  return { steps, stepMs: wall / steps, kernelMs: kernels.reduce((s, k) => s + k.ms, 0), kernels };
}
