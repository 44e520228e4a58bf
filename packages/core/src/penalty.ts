import * as tf from '@tensorflow/tfjs';
import type { PruningDefaults } from './pruning/defaults.js';
import type { TrainingContext } from './context.js';
import { SparsifyConfigError } from './errors.js';
import { option, optionsConfig, parseOptions, type OptionSchema, type OptionSpec, type OptionsOf, type ParsedOptions } from './options.js';
import type { Param } from './params.js';
import type { StrengthLike, StrengthSchedule } from './strength.js';

/** JSON-serializable description of a penalty: enough to rebuild it with `penaltyFromConfig`. */
export interface PenaltyConfig {
  /** Registry name, e.g. `halo`. */
  name: string;
  /** npm package that registers the name, so a config can load a penalty that is not yet registered. */
  package?: string;
  /** The options the factory takes, as JSON. */
  options: Record<string, unknown>;
}

/** Diagnostics for logs and reports: scalars and small arrays only (no tensors). */
export type PenaltyDiagnostics = Record<string, number | number[]>;

/**
 * A penalty's non-variable state (adaptive weights, frozen ε, refresh counters) for checkpoints:
 * JSON-serialisable plain data only: numbers, arrays of numbers, null, nested plain objects; a tensor
 * as `{ shape: number[], values: number[] }`. Trainable variables are not part of it (the training loop
 * saves `trainableVariables()` itself).
 */
export type PenaltyState = Record<string, unknown>;

/** A penalty's value and its gradients by variable name: what `tf.variableGrads(() => penalty.loss(ctx))` returns. */
export interface PenaltyGradients {
  readonly value: tf.Scalar;
  readonly grads: tf.NamedTensorMap;
}

/**
 * The one penalty interface. A penalty is bound once to the parameters it acts on, then asked for a
 * differentiable scalar every training step; everything else is optional.
 *
 * Lifecycle: `bind(params)` → per step `loss(ctx)` (inside the tape the training step differentiates) or
 * `gradients(ctx)`, then `onStepEnd(ctx)` after the update → per epoch `onEpochEnd(ctx)` → `dispose()`.
 */
export interface Penalty {
  /** Registry name. */
  readonly name: string;
  /** The parameters this penalty is bound to (empty before `bind`). */
  readonly params: readonly Param[];
  /** Binds to parameters and creates any state. Binding twice is an error: make a new penalty instead. */
  bind(params: readonly Param[]): void;
  /**
   * The penalty for this step, strength included: a scalar differentiable with respect to the bound
   * variables and `trainableVariables()`. It may carry a custom gradient (`tf.customGrad`). The caller
   * owns the returned tensor.
   */
  loss(ctx: TrainingContext): tf.Scalar;
  /**
   * Optional closed form: `loss(ctx)` and its gradients without a tape, the same numbers as
   * `tf.variableGrads(() => loss(ctx))` (the conformance kit checks it), or undefined where there is
   * none. It depends only on the variables and the penalty's state, so the training step may call it
   * before the forward pass. The caller owns the tensors.
   */
  gradients?(ctx: TrainingContext): PenaltyGradients | undefined;
  /** Extra variables the training step updates together with the model (HALO's λ's). */
  trainableVariables(): tf.Variable[];
  /**
   * Optimizer settings for `trainableVariables()`. `weightDecay` is coupled (g += wd·θ); undefined means
   * "same as the model". `optimizer` undefined means "a fresh copy of the model's optimizer".
   */
  readonly variableOptions?: { readonly weightDecay?: number; readonly optimizer?: tf.Optimizer };
  /** After each optimizer step (refreshes, thresholds). */
  onStepEnd?(ctx: TrainingContext): void;
  /** After each epoch (adaptive weights, snapshots). */
  onEpochEnd?(ctx: TrainingContext): void;
  /** Scalars for monitoring (HALO λ quantiles, HyperSparse t/s/c). */
  diagnostics?(ctx: TrainingContext): PenaltyDiagnostics;
  /**
   * How a model trained with this penalty is pruned, where its method differs from `DEFAULT_PRUNING`
   * (global scope, strict quantile): HALO states `{ rule: 'quantileNonZero' }`. `@sparsify/train` and
   * the CLI read it (`resolvePruningDefaults`); an explicit scope or rule overrides it.
   */
  readonly pruning?: Partial<PruningDefaults>;
  /** The strength at `ctx`: the global coefficient the penalty is multiplied by. */
  strengthAt(ctx: TrainingContext): number;
  getConfig(): PenaltyConfig;
  /**
   * The non-variable state after `bind()`, as plain JSON data, so that a resumed run continues exactly.
   * Implement it when the penalty keeps state outside `trainableVariables()`; the result shares no memory
   * with the penalty.
   */
  getState?(): PenaltyState;
  /**
   * Restores what `getState()` returned, on a penalty with the same config bound to parameters of the
   * same shapes (after `bind()`). Throws `SparsifyConfigError` on state that does not fit.
   */
  setState?(state: PenaltyState): void;
  /** Frees every tensor and variable this penalty created. Idempotent. */
  dispose(): void;
}

