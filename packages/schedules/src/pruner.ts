import * as tf from '@tensorflow/tfjs';
import {
  DEFAULT_PRUNING_METHOD,
  SparsifyConfigError,
  applyMasks,
  check,
  checkInteger,
  checkPruningMethod,
  checkSparsity,
  computePruningMasks,
  describeParams,
  disposeMasks,
  pruningMethodConfig,
  selectParams,
  type ImportanceScore,
  type Mask,
  type Param,
  type ParamSource,
  type PruningMethod,
  type PruningScope,
  type SelectOptions,
  type TrainingContext,
} from '@sparsify/core';
import { resolvePruningSchedule, type PruningSchedule, type PruningScheduleLike } from './pruning-schedule.js';

export interface PrunerOptions {
  /** When to prune and to what sparsity. */
  schedule: PruningScheduleLike;
  /**
   * How masks are computed (core's `computePruningMasks`). Default: unstructured magnitude with the one
   * default scope and rule, `DEFAULT_PRUNING` (one global ranking, strict quantile; docs/defaults.md,
   * "Pruning"). tfmot's rule is `{ kind: 'magnitude', scope: 'layer', rule: 'exactCount' }`.
   */
  method?: PruningMethod;
  /** Shorthand for `method: { kind: 'magnitude', scope }` (the default rule): `'layer'` ranks each param alone. */
  scope?: PruningScope;
  /** Importance scores instead of |w| (gradients, when given to `onStep`, are passed along). */
  importance?: ImportanceScore;
  /** Which params of a model to prune (default: dense and conv kernels). */
  selection?: SelectOptions;
  /** The first step `onStep()` without an argument processes (resume); default 0. */
  step?: number;
}

/** One param's line of a pruning summary (tfmot `PruningSummaries`: sparsity and threshold per weight). */
export interface PrunedParamSummary {
  readonly name: string;
  readonly layerName: string;
  readonly shape: readonly number[];
  readonly total: number;
  /** Exact zeros in the weight now. */
  readonly zeros: number;
  readonly sparsity: number;
  /** 1 − mean(mask); null before the first pruning step. */
  readonly maskSparsity: number | null;
  /** The score threshold of the last pruning step; null when none (before pruning, s = 0, N:M, custom). */
  readonly threshold: number | null;
}

export interface PruningSummary {
  /** The next step `onStep` will process. */
  readonly step: number;
  /** The step of the last mask update, and its target sparsity. */
  readonly lastPruneStep: number | null;
  readonly targetSparsity: number | null;
  /** Exact zeros over all pruned params / their size. */
  readonly sparsity: number;
  readonly total: number;
  readonly zeros: number;
  readonly layers: PrunedParamSummary[];
}

/** A mask as plain data, for checkpoints. */
export interface MaskState {
  readonly name: string;
  readonly shape: readonly number[];
  /** 0/1 per entry, row-major. */
  readonly values: number[];
}

/** JSON-serializable pruner state: `getState()` → checkpoint → `setState()`. */
export interface PrunerState {
  readonly step: number;
  readonly lastPruneStep: number | null;
  /** Target sparsity of the last mask update (null before it). */
  readonly sparsity: number | null;
  /** True once an `atEnd` schedule has pruned. */
  readonly finished: boolean;
  /** The masks, or null (none yet, or left out with `getState({ includeMasks: false })`). */
  readonly masks: MaskState[] | null;
}

function isModel(source: ParamSource): source is tf.LayersModel {
  return !Array.isArray(source);
}

/**
 * Applies a pruning schedule to a set of params: decides at each step whether to recompute the masks,
 * keeps them (as `tf.keep`-ed tensors it owns), and applies them. It does no training: a custom loop
 * (core's `TrainStep`), the `@sparsify/train` loop or the `@sparsify/layers` callbacks drive it.
 *
 * ```ts
 * for (let step = 0; step < steps; step++) {
 *   if (pruner.onStep(step)) trainStep.setMasks(pruner.masks());   // masks changed: switch to them
 *   trainStep.run(x, y);                                           // gradients and weights masked
 * }
 * ```
 */
export class Pruner {
  readonly params: readonly Param[];
  readonly schedule: PruningSchedule;
  readonly method: PruningMethod;
  private readonly importance?: ImportanceScore;
  private current: Mask[] = [];
  private thresholds: (number | null)[] = [];
  private nextStep: number;
  private lastPrune: number | null = null;
  private target: number | null = null;
  private done = false;
  private disposed = false;

