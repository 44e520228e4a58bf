import { setHelperThreadEnabled } from '@sparsify/backend/node';
import type { Penalty } from '@sparsify/core';
import { activate, type Config } from './configs.js';
import { summarize } from './measure.js';
import type { Workload } from './models.js';
import { interleave, Runner } from './runner.js';

/** A penalty the bench knows how to build, from a package written elsewhere in the workspace. */
export interface PenaltySpec {
  readonly id: string;
  readonly pkg: string;
  /** Exported factory names to try, in order. */
  readonly factories: readonly string[];
  readonly options: Record<string, unknown>;
}

export const PENALTIES: readonly PenaltySpec[] = [
  { id: 'lasso', pkg: '@sparsify/adaptive-lasso', factories: ['lasso', 'adaptiveLasso'], options: { strength: 1e-4 } },
  { id: 'hoyerSquare', pkg: '@sparsify/hoyer', factories: ['hoyerSquare'], options: { strength: 1e-4 } },
  { id: 'groupHoyerSquare', pkg: '@sparsify/hoyer', factories: ['groupHoyerSquare'], options: { strength: 1e-4 } },
  { id: 'halo', pkg: '@sparsify/halo', factories: ['halo'], options: { strength: 1e-4, xi: 1e-8, psi: 1 } },
  { id: 'hyperSparse', pkg: '@sparsify/hypersparse', factories: ['hyperSparse'], options: { strength: 1e-4, sparsity: 0.9 } },
];

export type PenaltyFactory = () => Penalty;

/**
 * Imports each penalty package (a variable specifier: the bundler must not resolve it at build time)
 * and returns a factory per penalty, or why it is skipped (not installed / not built / no factory).
 */
export async function loadPenalties(): Promise<{ available: Map<string, PenaltyFactory>; skipped: Map<string, string> }> {
  const available = new Map<string, PenaltyFactory>();
  const skipped = new Map<string, string>();
  const modules = new Map<string, Record<string, unknown> | string>();
  for (const spec of PENALTIES) {
    if (!modules.has(spec.pkg)) {
      try {
        const specifier = spec.pkg;
        modules.set(spec.pkg, (await import(specifier)) as Record<string, unknown>);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        modules.set(
          spec.pkg,
          /Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(message)
            ? 'not built or not installed (npm run build)'
            : message.split('\n')[0],
        );
      }
    }
    const mod = modules.get(spec.pkg)!;
    if (typeof mod === 'string') {
      skipped.set(spec.id, `${spec.pkg}: ${mod}`);
      continue;
    }
    const name = spec.factories.find((f) => typeof mod[f] === 'function');
    if (!name) {
      skipped.set(spec.id, `${spec.pkg} exports none of ${spec.factories.join(', ')}`);
      continue;
    }
    const factory = mod[name] as (options: Record<string, unknown>) => Penalty;
    try {
      factory(spec.options).dispose();
      available.set(spec.id, () => factory(spec.options));
    } catch (e) {
      skipped.set(
        spec.id,
        `${spec.pkg}.${name}(${JSON.stringify(spec.options)}) failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`,
      );
    }
  }
  return { available, skipped };
}

export interface PenaltyOverheadRow {
  backend: string;
  workload: string;
  penalty: string;
  /** Which time the medians are: process CPU (robust to other load) or wall (threads add up in CPU time). */
  clock: 'cpu' | 'wall';
  baseMs: number;
  withMs: number;
  ratio: number;
  error?: string;
}

/**
 * Steps without and with each penalty, interleaved round by round; median step time of each, and as
 * the ratio the median of the per-round ratios (each with-step over the base step of the same round,
 * a few steps apart), which cancels the machine's speed drifting during the run.
 */
export function measurePenaltyOverhead(
  w: Workload,
  c: Config,
  steps: number,
  available: Map<string, PenaltyFactory>,
  clock: 'cpu' | 'wall',
  backend: string = c.id,
  /** Penalties measured a second time with the accelerator's helper thread off (`<id>, in place`): side by side. */
  inPlace: readonly string[] = [],
): PenaltyOverheadRow[] {
  const rows: PenaltyOverheadRow[] = [];
  const failed = (penalty: string, baseMs: number, error: string): PenaltyOverheadRow => ({
    backend,
    workload: w.name,
    penalty,
    clock,
    baseMs,
    withMs: NaN,
    ratio: NaN,
    error,
  });
  // The switch is global: every runner sets it before its step.
  const helperOn = () => setHelperThreadEnabled(true);
  const base = new Runner(w, c, { label: 'none', beforeStep: helperOn });
  const withPenalty: Runner[] = [];
  const variants = [...available].flatMap(([id, make]) => [
    { label: id, make, beforeStep: helperOn },
    ...(inPlace.includes(id) ? [{ label: `${id}, in place`, make, beforeStep: () => setHelperThreadEnabled(false) }] : []),
  ]);
  for (const { label, make, beforeStep } of variants) {
    activate(c);
    try {
      withPenalty.push(new Runner(w, c, { label, penalties: [make()], beforeStep }));
    } catch (e) {
      rows.push(failed(label, NaN, String(e).split('\n')[0]));
    }
  }
  const runners = [base, ...withPenalty];
  interleave(runners, 3, steps); // 3 warm-up rounds: the JIT compiles the JS kernels' loops
  const median = (r: Runner) => summarize(r.samples)[clock].median;
  const ms = (r: Runner, i: number) => (clock === 'cpu' ? r.samples[i].cpuMs : r.samples[i].wallMs);
  const baseMs = median(base);
  for (const r of withPenalty) {
    if (r.error) {
      rows.push(failed(r.label, baseMs, r.error));
      continue;
    }
    const ratios = r.samples.map((_, i) => ms(r, i) / ms(base, i)).sort((a, b) => a - b);
    const ratio = ratios[Math.floor(ratios.length / 2)];
    rows.push({ backend, workload: w.name, penalty: r.label, clock, baseMs, withMs: median(r), ratio });
  }
  for (const r of runners) r.dispose();
  helperOn();
  return rows;
}
