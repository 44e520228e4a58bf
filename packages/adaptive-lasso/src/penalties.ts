import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  check,
  checkInteger,
  checkPositive,
  safeAbs,
  safeL1,
  SparsifyConfigError,
  type LossAndGradients,
  type Param,
  type PenaltyConfig,
  type PenaltyDiagnostics,
  type PenaltyState,
  type StrengthLike,
  type TrainingContext,
} from '@sparsify/core';
import {
  addAll,
  checkEpsilonState,
  checkOptions,
  checkStateObject,
  checkTensorStates,
  detached,
  epsilonOf,
  epsilonRule,
  PACKAGE_NAME,
  scaleOf,
  summary,
  tensorState,
  type EpsilonRule,
} from './util.js';

/** v, ε and the update count of a weighted L1, validated and ready to apply. */
interface WeightState {
  v: { shape: number[]; values: Float32Array }[] | null;
  epsilons: number[];
  updates: number;
}

export interface LassoOptions {
  /** λ: a number, a strength schedule, or a schedule config. Required. */
  strength: StrengthLike;
}

/** Options that choose ε (give at most one of `epsilon`, `epsilonRel`, and for the log family `b`). */
export interface EpsilonOptions {
  /** Absolute ε (> 0), the same for every tensor. */
  epsilon?: number;
  /** Relative ε: ε = epsilonRel·mean|w| per tensor (> 0). Default 1e-2 when no absolute ε is given. */
  epsilonRel?: number;
  /** Floor of a relative ε (> 0), for tensors whose reference weights are all zero. Default 1e-8. */
  epsilonMin?: number;
}

/** A tensor in JSON: how `getConfig()` records a given adaptive-lasso estimate. */
export interface EstimateJSON {
  shape: number[];
  values: number[];
}

/**
 * The initial estimate ŵ: `'snapshot'` (the current weights, at bind or after the warm-up), or one tensor
 * per bound parameter (tf.Tensor, or `{ shape, values }` as configs record it, or that array as JSON text).
 */
export type EstimateOption = 'snapshot' | readonly (tf.Tensor | EstimateJSON)[] | string;

export interface AdaptiveLassoOptions extends EpsilonOptions {
  /** λ. Required. */
  strength: StrengthLike;
  /** γ > 0 in v = (|ŵ| + ε)^(−γ). Default 1 (0.5 and 2 are the other usual choices). */
  gamma?: number;
  /** ŵ. Default `'snapshot'`. */
  estimate?: EstimateOption;
  /** v ← v / mean(v) per tensor, so that λ means what it means for plain lasso. Default false. */
  normalize?: boolean;
  /**
   * Dense warm-up epochs before the snapshot (`'snapshot'` only): 0 (default) snapshots at bind; k > 0
   * snapshots at the end of epoch k − 1, and the penalty is 0 until then.
   */
  warmupEpochs?: number;
  /** Re-estimate ŵ from the current weights every this many epochs after the first estimate. Default: never. */
  refreshEvery?: number;
}

export interface ReweightedL1Options extends EpsilonOptions {
  /** λ. Required. */
  strength: StrengthLike;
  /** Hierarchical adaptive lasso shape a ≥ 0: v = (a + 1)/(b + |w|). Default: scale 1. */
  a?: number;
  /** Hierarchical adaptive lasso scale b > 0: an absolute ε (alias of `epsilon`). */
  b?: number;
  /** Refresh v every this many optimizer steps (onStepEnd). Exclusive with `everyEpochs`. */
  every?: number;
  /** Refresh v every this many epochs (onEpochEnd). Default 1 when `every` is not given. */
  everyEpochs?: number;
}

export interface LogPenaltyOptions extends EpsilonOptions {
  /** λ. Required. */
  strength: StrengthLike;
  /** Hierarchical shape a ≥ 0: the penalty is (a + 1)·log(1 + |w|/b). Default: scale 1. */
  a?: number;
  /** Hierarchical scale b > 0: an absolute ε (alias of `epsilon`). */
  b?: number;
}