  constructor(source: ParamSource, options: PrunerOptions) {
    check(
      typeof options === 'object' && options !== null,
      'Pruner options',
      options,
      '{ schedule, method?, scope?, importance?, selection?, step? }',
    );
    this.schedule = resolvePruningSchedule(options.schedule);
    if (options.method !== undefined && options.scope !== undefined) {
      throw new SparsifyConfigError('Pruner: give either method or scope (a shorthand for the magnitude method), not both');
    }
    this.method = options.method ?? (options.scope ? { kind: 'magnitude', scope: options.scope } : DEFAULT_PRUNING_METHOD);
    checkPruningMethod(this.method);
    this.importance = options.importance;
    if (this.importance !== undefined)
      check(typeof this.importance === 'function', 'Pruner importance', this.importance, 'a function (weight, gradient?) => scores');
    this.params = isModel(source) || options.selection ? selectParams(source, options.selection) : describeParams(source);
    if (this.params.length === 0) throw new SparsifyConfigError('Pruner needs at least one param to prune; got none');
    const step = options.step ?? 0;
    checkInteger('Pruner step', step, 0);
    this.nextStep = step;
  }

  /** The next step `onStep()` processes. */
  get step(): number {
    return this.nextStep;
  }

  /** Target sparsity of the last mask update, or null before it. */
  get sparsity(): number | null {
    return this.target;
  }

  /** The step of the last mask update, or null before it. */
  get lastPruneStep(): number | null {
    return this.lastPrune;
  }

  /** The current masks (empty before the first pruning step). The tensors are the pruner's. */
  masks(): readonly Mask[] {
    return this.current;
  }

  /**
   * Processes `step` (default: the next one): call it before the optimizer update of that step (i.e.
   * after `step` updates). When the schedule says so, recomputes the masks from the current weights,
   * applies them (w ← w ⊙ mask) and returns true: the previous mask tensors are disposed, so switch to
   * `masks()` (e.g. `trainStep.setMasks(pruner.masks())`).
   */
  onStep(step: number = this.nextStep, extras: { gradients?: readonly tf.Tensor[] } = {}): boolean {
    this.requireLive();
    checkInteger('Pruner.onStep step', step, 0);
    const decision = this.schedule(step);
    this.nextStep = step + 1;
    if (!decision.shouldPrune) return false;
    this.prune(decision.sparsity, step, extras.gradients);
    return true;
  }

  /**
   * The `@sparsify/train` pruner protocol: called after each optimizer step with the context of the step
   * just taken (`ctx.step` updates so far); returns the new masks when they changed, else null.
   */
  update(ctx: TrainingContext): readonly Mask[] | null {
    return this.onStep(ctx.step) ? this.current : null;
  }

  /**
   * Ends training: an `atEnd` schedule prunes now (once) and returns true. Other schedules return false.
   */
  finish(extras: { gradients?: readonly tf.Tensor[] } = {}): boolean {
    this.requireLive();
    if (!this.schedule.atEnd || this.done) return false;
    const { sparsity } = this.schedule(this.nextStep);
    this.prune(sparsity, this.nextStep, extras.gradients);
    this.done = true;
    return true;
  }

  /** Prunes now to `sparsity`, whatever the schedule says (for one-shot use and tests). */
  pruneNow(sparsity: number, extras: { gradients?: readonly tf.Tensor[] } = {}): readonly Mask[] {
    this.requireLive();
    checkSparsity('Pruner.pruneNow sparsity', sparsity);
    this.prune(sparsity, this.nextStep, extras.gradients);
    return this.current;
  }

  /** w ← w ⊙ mask for the current masks (after an update that did not mask, e.g. under plain `fit`). */
  apply(): void {
    this.requireLive();
    applyMasks(this.current);
  }

  /** Per-param sparsity (exact zeros now, and of the mask) and thresholds; one read-back per param. */
  summary(): PruningSummary {
    this.requireLive();
    const maskZeros = this.current.map((m) => tf.tidy(() => tf.sub(tf.scalar(m.mask.size), tf.sum(m.mask)).dataSync()[0]));
    const layers = this.params.map((p, i): PrunedParamSummary => {
      const data = p.variable.dataSync();
      let zeros = 0;
      for (let j = 0; j < data.length; j++) if (data[j] === 0) zeros++;
      return {
        name: p.name,
        layerName: p.layerName,
        shape: p.shape.slice(),
        total: p.size,
        zeros,
        sparsity: p.size === 0 ? 0 : zeros / p.size,
        maskSparsity: this.current.length ? maskZeros[i] / p.size : null,
        threshold: this.thresholds[i] ?? null,
      };
    });
    const total = layers.reduce((n, l) => n + l.total, 0);
    const zeros = layers.reduce((n, l) => n + l.zeros, 0);
    return {
      step: this.nextStep,
      lastPruneStep: this.lastPrune,
      targetSparsity: this.target,
      sparsity: total === 0 ? 0 : zeros / total,
      total,
      zeros,
      layers,
    };
  }

