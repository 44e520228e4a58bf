import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  check,
  checkInteger,
  option,
  safeAbs,
  safeL1,
  signLinear,
  SparsifyConfigError,
  type OptionSchema,
  type OptionsOf,
  type Param,
  type PenaltyConfig,
  type PenaltyDiagnostics,
  type PenaltyGradients,
  type PenaltyState,
  type TrainingContext,
} from '@sparsify/core';
import {
  addAll,
  checkEpsilonState,
  checkStateObject,
  checkTensorStates,
  DEFAULT_EPSILON_MIN,
  DEFAULT_EPSILON_REL,
  detached,
  epsilonOf,
  epsilonRule,
  PACKAGE_NAME,
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

type Estimate = 'snapshot' | { shape: number[]; values: Float32Array }[];

const strength = (recommended: string) =>
  option.strength({
    required: true,
    description: `global coefficient λ (number, schedule or schedule config); the penalty is summed over weights, not averaged. ${recommended}`,
  });

/** ε: give at most one of `epsilon`, `epsilonRel`, and for the log family `b`. */
const EPSILON_OPTIONS = {
  epsilon: option.number({ min: 0, exclusiveMin: true, description: 'absolute ε > 0 for every tensor (instead of epsilonRel)' }),
  epsilonRel: option.number({
    min: 0,
    exclusiveMin: true,
    description: `relative ε = epsilonRel·mean|w| per tensor (default ${DEFAULT_EPSILON_REL}), used when no absolute ε is given`,
  }),
  epsilonMin: option.number({
    min: 0,
    exclusiveMin: true,
    description: `floor of a relative ε, for all-zero tensors (default ${DEFAULT_EPSILON_MIN})`,
  }),
};

/** The hierarchical adaptive lasso prior: scale a + 1 and an absolute ε b. */
const HIERARCHICAL_OPTIONS = {
  a: option.number({ min: 0, description: 'hierarchical adaptive lasso shape a ≥ 0: scale a + 1 (default scale 1)' }),
  b: option.number({
    min: 0,
    exclusiveMin: true,
    description: 'hierarchical adaptive lasso scale b > 0: an absolute ε (alias of epsilon)',
  }),
};

export const LASSO_OPTIONS = { strength: strength('Sweep 1e-5 to 1e-3 (1e-3 is strong on LeNet-300-100 with Adam).') };

export const ADAPTIVE_LASSO_OPTIONS = {
  strength: strength('1e-6 to 1e-4 for N ≈ 1e5–1e6 weights (the penalty starts ≈ N with γ = 1); sweep.'),
  gamma: option.number({ default: 1, min: 0, exclusiveMin: true, description: 'γ > 0 in v = (|ŵ| + ε)^(−γ) (usual: 0.5, 1, 2)' }),
  estimate: option.custom<EstimateOption, Estimate, { default: 'snapshot'; description: string }>({
    default: 'snapshot',
    description:
      '"snapshot" (the current weights at bind, or after warmupEpochs), or one tensor per bound parameter: in a config [{shape, values}] (or that JSON text); programmatically tf.Tensor[]',
    parse: (value, what) => parseEstimate(what, value as EstimateOption),
    toConfig: (e) => (e === 'snapshot' ? e : e.map((g) => ({ shape: g.shape.slice(), values: Array.from(g.values) }))),
  }),
  ...EPSILON_OPTIONS,
  normalize: option.boolean({ default: false, description: 'v ← v/mean(v) per tensor, so that λ means what it does for lasso' }),
  warmupEpochs: option.number({
    default: 0,
    min: 0,
    integer: true,
    description: 'dense epochs before the snapshot (penalty 0 until the end of epoch warmupEpochs − 1)',
  }),
  refreshEvery: option.number({
    min: 1,
    integer: true,
    description: 're-estimate ŵ from the current weights every this many epochs (default never)',
  }),
};

export const REWEIGHTED_L1_OPTIONS = {
  strength: strength('Like adaptive-lasso (v|w| ≈ 1 per weight at a refresh): 1e-6 to 1e-4 for N ≈ 1e5–1e6; sweep.'),
  ...HIERARCHICAL_OPTIONS,
  ...EPSILON_OPTIONS,
  every: option.number({ min: 1, integer: true, description: 'refresh v every this many optimizer steps (instead of everyEpochs)' }),
  everyEpochs: option.number({
    min: 1,
    integer: true,
    description: 'refresh v every this many epochs (default 1 when every is not given)',
  }),
};

export const LOG_PENALTY_OPTIONS = {
  strength: strength('Like reweighted-l1: 1e-6 to 1e-4 for N ≈ 1e5–1e6; sweep.'),
  ...HIERARCHICAL_OPTIONS,
  ...EPSILON_OPTIONS,
};

export type LassoOptions = OptionsOf<typeof LASSO_OPTIONS>;
export type AdaptiveLassoOptions = OptionsOf<typeof ADAPTIVE_LASSO_OPTIONS>;
export type ReweightedL1Options = OptionsOf<typeof REWEIGHTED_L1_OPTIONS>;
export type LogPenaltyOptions = OptionsOf<typeof LOG_PENALTY_OPTIONS>;

/**
 * A config with the ε options as the rule resolved them ({epsilon} or {b}, or {epsilonRel, epsilonMin})
 * and any `extra`, its options in the order of `schema`.
 */
function withEpsilon(
  config: PenaltyConfig,
  schema: OptionSchema,
  rule: EpsilonRule,
  viaB: boolean,
  extra: Record<string, unknown> = {},
): PenaltyConfig {
  const { epsilon: _e, epsilonRel: _r, epsilonMin: _m, b: _b, ...given } = config.options;
  const epsilon =
    rule.kind === 'absolute' ? (viaB ? { b: rule.value } : { epsilon: rule.value }) : { epsilonRel: rule.rel, epsilonMin: rule.min };
  const options: Record<string, unknown> = { ...given, ...epsilon, ...extra };
  return {
    ...config,
    options: Object.fromEntries(
      Object.keys(schema)
        .filter((k) => k in options)
        .map((k) => [k, options[k]]),
    ),
  };
}

/** Lasso (L1): `λ·Σ|w|`, gradient λ·sign(w) with sign(0) = 0. */
export class LassoPenalty extends BasePenalty<typeof LASSO_OPTIONS> {
  readonly name = 'lasso';
  protected override readonly packageName = PACKAGE_NAME;

  constructor(options: LassoOptions) {
    super(options, LASSO_OPTIONS, 'lasso');
  }

  protected term(_ctx: TrainingContext): tf.Scalar {
    return safeL1(...this.params.map((p) => p.variable));
  }

  /** λ·Σ|w| and, per tensor, λ·sign(w) (one pass each way; the sums a momentum kernel may already hold). */
  protected override closedForm(_ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    const variables = this.params.map((p) => p.variable);
    return {
      value: tf.mul(safeL1(...variables), strength) as tf.Scalar,
      grads: Object.fromEntries(variables.map((v) => [v.name, signLinear(v, strength)])),
    };
  }
}

/**
 * A weighted L1 `λ·Σ_t Σ vₜ ⊙ |wₜ|` with non-trainable weights v (kept tensors, one per bound tensor,
 * never on the gradient tape): the gradient is λ·v·sign(w).
 */
abstract class WeightedL1Penalty<S extends typeof ADAPTIVE_LASSO_OPTIONS | typeof REWEIGHTED_L1_OPTIONS> extends BasePenalty<S> {
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

/** Validates an estimate option (`what` names it) and copies it to the host. */
function parseEstimate(what: string, estimate: EstimateOption | undefined): Estimate {
  if (estimate === undefined || estimate === 'snapshot') return 'snapshot';
  let list: unknown = estimate;
  if (typeof estimate === 'string') {
    try {
      list = JSON.parse(estimate);
    } catch {
      throw new SparsifyConfigError(
        `${what} must be "snapshot", or one tensor per bound parameter (tf.Tensor or {shape, values}); got the string ${JSON.stringify(estimate)}`,
      );
    }
  }
  check(
    Array.isArray(list) && list.length > 0,
    `${what}`,
    estimate,
    '"snapshot", or a non-empty array with one tensor per bound parameter',
  );
  return (list as unknown[]).map((item, i) => {
    if (item instanceof tf.Tensor) {
      check(!item.isDisposed, `${what}[${i}]`, 'a disposed tensor', 'a live tensor');
      return { shape: item.shape.slice(), values: Float32Array.from(item.dataSync() as Float32Array) };
    }
    const e = item as Partial<EstimateJSON> | null;
    check(
      typeof e === 'object' && e !== null && Array.isArray(e.shape) && Array.isArray(e.values),
      `${what}[${i}]`,
      item,
      'a tf.Tensor or {shape: number[], values: number[]}',
    );
    const shape = e!.shape!;
    shape.forEach((d, k) => checkInteger(`${what}[${i}].shape[${k}]`, d, 1));
    const size = shape.reduce((a, b) => a * b, 1);
    check(
      e!.values!.length === size,
      `${what}[${i}].values.length`,
      e!.values!.length,
      `${size} (the size of shape [${shape.join(', ')}])`,
    );
    e!.values!.forEach((v, k) => check(typeof v === 'number' && Number.isFinite(v), `${what}[${i}].values[${k}]`, v, 'a finite number'));
    return { shape: shape.slice(), values: Float32Array.from(e!.values!) };
  });
}

/**
 * Adaptive lasso (Zou 2006): `λ·Σⱼ vⱼ|wⱼ|` with fixed weights `vⱼ = (|ŵⱼ| + ε)^(−γ)` from an initial
 * estimate ŵ, relative ε = epsilonRel·mean|ŵ| per tensor (the guard that caps v), optionally normalised
 * to mean 1 per tensor, optionally re-estimated every `refreshEvery` epochs.
 */
export class AdaptiveLassoPenalty extends WeightedL1Penalty<typeof ADAPTIVE_LASSO_OPTIONS> {
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
    super(options, ADAPTIVE_LASSO_OPTIONS, 'adaptiveLasso');
    ({ gamma: this.gamma, normalize: this.normalize, warmupEpochs: this.warmupEpochs, refreshEvery: this.refreshEvery } = this.options);
    this.epsilonRule = epsilonRule('adaptiveLasso', this.options);
    const estimate = this.options.estimate;
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

  /** The options, with the ε rule as resolved (defaults included). */
  override getConfig(): PenaltyConfig {
    return withEpsilon(super.getConfig(), this.schema, this.epsilonRule, false);
  }
}

/**
 * Reweighted L1 (Candès, Wakin, Boyd): majorise–minimise for the log penalty. `λ·Σⱼ vⱼ|wⱼ|` with
 * `vⱼ = (a+1)/(|wⱼ| + ε)` recomputed from the detached current weights every `every` steps or every
 * `everyEpochs` epochs; ε (b) is absolute, or relative to each tensor's mean |w| at bind and then frozen.
 */
export class ReweightedL1Penalty extends WeightedL1Penalty<typeof REWEIGHTED_L1_OPTIONS> {
  readonly name = 'reweighted-l1';
  /** a + 1. */
  readonly scale: number;
  readonly every: number | undefined;
  readonly everyEpochs: number | undefined;
  private readonly epsilonRule: EpsilonRule;
  private readonly viaB: boolean;

  constructor(options: ReweightedL1Options) {
    super(options, REWEIGHTED_L1_OPTIONS, 'reweightedL1');
    this.scale = (this.options.a ?? 0) + 1;
    this.epsilonRule = epsilonRule('reweightedL1', this.options);
    this.viaB = this.options.b !== undefined;
    if (this.options.every !== undefined && this.options.everyEpochs !== undefined) {
      throw new SparsifyConfigError('reweightedL1: give "every" (steps) or "everyEpochs", not both');
    }
    this.every = this.options.every;
    this.everyEpochs = this.every === undefined ? (this.options.everyEpochs ?? 1) : undefined;
  }

  protected override init(params: readonly Param[]): void {
    // ε is computed once, at the start of penalised training, then frozen (README, "ε and the guards").
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

  /** The options, with the ε rule and the refresh interval as resolved (defaults included). */
  override getConfig(): PenaltyConfig {
    return withEpsilon(
      super.getConfig(),
      this.schema,
      this.epsilonRule,
      this.viaB,
      this.everyEpochs !== undefined ? { everyEpochs: this.everyEpochs } : {},
    );
  }
}

/**
 * Log penalty `λ·(a+1)·Σⱼ log(1 + |wⱼ|/ε)`, gradient `λ·(a+1)·sign(w)/(ε + |w|)`: reweighted L1 with
 * reweighting at every step. ε (b) absolute, or relative to each tensor's mean |w| at bind and frozen.
 */
export class LogPenalty extends BasePenalty<typeof LOG_PENALTY_OPTIONS> {
  readonly name = 'log-penalty';
  protected override readonly packageName = PACKAGE_NAME;
  /** a + 1. */
  readonly scale: number;
  private readonly epsilonRule: EpsilonRule;
  private readonly viaB: boolean;
  private epsilons: number[] = [];

  constructor(options: LogPenaltyOptions) {
    super(options, LOG_PENALTY_OPTIONS, 'logPenalty');
    this.scale = (this.options.a ?? 0) + 1;
    this.epsilonRule = epsilonRule('logPenalty', this.options);
    this.viaB = this.options.b !== undefined;
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

  /** The options, with the ε rule as resolved (defaults included). */
  override getConfig(): PenaltyConfig {
    return withEpsilon(super.getConfig(), this.schema, this.epsilonRule, this.viaB);
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
