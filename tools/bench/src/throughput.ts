import { CONFIGS, type Config } from './configs.js';
import { summarize, type Timing } from './measure.js';
import type { Workload } from './models.js';
import { Runner } from './runner.js';

export interface ThroughputResult {
  workload: string;
  batch: number;
  config: Config['id'];
  label: string;
  steps: number;
  timing?: Timing;
  /** Samples per second from the median wall-clock step. */
  samplesPerSec?: number;
  /** Samples per second from the median process-CPU step time (what an idle machine would show). */
  samplesPerSecCpu?: number;
  error?: string;
}

export interface ThroughputPlan {
  warmup: number;
  steps: number;
  /**
   * Fewer steps for slow configurations (cpu conv backprop is seconds per step). `separate`: run after
   * the others instead of interleaved (a 40-second cpu step leaves garbage that would slow the next
   * interleaved steps of the other configurations).
   */
  stepsFor?: (config: Config, workload: Workload) => { warmup: number; steps: number; separate?: boolean };
}

/**
 * Runs the configurations side by side, interleaved step by step with the order rotated every round
 * (so load from other processes hits all of them alike), and returns one result per configuration.
 */
export function measureThroughput(
  workload: Workload,
  configs: Config[],
  plan: ThroughputPlan,
  log: (s: string) => void,
): ThroughputResult[] {
  const runners = configs.map((c) => new Runner(workload, c));
  const budget = new Map(runners.map((r) => [r, plan.stepsFor?.(r.config, workload) ?? { warmup: plan.warmup, steps: plan.steps }]));
  const together = runners.filter((r) => !budget.get(r)!.separate);
  const maxWarmup = Math.max(0, ...together.map((r) => budget.get(r)!.warmup));
  for (let i = 0; i < maxWarmup; i++) {
    for (const r of together) if (i < budget.get(r)!.warmup) r.step(false);
  }
  const maxSteps = Math.max(0, ...together.map((r) => budget.get(r)!.steps));
  for (let i = 0; i < maxSteps; i++) {
    for (let j = 0; j < together.length; j++) {
      const r = together[(i + j) % together.length];
      if (i < budget.get(r)!.steps) r.step();
    }
    if ((i + 1) % 5 === 0) log(`  ${workload.label}: ${i + 1}/${maxSteps} rounds`);
  }
  for (const r of runners.filter((o) => budget.get(o)!.separate)) {
    const { warmup, steps } = budget.get(r)!;
    log(`  ${workload.label}: ${steps} step(s) on ${r.config.label}…`);
    for (let i = 0; i < warmup; i++) r.step(false);
    for (let i = 0; i < steps; i++) r.step();
  }
  const results = runners.map((r): ThroughputResult => {
    const base = { workload: workload.name, batch: workload.batch, config: r.config.id, label: r.config.label, steps: r.samples.length };
    if (r.error || r.samples.length === 0) return { ...base, error: r.error ?? 'no steps measured' };
    const timing = summarize(r.samples);
    return {
      ...base,
      timing,
      samplesPerSec: (workload.batch / timing.wall.median) * 1000,
      samplesPerSecCpu: (workload.batch / timing.cpu.median) * 1000,
    };
  });
  for (const r of runners) r.dispose();
  return results;
}

export { CONFIGS };