  /** Plain-data state for checkpoints; masks as 0/1 arrays unless `includeMasks: false`. */
  getState(options: { includeMasks?: boolean } = {}): PrunerState {
    this.requireLive();
    const includeMasks = options.includeMasks ?? true;
    return {
      step: this.nextStep,
      lastPruneStep: this.lastPrune,
      sparsity: this.target,
      finished: this.done,
      masks:
        includeMasks && this.current.length
          ? this.current.map((m, i) => ({ name: this.params[i].name, shape: m.mask.shape.slice(), values: Array.from(m.mask.dataSync()) }))
          : null,
    };
  }

  /**
   * Restores `getState()` output. Masks come from `state.masks`, or from `masks` (one per param, in
   * order; the pruner owns those tensors from then on), and are applied to the weights.
   */
  setState(state: PrunerState, masks?: readonly Mask[]): void {
    this.requireLive();
    check(typeof state === 'object' && state !== null, 'Pruner state', state, 'an object from getState()');
    checkInteger('Pruner state step', state.step, 0);
    if (state.lastPruneStep !== null) checkInteger('Pruner state lastPruneStep', state.lastPruneStep, 0);
    if (state.sparsity !== null) checkSparsity('Pruner state sparsity', state.sparsity);
    let next: Mask[];
    if (masks && masks.length > 0) {
      check(
        masks.length === this.params.length,
        'Pruner.setState masks.length',
        masks.length,
        `${this.params.length} (one per pruned param)`,
      );
      masks.forEach((m, i) =>
        check(
          m.mask.size === this.params[i].size,
          `Pruner.setState mask size for ${JSON.stringify(this.params[i].name)}`,
          m.mask.size,
          String(this.params[i].size),
        ),
      );
      next = masks.map((m, i) => ({ variable: this.params[i].variable, mask: tf.keep(m.mask) }));
    } else if (state.masks) {
      check(
        Array.isArray(state.masks) && state.masks.length === this.params.length,
        'Pruner state masks.length',
        state.masks?.length,
        `${this.params.length} (one per pruned param)`,
      );
      next = state.masks.map((m, i) => {
        const p = this.params[i];
        check(m.name === p.name, `Pruner state mask ${i} name`, m.name, JSON.stringify(p.name));
        check(
          Array.isArray(m.values) && m.values.length === p.size,
          `Pruner state mask ${JSON.stringify(p.name)} length`,
          m.values?.length,
          String(p.size),
        );
        for (let j = 0; j < m.values.length; j++) {
          const v = m.values[j];
          if (v !== 0 && v !== 1) check(false, `Pruner state mask ${JSON.stringify(p.name)} entry ${j}`, v, '0 or 1');
        }
        return { variable: p.variable, mask: tf.keep(tf.tensor(m.values, p.variable.shape, 'float32')) };
      });
    } else {
      next = [];
    }
    const old = this.current;
    this.current = next;
    disposeMasks(old.filter((m) => !next.some((n) => n.mask === m.mask)));
    this.thresholds = [];
    this.nextStep = state.step;
    this.lastPrune = state.lastPruneStep;
    this.target = state.sparsity;
    this.done = Boolean(state.finished);
    applyMasks(this.current);
  }

  /** JSON description: schedule and method (for logs and run records). */
  getConfig(): { schedule: unknown; method: Record<string, unknown>; params: string[] } {
    return { schedule: this.schedule.getConfig(), method: pruningMethodConfig(this.method), params: this.params.map((p) => p.name) };
  }

  /** Frees the masks. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeMasks(this.current);
    this.current = [];
  }

  private prune(sparsity: number, step: number, gradients?: readonly tf.Tensor[]): void {
    const { masks, thresholds } = computePruningMasks(this.params, sparsity, this.method, {
      importance: this.importance,
      gradients,
    });
    for (const m of masks) tf.keep(m.mask);
    disposeMasks(this.current);
    this.current = masks;
    this.thresholds = thresholds.map((t) => (t === null || t.value === -Infinity ? null : t.value));
    this.lastPrune = step;
    this.target = sparsity;
    applyMasks(this.current);
  }

  private requireLive(): void {
    if (this.disposed) throw new Error('Pruner: used after dispose()');
  }
}

/** `new Pruner(source, options)`. */
export function createPruner(source: ParamSource, options: PrunerOptions): Pruner {
  return new Pruner(source, options);
}