const EPSILON_KEYS = ['epsilon', 'epsilonRel', 'epsilonMin'] as const;
const ADAPTIVE_KEYS = ['strength', 'gamma', 'estimate', ...EPSILON_KEYS, 'normalize', 'warmupEpochs', 'refreshEvery'] as const;
const REWEIGHTED_KEYS = ['strength', 'a', 'b', ...EPSILON_KEYS, 'every', 'everyEpochs'] as const;
const LOG_KEYS = ['strength', 'a', 'b', ...EPSILON_KEYS] as const;

function epsilonConfig(rule: EpsilonRule, viaB: boolean): Record<string, unknown> {
  if (rule.kind === 'absolute') return viaB ? { b: rule.value } : { epsilon: rule.value };
  return { epsilonRel: rule.rel, epsilonMin: rule.min };
}

/** Lasso (L1): `λ·Σ|w|`, gradient λ·sign(w) with sign(0) = 0 (penalties.md §2). */
export class LassoPenalty extends BasePenalty<LassoOptions> {
  readonly name = 'lasso';
  protected override readonly packageName = PACKAGE_NAME;

  constructor(options: LassoOptions) {
    checkOptions('lasso', options, ['strength']);
    super(options);
  }

  protected term(_ctx: TrainingContext): tf.Scalar {
    return safeL1(...this.params.map((p) => p.variable));
  }

  /** Σ|w| and, per tensor, the gradient λ·sign(w) as λ·sign(w) + 0·w: applied inside the fused update's pass. */
  protected override termAndGradients(_ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    const variables = this.params.map((p) => p.variable);
    const zero = tf.scalar(0);
    return { value: safeL1(...variables), gradients: variables.map((variable) => ({ variable, a: strength, b: zero })) };
  }

  override getConfig(): PenaltyConfig {
    return { name: this.name, package: PACKAGE_NAME, options: { strength: this.strength.config } };
  }
}

/**
 * A weighted L1 `λ·Σ_t Σ vₜ ⊙ |wₜ|` with non-trainable weights v (kept tensors, one per bound tensor,
 * never on the gradient tape): the gradient is λ·v·sign(w).
 */
abstract class WeightedL1Penalty<O extends EpsilonOptions & { strength: StrengthLike }> extends BasePenalty<O> {
  protected override readonly packageName = PACKAGE_NAME;
  /** Current weights v, or null before the first estimate. */
  protected v: tf.Tensor[] | null = null;
  /** ε per bound tensor, as last computed. */
  protected epsilons: number[] = [];
  /** How many times v has been (re)computed. */
  protected updates = 0;

  /** The current weights v (read-only view; null before the first estimate). */
  get weights(): readonly tf.Tensor[] | null {
    return this.v;
  }

  /** Replaces v (the old tensors are freed). Runs its own tidy; `compute` returns tensors to keep. */
  protected setWeights(compute: () => tf.Tensor[]): void {
    const next = tf.tidy(compute);
    for (const old of this.v ?? []) this.release(old);
    this.v = next.map((t) => this.own(t));
    this.updates += 1;
  }

  /** v (or null), ε and the update count as plain JSON data. */
  protected weightState(): PenaltyState {
    this.requireBound();
    return { v: this.v ? this.v.map(tensorState) : null, epsilons: this.epsilons.slice(), updates: this.updates };
  }

  /**
   * Validates the weighted-L1 part of a state against the bound params (v is required unless `allowNoWeights`;
   * ε has one entry per param, or none while v is null). Creates no tensors.
   */
  protected parseWeightState(what: string, state: Record<string, unknown>, allowNoWeights: boolean): WeightState {
    const params = this.requireBound();
    const v = state.v === null && allowNoWeights ? null : checkTensorStates(`${what} state.v`, state.v, params);
    const epsilons = checkEpsilonState(`${what} state.epsilons`, state.epsilons, v ? params.length : 0);
    checkInteger(`${what} state.updates`, state.updates, 0);
    return { v, epsilons, updates: state.updates as number };
  }

  /** Replaces v, ε and the update count (the old v tensors are freed). */
  protected applyWeightState(parsed: WeightState): void {
    const next = parsed.v ? parsed.v.map((g) => this.own(tf.tensor(g.values, g.shape, 'float32'))) : null;
    for (const old of this.v ?? []) this.release(old);
    this.v = next;
    this.epsilons = parsed.epsilons;
    this.updates = parsed.updates;
  }

