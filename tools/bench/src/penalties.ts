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
  /** How `ratio`, `baseMs` and `withMs` come from the rounds (PenaltyOverheadOptions). */
  estimator?: 'median' | 'min';
  rounds?: number;
  baseMs: number;
  withMs: number;
  ratio: number;
  /** The other estimator's ratio, beside it: where the two disagree, the machine was noisy. */
  medianRatio?: number;
  minRatio?: number;
  error?: string;
}

export interface PenaltyOverheadOptions {
  /** Overrides the clock argument. */
  clock?: 'cpu' | 'wall';
  /**
   * `median` (default): the median of per-round ratios, for many short steps. `min`: the fastest step
   * with over the fastest without, for few long steps on a loaded machine, where other processes only
   * ever slow a step down and the minimum is the step's own cost.
   */
  estimator?: 'median' | 'min';
  /** Also step a second runner without a penalty (row `none (control)`): the estimate's resolution. */
  control?: boolean;
}

/** The label of the control runner's row. */
const CONTROL = 'none (control)';

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
  options: PenaltyOverheadOptions = {},
): PenaltyOverheadRow[] {
  clock = options.clock ?? clock;
  const estimator = options.estimator ?? 'median';
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
  // With the min estimator, a second runner without a penalty: its "overhead" is the measurement's own
  // error (order effects, a runner's memory placement), the resolution the other rows have.
  const withPenalty: Runner[] = options.control ? [new Runner(w, c, { label: CONTROL, beforeStep: helperOn })] : [];
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
  const typical = (r: Runner) => summarize(r.samples)[clock][estimator === 'min' ? 'min' : 'median'];
  const ms = (r: Runner, i: number) => (clock === 'cpu' ? r.samples[i].cpuMs : r.samples[i].wallMs);
  const baseMs = typical(base);
  for (const r of withPenalty) {
    if (r.error) {
      rows.push(failed(r.label, baseMs, r.error));
      continue;
    }
    const ratios = r.samples.map((_, i) => ms(r, i) / ms(base, i)).sort((a, b) => a - b);
    const medianRatio = ratios[Math.floor(ratios.length / 2)];
    const minRatio = summarize(r.samples)[clock].min / summarize(base.samples)[clock].min;
    rows.push({
      backend,
      workload: w.name,
      penalty: r.label,
      clock,
      estimator,
      rounds: r.samples.length,
      baseMs,
      withMs: typical(r),
      ratio: estimator === 'min' ? minRatio : medianRatio,
      medianRatio,
      minRatio,
    });
  }
  for (const r of runners) r.dispose();
  helperOn();
  return rows;
}
