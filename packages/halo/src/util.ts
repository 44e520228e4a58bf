import * as tf from '@tensorflow/tfjs';
import { disposeOptimizer, option, optimizerConfig, optimizerFromConfig, type OptimizerConfig, type OptimizerLike } from '@sparsify/core';

/** HALO's λ optimizer option, parsed: its config (what `getConfig()` records) and the caller's instance, if one was given. */
export interface LambdaOptimizer {
  readonly config: OptimizerConfig;
  readonly instance?: tf.Optimizer;
}

/** The option for λ's optimizer: a `tf.Optimizer` (the caller's), `{ className, config }`, or that JSON text. */
export const lambdaOptimizerOption = option.custom<OptimizerLike, LambdaOptimizer, { description: string }>({
  description:
    'optimizer for λ: default a fresh copy of the model optimizer; in a config {className, config} as tfjs serialises optimizers (or that JSON text), e.g. {"className":"Momentum","config":{"learningRate":0.1,"momentum":0.9}}',
  parse: (value, what) => ({
    config: optimizerConfig(what, value as OptimizerLike),
    ...(value instanceof tf.Optimizer ? { instance: value } : {}),
  }),
  toConfig: (value) => value.config,
});

/**
 * The optimizer a penalty hands to the training step for its λ's: the user's instance (the user owns
 * it), or one built from a config (the penalty owns it and frees it in `dispose()`). Undefined means
 * "a fresh copy of the model's optimizer" (the training step creates and frees it).
 */
export class LambdaOptimizerHolder {
  private built?: tf.Optimizer;

  constructor(private readonly given: LambdaOptimizer | undefined) {}

  /** Created on first use, outside any `tf.tidy` (tfjs optimizers create unkept scalars in their constructors). */
  get optimizer(): tf.Optimizer | undefined {
    if (!this.given) return undefined;
    if (this.given.instance) return this.given.instance;
    this.built ??= optimizerFromConfig(this.given.config);
    return this.built;
  }

  dispose(): void {
    if (this.built) disposeOptimizer(this.built);
    this.built = undefined;
  }
}

let instanceCounter = 0;

/**
 * A variable-name prefix no registered variable uses (tfjs throws on duplicate variable names), e.g.
 * `halo_3`. Checked against the engine, so two copies of this module in one process cannot collide.
 */
export function uniquePrefix(base: string): string {
  const registered = tf.engine().registeredVariables;
  for (;;) {
    const prefix = `${base}_${++instanceCounter}`;
    const taken = Object.keys(registered).some((name) => name === prefix || name.startsWith(`${prefix}/`));
    if (!taken) return prefix;
  }
}

/** Linear-interpolation quantiles of an ascending array (q in [0, 1]). */
export function quantilesOfSorted(sorted: ArrayLike<number>, qs: readonly number[]): number[] {
  const n = sorted.length;
  return qs.map((q) => {
    if (n === 0) return NaN;
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  });
}

/** The quantiles that diagnostics report: min, p05, p50, p95, max. */
export const DIAGNOSTIC_QUANTILES = [0, 0.05, 0.5, 0.95, 1] as const;
export const DIAGNOSTIC_SUFFIXES = ['Min', 'P05', 'P50', 'P95', 'Max'] as const;