  protected term(_ctx: TrainingContext): tf.Scalar {
    const v = this.v;
    if (!v) return tf.scalar(0);
    return addAll(this.params.map((p, i) => tf.sum(tf.mul(v[i], safeAbs(p.variable)))));
  }

  protected weightDiagnostics(): PenaltyDiagnostics {
    const out: PenaltyDiagnostics = { active: this.v ? 1 : 0, updates: this.updates };
    if (this.v) {
      const { min, median, max } = summary(this.v);
      out.vMin = min;
      out.vMedian = median;
      out.vMax = max;
      out.epsilon = this.epsilons.slice();
    }
    return out;
  }
}

function parseEstimate(what: string, estimate: EstimateOption | undefined): 'snapshot' | { shape: number[]; values: Float32Array }[] {
  if (estimate === undefined || estimate === 'snapshot') return 'snapshot';
  let list: unknown = estimate;
  if (typeof estimate === 'string') {
    try {
      list = JSON.parse(estimate);
    } catch {
      throw new SparsifyConfigError(
        `${what} estimate must be "snapshot", or one tensor per bound parameter (tf.Tensor or {shape, values}); got the string ${JSON.stringify(estimate)}`,
      );
    }
  }
  check(Array.isArray(list) && list.length > 0, `${what} estimate`, estimate, '"snapshot", or a non-empty array with one tensor per bound parameter');
  return (list as unknown[]).map((item, i) => {
    if (item instanceof tf.Tensor) {
      check(!item.isDisposed, `${what} estimate[${i}]`, 'a disposed tensor', 'a live tensor');
      return { shape: item.shape.slice(), values: Float32Array.from(item.dataSync() as Float32Array) };
    }
    const e = item as Partial<EstimateJSON> | null;
    check(
      typeof e === 'object' && e !== null && Array.isArray(e.shape) && Array.isArray(e.values),
      `${what} estimate[${i}]`,
      item,
      'a tf.Tensor or {shape: number[], values: number[]}',
    );
    const shape = e!.shape!;
    shape.forEach((d, k) => checkInteger(`${what} estimate[${i}].shape[${k}]`, d, 1));
    const size = shape.reduce((a, b) => a * b, 1);
    check(e!.values!.length === size, `${what} estimate[${i}].values.length`, e!.values!.length, `${size} (the size of shape [${shape.join(', ')}])`);
    e!.values!.forEach((v, k) => check(typeof v === 'number' && Number.isFinite(v), `${what} estimate[${i}].values[${k}]`, v, 'a finite number'));
    return { shape: shape.slice(), values: Float32Array.from(e!.values!) };
  });
}

/**
 * Adaptive lasso (Zou 2006): `λ·Σⱼ vⱼ|wⱼ|` with fixed weights `vⱼ = (|ŵⱼ| + ε)^(−γ)` from an initial
 * estimate ŵ, relative ε = epsilonRel·mean|ŵ| per tensor (§3.1 guard: caps v), optionally normalised
 * to mean 1 per tensor, optionally re-estimated every `refreshEvery` epochs.
 */
export class AdaptiveLassoPenalty extends WeightedL1Penalty<AdaptiveLassoOptions> {
  readonly name = 'adaptive-lasso';
  readonly gamma: number;
  readonly normalize: boolean;
  readonly warmupEpochs: number;
  readonly refreshEvery: number | undefined;
  private readonly epsilonRule: EpsilonRule;
  private readonly given: { shape: number[]; values: Float32Array }[] | null;
  /** The epoch at whose end the estimate was last taken (−1: before training). */
  private estimatedAt: number | null = null;

