import { SparsifyConfigError } from '../errors.js';
import type { ThresholdRule } from '../magnitude.js';
import type { PruningScope } from './scores.js';

/** How a target sparsity becomes a mask: one ranking over all the params or one per param, and the threshold rule. */
export interface PruningDefaults {
  readonly scope: PruningScope;
  readonly rule: ThresholdRule;
}

/**
 * The one default of every entry point that prunes by a ranking (core's `pruneByMagnitude` and
 * `computePruningMasks`, `Pruner`, the layers API, `@sparsify/train`, the CLI): one global ranking and
 * the strict quantile, the references' procedure (docs/defaults.md, "Pruning"). A method that needs
 * another states it itself (`Penalty.pruning`, a method description's `scope`/`rule`), never an entry point.
 */
export const DEFAULT_PRUNING: PruningDefaults = Object.freeze({ scope: 'global', rule: 'quantile' });

/**
 * `lnStructured` states its own: one exact-count ranking per kernel. Group norms of different kernels
 * are not comparable (they grow with the group size), and a kernel has few groups, where the quantile's
 * one extra pruned group matters (torch's `ln_structured` counts exactly too).
 */
export const LN_STRUCTURED_PRUNING: PruningDefaults = Object.freeze({ scope: 'layer', rule: 'exactCount' });

/**
 * The pruning defaults for a model trained with `penalties`: `DEFAULT_PRUNING`, overridden by what the
 * penalties state (`Penalty.pruning`, e.g. HALO's `quantileNonZero`), overridden by `explicit`. Two
 * penalties that state different values are an error naming both.
 */
export function resolvePruningDefaults(
  penalties: readonly { readonly name: string; readonly pruning?: Partial<PruningDefaults> }[],
  explicit: Partial<PruningDefaults> = {},
): PruningDefaults {
  const stated: { scope?: [PruningScope, string]; rule?: [ThresholdRule, string] } = {};
  for (const p of penalties) {
    for (const key of ['scope', 'rule'] as const) {
      const value = p.pruning?.[key];
      if (value === undefined) continue;
      const before = stated[key];
      if (before && before[0] !== value) {
        throw new SparsifyConfigError(
          `penalties ${JSON.stringify(before[1])} and ${JSON.stringify(p.name)} state different pruning ${key}s (${JSON.stringify(before[0])}, ${JSON.stringify(value)}); give the ${key} explicitly`,
        );
      }
      (stated as Record<string, [string, string]>)[key] = [value, p.name];
    }
  }
  return {
    scope: explicit.scope ?? stated.scope?.[0] ?? DEFAULT_PRUNING.scope,
    rule: explicit.rule ?? stated.rule?.[0] ?? DEFAULT_PRUNING.rule,
  };
}
