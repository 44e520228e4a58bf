import { setFlagsFromString } from 'node:v8';
import { relaxedSimdSupported, setRelaxedSimd } from '../../../packages/backend/src/accelerate/loop-kernels.js';
import { CONFIGS } from './configs.js';
import { summarize, type Timing } from './measure.js';
import type { Workload } from './models.js';
import { interleave, Runner } from './runner.js';

/**
 * Relaxed SIMD against plain SIMD: the direct conv loops (`conv2d.wat`, `filter-grad.wat`) have a
 * variant with `f32x4.relaxed_madd`, which runs where the runtime compiles relaxed SIMD. Node 20 needs
 * `--experimental-wasm-relaxed-simd`; the bench sets that flag before any kernel module is compiled
 * (`enableRelaxedSimd`), then steps the same workload with the relaxed modules and with the plain ones,
 * interleaved step by step on single-threaded wasm (process CPU time).
 */

/** Turns on V8's relaxed-SIMD flag where this Node does not have it on by default; whether it compiles now. */
export function enableRelaxedSimd(): boolean {
  if (!relaxedSimdSupported()) setFlagsFromString('--experimental-wasm-relaxed-simd');
  return relaxedSimdSupported(true);
}

export interface RelaxedRow {
  workload: string;
  variant: 'plain SIMD' | 'relaxed SIMD';
  timing?: Timing;
  /** Minimum and median CPU step of this variant over the plain one's. */
  minRatio?: number;
  medianRatio?: number;
  error?: string;
}

export function measureRelaxed(workloads: Workload[], warmup: number, rounds: number, log: (s: string) => void): RelaxedRow[] {
  const rows: RelaxedRow[] = [];
  for (const w of workloads) {
    log(`relaxed SIMD: ${w.label}, ${rounds} rounds…`);
    const runners = [false, true].map(
      (on) => new Runner(w, CONFIGS.wasm, { label: on ? 'relaxed SIMD' : 'plain SIMD', beforeStep: () => setRelaxedSimd(on) }),
    );
    interleave(runners, warmup, rounds);
    const [plain] = runners.map((r) => summarize(r.samples));
    for (const r of runners) {
      const timing = summarize(r.samples);
      rows.push({
        workload: w.name,
        variant: r.label as RelaxedRow['variant'],
        timing,
        minRatio: timing.cpu.min / plain.cpu.min,
        medianRatio: timing.cpu.median / plain.cpu.median,
        ...(r.error ? { error: r.error } : {}),
      });
      r.dispose();
    }
    setRelaxedSimd(true);
  }
  return rows;
}