  constructor(options: AdaptiveLassoOptions) {
    checkOptions('adaptiveLasso', options, ADAPTIVE_KEYS);
    super(options);
    this.gamma = options.gamma ?? 1;
    checkPositive('adaptiveLasso gamma', this.gamma);
    this.normalize = options.normalize ?? false;
    check(typeof this.normalize === 'boolean', 'adaptiveLasso normalize', this.normalize, 'true or false');
    this.warmupEpochs = options.warmupEpochs ?? 0;
    checkInteger('adaptiveLasso warmupEpochs', this.warmupEpochs, 0);
    this.refreshEvery = options.refreshEvery;
    if (this.refreshEvery !== undefined) checkInteger('adaptiveLasso refreshEvery', this.refreshEvery, 1);
    this.epsilonRule = epsilonRule('adaptiveLasso', options);
    const estimate = parseEstimate('adaptiveLasso', options.estimate);
    this.given = estimate === 'snapshot' ? null : estimate;
    if (this.given && this.warmupEpochs > 0) {
      throw new SparsifyConfigError(
        `adaptiveLasso: warmupEpochs (${this.warmupEpochs}) applies to estimate "snapshot" only; a given estimate is used from the start`,
      );
    }
  }

  /** The epoch at whose end ŵ was last estimated (−1: at bind), or null while the penalty is inactive. */
  get estimateEpoch(): number | null {
    return this.estimatedAt;
  }

  protected override init(params: readonly Param[]): void {
    if (this.given) {
      if (this.given.length !== params.length) {
        throw new SparsifyConfigError(
          `adaptiveLasso estimate has ${this.given.length} tensor(s); the penalty is bound to ${params.length} parameter(s) (${params.map((p) => `${p.name} [${p.shape.join(', ')}]`).join(', ')}): give one per parameter, in order`,
        );
      }
      this.given.forEach((g, i) => {
        const p = params[i];
        if (g.shape.length !== p.shape.length || g.shape.some((d, k) => d !== p.shape[k])) {
          throw new SparsifyConfigError(
            `adaptiveLasso estimate[${i}] has shape [${g.shape.join(', ')}]; the bound parameter ${p.name} has shape [${p.shape.join(', ')}]`,
          );
        }
      });
      this.estimate(-1, () => this.given!.map((g) => tf.tensor(g.values, g.shape, 'float32')));
    } else if (this.warmupEpochs === 0) {
      this.estimate(-1, () => params.map(detached));
    }
  }

  /** v from reference weights ŵ (detached tensors, freed here). */
  private estimate(epoch: number, references: () => tf.Tensor[]): void {
    const epsilons: number[] = [];
    this.setWeights(() =>
      references().map((ref) => {
        const eps = epsilonOf(this.epsilonRule, ref);
        epsilons.push(eps);
        const v = tf.pow(tf.add(tf.abs(ref), tf.scalar(eps)), tf.scalar(-this.gamma));
        return this.normalize ? tf.div(v, tf.mean(v)) : v;
      }),
    );
    this.epsilons = epsilons;
    this.estimatedAt = epoch;
  }

  /** Takes ŵ from the current weights now (e.g. after a custom warm-up); `epoch` is the one just finished. */
  snapshot(epoch: number): void {
    this.requireBound();
    this.estimate(epoch, () => this.params.map(detached));
  }

  protected override term(ctx: TrainingContext): tf.Scalar {
    // A run resumed past the warm-up never saw the end of epoch warmupEpochs − 1: estimate now, from
    // detached copies (this runs inside the training step's gradient tape).
    if (!this.v && ctx.epoch >= this.warmupEpochs) this.snapshot(ctx.epoch - 1);
    return super.term(ctx);
  }

  onEpochEnd(ctx: TrainingContext): void {
    this.requireBound();
    if (!this.v) {
      if (ctx.epoch >= this.warmupEpochs - 1) this.snapshot(ctx.epoch);
      return;
    }
    const since = ctx.epoch - (this.estimatedAt ?? -1);
    if (this.refreshEvery !== undefined && since > 0 && since % this.refreshEvery === 0) this.snapshot(ctx.epoch);
  }

  diagnostics(_ctx: TrainingContext): PenaltyDiagnostics {
    this.requireBound();
    return this.weightDiagnostics();
  }

  /** v (null during the warm-up), ε, the update count and the estimate epoch, as plain data. */
  getState(): PenaltyState {
    return { ...this.weightState(), estimateEpoch: this.estimatedAt };
  }

