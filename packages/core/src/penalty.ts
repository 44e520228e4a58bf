import * as tf from '@tensorflow/tfjs';
import type { TrainingContext } from './context.js';
import { SparsifyConfigError } from './errors.js';
import type { Param } from './params.js';
import { resolveStrength, type StrengthLike, type StrengthSchedule } from './strength.js';

/** JSON-serializable description of a penalty: enough to rebuild it with `penaltyFromConfig`. */
export interface PenaltyConfig {
  /** Registry name, e.g. `halo`. */
  name: string;
  /** npm package that registers the name, so a config can load a penalty that is not yet registered. */
  package?: string;
  /** The options the factory takes. */
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

/**
 * A penalty's gradient with respect to one variable w (bound, or one of its `trainableVariables()`),
 * from `Penalty.lossAndGradients`: either
 * - `scale·tensor` (scale 1 when absent);
 * - `a·sign(w) + b·w` with sign(0) = 0 for scalars a and b (lasso's and the Hoyer ratios' gradients);
 * - `w·(rows[i] + cols[o])` for w laid out [K, I, O] (`groupLayout`), as `groupScale` computes it, with
 *   `rows` [I] and `cols` [O] (Group-Hoyer-Square's gradient).
 *
 * The training step's fused momentum update applies each inside its own pass over w: the last two are
 * never written out as tensors, and the first is not scaled in a pass of its own. `gradientTensor` turns
 * one into a plain tensor.
 */
export type PenaltyGradient =
  | { readonly variable: tf.Variable; readonly tensor: tf.Tensor; readonly scale?: tf.Scalar }
  | { readonly variable: tf.Variable; readonly a: tf.Scalar; readonly b: tf.Scalar }
  | { readonly variable: tf.Variable; readonly rows: tf.Tensor1D; readonly cols: tf.Tensor1D };

/** `Penalty.lossAndGradients`' result: the term (strength included) and one gradient per variable it depends on. */
export interface LossAndGradients {
  readonly value: tf.Scalar;
  readonly gradients: readonly PenaltyGradient[];
}

/**
 * The one penalty interface. A penalty is bound once to the parameters it acts on, then asked for a
 * differentiable scalar every training step. Everything else is optional.
 *
 * Lifecycle: `bind(params)` → per step `onStepBegin(ctx)` before the forward pass, `loss(ctx)` (inside
 * the tape the training step differentiates) or `lossAndGradients(ctx)`, `onStepEnd(ctx)` after the
 * update → per epoch `onEpochEnd(ctx)` → `dispose()`.
 */
export interface Penalty {
  /** Registry name. */
  readonly name: string;
  /** The parameters this penalty is bound to (empty before `bind`). */
  readonly params: readonly Param[];
  /**
   * Binds to parameters and creates any state (trainable variables, adaptive weights). Binding twice
   * is an error: make a new penalty instead.
   */
  bind(params: readonly Param[]): void;
  /**
   * The penalty term for this step, strength included: a scalar that is differentiable with respect to
   * the bound variables and to `trainableVariables()`. It may carry a custom gradient (`tf.customGrad`)
   * whose value is 0 (HyperSparse). Reads variables directly; the caller owns the returned tensor.
   */
  loss(ctx: TrainingContext): tf.Scalar;
  /**
   * Optional fast path for training steps: `loss(ctx)` and its gradient with respect to the bound
   * variables and `trainableVariables()`, computed without a tape (no tape, no backward pass, and for
   * the `a·sign(w) + b·w` and `w·(rows[i] + cols[o])` forms of `PenaltyGradient` no full-size gradient
   * pass either). It must agree
   * with differentiating `loss(ctx)`; the conformance kit checks that it does. Undefined where the
   * penalty has no such form (it is then differentiated on the tape). The caller owns the tensors.
   */
  lossAndGradients?(ctx: TrainingContext): LossAndGradients | undefined;
  /** Extra variables the training step updates together with the model (HALO's λ's). */
  trainableVariables(): tf.Variable[];
  /**
   * Optimizer settings for `trainableVariables()`. `weightDecay` is coupled (g += wd·θ); undefined
   * means "same as the model". `optimizer` undefined means "a fresh copy of the model's optimizer".
   */
  readonly variableOptions?: { readonly weightDecay?: number; readonly optimizer?: tf.Optimizer };
  /**
   * At the start of a training step, before the forward pass, when `lossAndGradients(ctx)` will follow
   * in the same step with the weights unchanged: a penalty may start its gradient's work here so that
   * it overlaps the forward and backward passes (HyperSparse's pass on a helper thread). The training
   * step runs it inside `tf.tidy`: `tf.keep` what is needed later.
   */
  onStepBegin?(ctx: TrainingContext): void;
  /** After each optimizer step (refreshes, thresholds). */
  onStepEnd?(ctx: TrainingContext): void;
  /** After each epoch (adaptive weights, snapshots). */
  onEpochEnd?(ctx: TrainingContext): void;
  /** Scalars for monitoring (HALO λ quantiles, HyperSparse t/s/c). */
  diagnostics?(ctx: TrainingContext): PenaltyDiagnostics;
  /** The strength at `ctx` (the global coefficient the term is multiplied by). */
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
   * same shapes (call after `bind()`). Throws `SparsifyConfigError` on state that does not fit; frees the
   * tensors it replaces.
   */
  setState?(state: PenaltyState): void;
  /** Frees every tensor and variable this penalty created. Idempotent. */
  dispose(): void;
}

/** Options every built-in penalty accepts. */
export interface PenaltyOptions {
  /** Global coefficient: a number, a strength schedule, or a schedule config. */
  strength?: StrengthLike;
}

/**
 * A convenient base for penalties: stores the bound params, resolves the strength schedule, owns and
 * disposes state tensors, and wraps `loss` in `tf.tidy`. Subclasses implement `term(ctx)` (without
 * the strength) and may override `init(params)` to create state.
 */
export abstract class BasePenalty<O extends object = PenaltyOptions> implements Penalty {
  abstract readonly name: string;
  /** Package that registers `name`; recorded in configs. */
  protected readonly packageName?: string;
  readonly strength: StrengthSchedule;
  readonly options: O;
  private bound: readonly Param[] = [];
  private readonly owned = new Set<tf.Tensor>();
  private disposed = false;
  /** The strength as a tensor, kept while its value holds (a schedule changes it per epoch, not per step). */
  private strengthScalar: { readonly value: number; readonly tensor: tf.Scalar } | undefined;