/** What every `BasePenalty` schema has: the strength. */
export interface StrengthOption {
  readonly strength: OptionSpec<StrengthLike, StrengthSchedule>;
}

/** The options of a penalty with a strength and nothing else (`BasePenalty`'s default schema). */
export const STRENGTH_OPTIONS = {
  strength: option.strength({ required: true, description: 'the global coefficient: a number ≥ 0, a strength schedule or its config' }),
};

/**
 * A base for penalties: validates the options against the penalty's schema, stores the bound params,
 * multiplies by the strength, owns and disposes state tensors, and runs everything in `tf.tidy`.
 *
 * A subclass writes `term(ctx)`, the penalty without its strength, differentiable (tfjs ops, or a
 * `tf.customGrad`); optionally `init(params)` to create state; and optionally `closedForm(ctx, strength)`
 * for `gradients`.
 */
/**
 * Marks `BasePenalty` instances from every copy of this package: an application that loads both the
 * ESM and the CJS build (or two versions) has two `BasePenalty` classes, and `instanceof` checks this
 * brand instead of the prototype chain.
 */
const BASE_PENALTY_BRAND = Symbol.for('@sparsify/core:BasePenalty');

export abstract class BasePenalty<S extends OptionSchema & StrengthOption = typeof STRENGTH_OPTIONS> implements Penalty {
  /** `x instanceof BasePenalty` holds for a penalty built on any copy of this package (see the brand). */
  static [Symbol.hasInstance](x: unknown): boolean {
    // Subclasses keep the ordinary prototype check: `x instanceof HaloPenalty` asks about HaloPenalty.
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class being asked about, a subclass included
    if (this !== BasePenalty) return Function.prototype[Symbol.hasInstance].call(this, x);
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BASE_PENALTY_BRAND] === true;
  }
  readonly [BASE_PENALTY_BRAND] = true;
  abstract readonly name: string;
  /** Package that registers `name`; recorded in configs. */
  protected readonly packageName?: string;
  /** The options, validated, with defaults filled in. */
  readonly options: ParsedOptions<S>;
  readonly strength: StrengthSchedule;
  private bound: readonly Param[] = [];
  private readonly owned = new Set<tf.Tensor>();
  private disposed = false;
  /** The strength as a tensor, kept while its value holds (a schedule changes it per epoch, not per step). */
  private strengthScalar: { readonly value: number; readonly tensor: tf.Scalar } | undefined;

  /**
   * Validates `options` against `schema` (default: a strength only); `what` names the penalty in errors
   * (default: the class name).
   */
  constructor(
    options: OptionsOf<S>,
    readonly schema: S = STRENGTH_OPTIONS as unknown as S,
    what: string = new.target.name,
  ) {
    this.options = parseOptions(what, schema, options);
    this.strength = (this.options as unknown as { strength: StrengthSchedule }).strength;
  }

  get params(): readonly Param[] {
    return this.bound;
  }

  bind(params: readonly Param[]): void {
    if (this.disposed) throw new Error(`${this.name}: bind() after dispose()`);
    if (this.bound.length > 0) throw new Error(`${this.name}: already bound to ${this.bound.length} parameters`);
    if (params.length === 0) throw new SparsifyConfigError(`${this.name}: bind() needs at least one parameter`);
    this.bound = params.slice();
    // Inside tidy: initial values passed to tf.variable (e.g. tf.onesLike) are freed; owned state is kept.
    tf.tidy(() => this.init(this.bound));
  }

  /**
   * Creates state for the bound params. Default: none. Runs inside `tf.tidy`: keep state with `own()`;
   * create optimizers lazily elsewhere (tfjs optimizer constructors make scalars they do not keep).
   */
  protected init(_params: readonly Param[]): void {}

  /** Keeps a tensor (or variable) alive until `dispose()`. */
  protected own<T extends tf.Tensor>(tensor: T): T {
    this.owned.add(tf.keep(tensor));
    return tensor;
  }

  /** Disposes an owned tensor early (e.g. when state is refreshed). */
  protected release(tensor: tf.Tensor | undefined): void {
    if (!tensor) return;
    this.owned.delete(tensor);
    tensor.dispose();
  }

  protected requireBound(): readonly Param[] {
    if (this.bound.length === 0) throw new Error(`${this.name}: call bind(params) before use`);
    return this.bound;
  }

  strengthAt(ctx: TrainingContext): number {
    return this.strength(ctx);
  }

  /** The penalty without its strength, differentiable. Runs inside `tf.tidy`. */
  protected abstract term(ctx: TrainingContext): tf.Scalar;

  /**
   * Optional: `loss(ctx)` and its gradients in closed form, computed at `strength`, the scalar `loss`
   * multiplies `term` by (its gradients are those of strength·term). Runs inside `tf.tidy`.
   */
  protected closedForm?(ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients;

  /** Strength 0 gives a constant 0 (no gradients) unless the penalty trains variables of its own. */
  private isOff(strength: number): boolean {
    return strength === 0 && this.trainableVariables().length === 0;
  }

  loss(ctx: TrainingContext): tf.Scalar {
    this.requireBound();
    return tf.tidy(() => {
      const strength = this.strengthAt(ctx);
      if (this.isOff(strength)) return tf.scalar(0);
      return tf.mul(this.term(ctx), this.strengthTensor(strength)) as tf.Scalar;
    });
  }

  gradients(ctx: TrainingContext): PenaltyGradients | undefined {
    if (!this.closedForm) return undefined;
    this.requireBound();
    return tf.tidy(() => {
      const strength = this.strengthAt(ctx);
      if (this.isOff(strength)) return { value: tf.scalar(0), grads: {} };
      return this.closedForm!(ctx, this.strengthTensor(strength)) as unknown as tf.TensorContainer;
    }) as unknown as PenaltyGradients;
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  /**
   * `strength` as a scalar tensor owned by the penalty: a new one only when the value changes, or when
   * a caller freed it (`gradients` hands its tensors out, and a gradient may be the strength itself).
   */
  private strengthTensor(strength: number): tf.Scalar {
    if (this.strengthScalar?.value !== strength || this.strengthScalar.tensor.isDisposed) {
      this.release(this.strengthScalar?.tensor);
      this.strengthScalar = { value: strength, tensor: this.own(tf.scalar(strength)) };
    }
    return this.strengthScalar.tensor;
  }

  /** `{ name, package, options }`, the options as the schema records them. */
  getConfig(): PenaltyConfig {
    const config: PenaltyConfig = { name: this.name, options: optionsConfig(this.schema, this.options) };
    if (this.packageName) config.package = this.packageName;
    return config;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.strengthScalar = undefined;
    for (const tensor of this.owned) if (!tensor.isDisposed) tensor.dispose();
    this.owned.clear();
  }
}