  /** Restores `getState()` after `bind()`: v is not re-estimated. */
  setState(state: PenaltyState): void {
    const s = checkStateObject('adaptiveLasso', state);
    const parsed = this.parseWeightState('adaptiveLasso', s, true);
    if (parsed.v === null) {
      check(s.estimateEpoch === null, 'adaptiveLasso state.estimateEpoch', s.estimateEpoch, 'null while state.v is null');
    } else {
      checkInteger('adaptiveLasso state.estimateEpoch', s.estimateEpoch, -1);
    }
    this.applyWeightState(parsed);
    this.estimatedAt = s.estimateEpoch as number | null;
  }

  override getConfig(): PenaltyConfig {
    const options: Record<string, unknown> = {
      strength: this.strength.config,
      gamma: this.gamma,
      estimate: this.given ? this.given.map((g) => ({ shape: g.shape.slice(), values: Array.from(g.values) })) : 'snapshot',
      ...epsilonConfig(this.epsilonRule, false),
      normalize: this.normalize,
      warmupEpochs: this.warmupEpochs,
    };
    if (this.refreshEvery !== undefined) options.refreshEvery = this.refreshEvery;
    return { name: this.name, package: PACKAGE_NAME, options };
  }
}

/**
 * Reweighted L1 (Candès, Wakin, Boyd): majorise–minimise for the log penalty. `λ·Σⱼ vⱼ|wⱼ|` with
 * `vⱼ = (a+1)/(|wⱼ| + ε)` recomputed from the detached current weights every `every` steps or every
 * `everyEpochs` epochs; ε (b) is absolute, or relative to each tensor's mean |w| at bind and then frozen.
 */
export class ReweightedL1Penalty extends WeightedL1Penalty<ReweightedL1Options> {
  readonly name = 'reweighted-l1';
  /** a + 1. */
  readonly scale: number;
  readonly every: number | undefined;
  readonly everyEpochs: number | undefined;
  private readonly epsilonRule: EpsilonRule;
  private readonly viaB: boolean;

  constructor(options: ReweightedL1Options) {
    checkOptions('reweightedL1', options, REWEIGHTED_KEYS);
    super(options);
    this.scale = scaleOf('reweightedL1', options.a);
    this.epsilonRule = epsilonRule('reweightedL1', options);
    this.viaB = options.b !== undefined;
    if (options.every !== undefined && options.everyEpochs !== undefined) {
      throw new SparsifyConfigError('reweightedL1: give "every" (steps) or "everyEpochs", not both');
    }
    this.every = options.every;
    if (this.every !== undefined) checkInteger('reweightedL1 every', this.every, 1);
    this.everyEpochs = this.every === undefined ? (options.everyEpochs ?? 1) : undefined;
    if (this.everyEpochs !== undefined) checkInteger('reweightedL1 everyEpochs', this.everyEpochs, 1);
  }

  protected override init(params: readonly Param[]): void {
    // ε is computed once, at the start of penalised training, then frozen (§3.2).
    this.epsilons = params.map((p) => epsilonOf(this.epsilonRule, p.variable));
    this.refresh();
  }

  /** v ← (a+1)/(|w| + ε) from the current weights, detached. */
  refresh(): void {
    this.requireBound();
    this.setWeights(() =>
      this.params.map((p, i) => tf.div(tf.scalar(this.scale), tf.add(tf.abs(detached(p)), tf.scalar(this.epsilons[i])))),
    );
  }

  onStepEnd(ctx: TrainingContext): void {
    this.requireBound();
    if (this.every !== undefined && (ctx.step + 1) % this.every === 0) this.refresh();
  }

  onEpochEnd(ctx: TrainingContext): void {
    this.requireBound();
    if (this.everyEpochs !== undefined && (ctx.epoch + 1) % this.everyEpochs === 0) this.refresh();
  }

  diagnostics(_ctx: TrainingContext): PenaltyDiagnostics {
    this.requireBound();
    return this.weightDiagnostics();
  }

  /** v from the last refresh, ε (frozen at bind) and the refresh count, as plain data. */
  getState(): PenaltyState {
    return this.weightState();
  }