  constructor(options: O & PenaltyOptions, defaultStrength?: StrengthLike) {
    this.options = options;
    const strength = options.strength ?? defaultStrength;
    if (strength === undefined) {
      throw new SparsifyConfigError(
        `${new.target.name}: option "strength" is required (a number ≥ 0, or a strength schedule)`,
      );
    }
    this.strength = resolveStrength(strength, `${new.target.name} strength`);
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

  /** The penalty term without the strength. Runs inside `tf.tidy`. */
  protected abstract term(ctx: TrainingContext): tf.Scalar;

  loss(ctx: TrainingContext): tf.Scalar {
    this.requireBound();
    return tf.tidy(() => {
      const strength = this.strengthAt(ctx);
      if (strength === 0 && this.trainableVariables().length === 0) return tf.scalar(0);
      return tf.mul(this.term(ctx), this.strengthTensor(strength)) as tf.Scalar;
    });
  }

  /**
   * The term without the strength, and its gradients at upstream `strength` (the gradients of
   * strength·term, as the tape's backward pass would compute them from dy = strength), without a tape:
   * for `lossAndGradients`. Runs inside `tf.tidy`. Default: none (the penalty is differentiated on the
   * tape).
   */
  protected termAndGradients?(ctx: TrainingContext, strength: tf.Scalar): LossAndGradients;

  lossAndGradients(ctx: TrainingContext): LossAndGradients | undefined {
    if (!this.termAndGradients) return undefined;
    this.requireBound();
    return tf.tidy(() => {
      const strength = this.strengthAt(ctx);
      // As loss(): a constant 0, without gradients, at strength 0 unless the penalty trains variables.
      if (strength === 0 && this.trainableVariables().length === 0) return { value: tf.scalar(0), gradients: [] };
      const alpha = this.strengthTensor(strength);
      const { value, gradients } = this.termAndGradients!(ctx, alpha);
      return { value: tf.mul(value, alpha), gradients } as unknown as tf.TensorContainer;
    }) as unknown as LossAndGradients;
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  /**
   * `strength` as a scalar tensor owned by the penalty: a new one only when the value changes, or when
   * a caller freed it (`lossAndGradients` hands its tensors out, and a gradient may be the strength).
   */
  private strengthTensor(strength: number): tf.Scalar {
    if (this.strengthScalar?.value !== strength || this.strengthScalar.tensor.isDisposed) {
      this.release(this.strengthScalar?.tensor);
      this.strengthScalar = { value: strength, tensor: this.own(tf.scalar(strength)) };
    }
    return this.strengthScalar.tensor;
  }

  /** Options as given, the strength as its config; override to add defaults. */
  getConfig(): PenaltyConfig {
    const options: Record<string, unknown> = { ...(this.options as Record<string, unknown>) };
    options.strength = this.strength.config;
    const config: PenaltyConfig = { name: this.name, options };
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
