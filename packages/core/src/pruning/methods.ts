import { check, checkOneOf, checkSparsity, SparsifyConfigError } from '../errors.js';
import type { ThresholdRule } from '../magnitude.js';
import { magnitudeMasks, type Mask } from '../masks.js';
import type { Param } from '../params.js';
import { BLOCK_POOLINGS, blockMasks, checkBlockSize, type BlockPooling } from './block.js';
import { checkMByNOption, mByNMasks, type MByN } from './nm.js';
import { checkScopeAndRule, type PruningScope, type ScoreOptions } from './scores.js';
import { DEFAULT_PRUNING, LN_STRUCTURED_PRUNING } from './defaults.js';
import { checkNormOrder, GROUP_AXES, lnStructured, type GroupAxis, type PruningResult } from './structured.js';

/** A user pruning method: masks for the params at a target sparsity. Not serializable. */
export interface CustomPruningMethod {
  readonly kind: 'custom';
  readonly name: string;
  computeMasks(params: readonly Param[], sparsity: number, options: ScoreOptions): Mask[] | PruningResult;
}

/**
 * How masks are computed for a target sparsity: the one description that schedules and pruners pass
 * around. Plain data (JSON) except `custom`.
 */
export type PruningMethod =
  | { readonly kind: 'magnitude'; readonly scope?: PruningScope; readonly rule?: ThresholdRule }
  | {
      readonly kind: 'lnStructured';
      readonly axis: GroupAxis;
      readonly n?: number;
      readonly scope?: PruningScope;
      readonly rule?: ThresholdRule;
    }
  | {
      readonly kind: 'block';
      readonly blockSize: readonly [number, number];
      readonly blockPooling?: BlockPooling;
      readonly scope?: PruningScope;
      readonly rule?: ThresholdRule;
    }
  | { readonly kind: 'mByN'; readonly mByN: MByN }
  | CustomPruningMethod;

export const PRUNING_METHOD_KINDS = ['magnitude', 'lnStructured', 'block', 'mByN', 'custom'] as const;

/** Unstructured magnitude with the one default scope and rule (`DEFAULT_PRUNING`: global, quantile). */
export const DEFAULT_PRUNING_METHOD: PruningMethod = Object.freeze({ kind: 'magnitude', ...DEFAULT_PRUNING });

/** Validates a method description (throws SparsifyConfigError naming the bad field). */
export function checkPruningMethod(method: unknown): asserts method is PruningMethod {
  check(typeof method === 'object' && method !== null, 'pruning method', method, `an object with kind ${PRUNING_METHOD_KINDS.join(' | ')}`);
  const m = method as Record<string, unknown>;
  checkOneOf('pruning method kind', m.kind, PRUNING_METHOD_KINDS);
  switch (m.kind) {
    case 'magnitude':
      checkScopeAndRule(m.scope ?? DEFAULT_PRUNING.scope, m.rule ?? DEFAULT_PRUNING.rule);
      return;
    case 'lnStructured':
      checkOneOf('lnStructured axis', m.axis, GROUP_AXES);
      checkNormOrder(m.n ?? 2);
      checkScopeAndRule(m.scope ?? LN_STRUCTURED_PRUNING.scope, m.rule ?? LN_STRUCTURED_PRUNING.rule);
      return;
    case 'block':
      checkBlockSize(m.blockSize);
      checkOneOf('blockPooling', m.blockPooling ?? 'avg', BLOCK_POOLINGS);
      checkScopeAndRule(m.scope ?? DEFAULT_PRUNING.scope, m.rule ?? DEFAULT_PRUNING.rule);
      return;
    case 'mByN':
      checkMByNOption(m.mByN);
      return;
    case 'custom':
      check(typeof m.name === 'string' && m.name.length > 0, 'custom pruning method name', m.name, 'a non-empty string');
      check(
        typeof m.computeMasks === 'function',
        'custom pruning method computeMasks',
        m.computeMasks,
        'a function (params, sparsity, options) => masks',
      );
      return;
  }
}

/**
 * Masks for `params` at `sparsity` by `method` (default: unstructured magnitude, `DEFAULT_PRUNING`).
 * N:M ignores `sparsity` (its sparsity is m/n by construction). The mask tensors are the caller's.
 */
export function computePruningMasks(
  params: readonly Param[],
  sparsity: number,
  method: PruningMethod = DEFAULT_PRUNING_METHOD,
  options: ScoreOptions = {},
): PruningResult {
  checkPruningMethod(method);
  checkSparsity('sparsity', sparsity);
  if (params.length === 0) throw new SparsifyConfigError('computePruningMasks needs at least one param; got none');
  switch (method.kind) {
    case 'magnitude':
      return magnitudeMasks(params, {
        sparsity,
        scope: method.scope,
        rule: method.rule,
        importance: options.importance,
        gradients: options.gradients,
      });
    case 'lnStructured':
      return lnStructured(params, { ...options, sparsity, axis: method.axis, n: method.n, scope: method.scope, rule: method.rule });
    case 'block':
      return blockMasks(params, {
        ...options,
        sparsity,
        blockSize: method.blockSize,
        blockPooling: method.blockPooling,
        scope: method.scope,
        rule: method.rule,
      });
    case 'mByN':
      return { masks: mByNMasks(params, { ...options, mByN: method.mByN }), thresholds: params.map(() => null) };
    case 'custom': {
      const out = method.computeMasks(params, sparsity, options);
      const result: PruningResult = Array.isArray(out) ? { masks: out, thresholds: params.map(() => null) } : (out as PruningResult);
      check(
        result.masks.length === params.length && result.masks.every((m, i) => m.variable === params[i].variable),
        `custom pruning method ${JSON.stringify(method.name)} result`,
        result.masks.map((m) => m.variable.name),
        `one mask per param in the params' order (${params.map((p) => p.name).join(', ')})`,
      );
      result.masks.forEach((m, i) =>
        check(
          m.mask.size === params[i].variable.size,
          `custom pruning method ${JSON.stringify(method.name)} mask size for ${JSON.stringify(params[i].name)}`,
          m.mask.size,
          String(params[i].variable.size),
        ),
      );
      return result;
    }
  }
}

/** Plain-data description of a method for logs and configs, with its scope and rule (a custom method by name only). */
export function pruningMethodConfig(method: PruningMethod): Record<string, unknown> {
  if (method.kind === 'custom') return { kind: 'custom', name: method.name };
  if (method.kind === 'mByN') return { ...method };
  // The scope and rule in effect, defaults filled in, so that a run record says what was done.
  const defaults = method.kind === 'lnStructured' ? LN_STRUCTURED_PRUNING : DEFAULT_PRUNING;
  return { ...method, scope: method.scope ?? defaults.scope, rule: method.rule ?? defaults.rule };
}