  /** Restores `getState()` after `bind()`: replaces the v that bind computed from the current weights. */
  setState(state: PenaltyState): void {
    const s = checkStateObject('reweightedL1', state);
    this.applyWeightState(this.parseWeightState('reweightedL1', s, false));
  }

  override getConfig(): PenaltyConfig {
    const options: Record<string, unknown> = { strength: this.strength.config };
    if (this.options.a !== undefined) options.a = this.options.a;
    Object.assign(options, epsilonConfig(this.epsilonRule, this.viaB));
    if (this.every !== undefined) options.every = this.every;
    else options.everyEpochs = this.everyEpochs;
    return { name: this.name, package: PACKAGE_NAME, options };
  }
}

/**
 * Log penalty `λ·(a+1)·Σⱼ log(1 + |wⱼ|/ε)`, gradient `λ·(a+1)·sign(w)/(ε + |w|)`: reweighted L1 with
 * reweighting at every step. ε (b) absolute, or relative to each tensor's mean |w| at bind and frozen.
 */
export class LogPenalty extends BasePenalty<LogPenaltyOptions> {
  readonly name = 'log-penalty';
  protected override readonly packageName = PACKAGE_NAME;
  /** a + 1. */
  readonly scale: number;
  private readonly epsilonRule: EpsilonRule;
  private readonly viaB: boolean;
  private epsilons: number[] = [];

  constructor(options: LogPenaltyOptions) {
    checkOptions('logPenalty', options, LOG_KEYS);
    super(options);
    this.scale = scaleOf('logPenalty', options.a);
    this.epsilonRule = epsilonRule('logPenalty', options);
    this.viaB = options.b !== undefined;
  }

  /** ε per bound tensor (frozen at bind). */
  get epsilon(): readonly number[] {
    return this.epsilons;
  }

  protected override init(params: readonly Param[]): void {
    this.epsilons = params.map((p) => epsilonOf(this.epsilonRule, p.variable));
  }

  protected term(_ctx: TrainingContext): tf.Scalar {
    const terms = this.params.map((p, i) => tf.sum(tf.log1p(tf.div(safeAbs(p.variable), tf.scalar(this.epsilons[i])))));
    const total = addAll(terms);
    return (this.scale === 1 ? total : tf.mul(total, tf.scalar(this.scale))) as tf.Scalar;
  }

  diagnostics(_ctx: TrainingContext): PenaltyDiagnostics {
    this.requireBound();
    return { epsilon: this.epsilons.slice(), scale: this.scale };
  }

  /** ε per bound tensor (frozen at bind), as plain data. */
  getState(): PenaltyState {
    this.requireBound();
    return { epsilons: this.epsilons.slice() };
  }

  /** Restores `getState()` after `bind()`: the ε of the original bind, not one from the current weights. */
  setState(state: PenaltyState): void {
    const params = this.requireBound();
    const s = checkStateObject('logPenalty', state);
    this.epsilons = checkEpsilonState('logPenalty state.epsilons', s.epsilons, params.length);
  }

  override getConfig(): PenaltyConfig {
    const options: Record<string, unknown> = { strength: this.strength.config };
    if (this.options.a !== undefined) options.a = this.options.a;
    Object.assign(options, epsilonConfig(this.epsilonRule, this.viaB));
    return { name: this.name, package: PACKAGE_NAME, options };
  }
}

/** Lasso: `lasso({ strength: 1e-4 })`. */
export function lasso(options: LassoOptions): LassoPenalty {
  return new LassoPenalty(options);
}

/** Adaptive lasso: `adaptiveLasso({ strength: 1e-5, warmupEpochs: 5 })`. */
export function adaptiveLasso(options: AdaptiveLassoOptions): AdaptiveLassoPenalty {
  return new AdaptiveLassoPenalty(options);
}

/** Reweighted L1: `reweightedL1({ strength: 1e-5, everyEpochs: 1 })`. */
export function reweightedL1(options: ReweightedL1Options): ReweightedL1Penalty {
  return new ReweightedL1Penalty(options);
}

/** Log penalty: `logPenalty({ strength: 1e-5 })`. */
export function logPenalty(options: LogPenaltyOptions): LogPenalty {
  return new LogPenalty(options);
}
