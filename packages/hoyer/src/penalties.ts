import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  check,
  checkNonNegative,
  checkOneOf,
  groupAxes,
  SparsifyConfigError,
  type GroupAxes,
  type LossAndGradients,
  type Param,
  type PenaltyConfig,
  type StrengthLike,
  type TrainingContext,
} from '@sparsify/core';
import { GROUP_MODES, groupHoyerSquareStep, groupHoyerSquareTerms, ratioStep, ratioTerms, sumOfTerms, termsAndGradients, type ClosedFormTerm, type GroupMode } from './terms.js';

export const PACKAGE_NAME = '@sparsify/hoyer';

export interface HoyerOptions {
  /** Global coefficient λ: a number, a strength schedule, or a schedule config. Required. */
  strength: StrengthLike;
}

export interface GroupHoyerSquareOptions extends HoyerOptions {
  /**
   * Which groups each kernel contributes (penalties.md §5.4):
   * - `auto` (default): input **and** output groups for dense `[in,out]` and conv2d `[kh,kw,in,out]`
   *   kernels, as the reference code does; Hoyer-Square for every other bound parameter.
   * - `both`, `input`, `output`: that grouping for dense and conv2d kernels; Hoyer-Square for rank-1
   *   parameters (biases, BatchNorm vectors); any other parameter (a depthwise or rank-3 kernel, whose
   *   groups are undefined) is an error at `bind`.
   */
  groups?: GroupMode;
  /**
   * Weight ρ of the output term with `both`/`auto`: `[(Σn_in)² + ρ(Σn_out)²]/‖W‖₂²`. Default 1 (the
   * reference shares one λ between the terms). Not accepted with `input` or `output`.
   */
  outputRatio?: number;
}

function checkOptions(what: string, options: unknown, allowed: readonly string[]): void {
  check(typeof options === 'object' && options !== null && !Array.isArray(options), `${what} options`, options, 'an object');
  const unknown = Object.keys(options as object).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new SparsifyConfigError(
      `${what}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}; valid options: ${allowed.join(', ')}`,
    );
  }
  if ((options as { strength?: unknown }).strength === undefined) {
    throw new SparsifyConfigError(
      `${what}: option "strength" is required (a number ≥ 0, a strength schedule or its config); see the README for recommended ranges`,
    );
  }
}

/**
 * Sums one term per bound tensor: `Σ_W term(W)` (penalties.md §5.3: each tensor is one term), as one op
 * on the tape, or without a tape (`lossAndGradients`) in the training step.
 */
abstract class PerTensorPenalty<O extends HoyerOptions> extends BasePenalty<O> {
  protected override readonly packageName = PACKAGE_NAME;
  private terms: ClosedFormTerm[] | undefined;
  private sum: ((...ws: tf.Tensor[]) => tf.Scalar) | undefined;
  /** The closed-form term of each of `params`' tensors. */
  protected abstract closedFormTerms(params: readonly Param[]): ClosedFormTerm[];

  private boundTerms(): ClosedFormTerm[] {
    return (this.terms ??= this.closedFormTerms(this.params));
  }

  protected term(_ctx: TrainingContext): tf.Scalar {
    this.sum ??= sumOfTerms(this.boundTerms());
    return this.sum(...this.params.map((p) => p.variable));
  }

  protected override termAndGradients(_ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    return termsAndGradients(this.boundTerms(), this.params.map((p) => p.variable), strength);
  }
}

/** Σ_W ‖W‖₁/‖W‖₂ or, squared, Σ_W ‖W‖₁²/‖W‖₂²: the tape-free step is one kernel call over all tensors. */
abstract class RatioPenalty extends PerTensorPenalty<HoyerOptions> {
  protected abstract readonly square: boolean;
  protected closedFormTerms(params: readonly Param[]): ClosedFormTerm[] {
    return ratioTerms(this.square, params.length);
  }
  protected override termAndGradients(_ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    return ratioStep(this.params.map((p) => p.variable), this.square, strength);
  }
}

/** Hoyer regulariser `λ·Σ_W ‖W‖₁/‖W‖₂` (DeepHoyer's element-wise ablation, `--reg 2`). */
export class HoyerPenalty extends RatioPenalty {
  readonly name = 'hoyer';
  protected readonly square = false;
  constructor(options: HoyerOptions) {
    checkOptions('hoyer', options, ['strength']);
    super(options);
  }
}

/** Hoyer-Square `λ·Σ_W ‖W‖₁²/‖W‖₂²` (DeepHoyer's element-wise method, `--reg 3`). */
export class HoyerSquarePenalty extends RatioPenalty {
  readonly name = 'hoyer-square';
  protected readonly square = true;
  constructor(options: HoyerOptions) {
    checkOptions('hoyerSquare', options, ['strength']);
    super(options);
  }
}

/**
 * Group-Hoyer-Square `λ·Σ_layers [(Σ_c n_in,c)² + ρ(Σ_o n_out,o)²]/‖W‖₂²` (DeepHoyer's structural
 * method). Parameters without group axes (biases) contribute Hoyer-Square.
 */
export class GroupHoyerSquarePenalty extends PerTensorPenalty<GroupHoyerSquareOptions> {
  readonly name = 'group-hoyer-square';
  readonly groups: GroupMode;
  readonly outputRatio: number;
  private axes: (GroupAxes | null)[] = [];

  constructor(options: GroupHoyerSquareOptions) {
    checkOptions('groupHoyerSquare', options, ['strength', 'groups', 'outputRatio']);
    const groups = options.groups ?? 'auto';
    checkOneOf('groupHoyerSquare groups', groups, GROUP_MODES);
    if (options.outputRatio !== undefined) {
      checkNonNegative('groupHoyerSquare outputRatio', options.outputRatio);
      check(
        groups === 'both' || groups === 'auto',
        'groupHoyerSquare outputRatio',
        options.outputRatio,
        `left out unless groups is "both" or "auto" (groups is ${JSON.stringify(groups)})`,
      );
    }
    super(options);
    this.groups = groups;
    this.outputRatio = options.outputRatio ?? 1;
  }

  protected override init(params: readonly Param[]): void {
    this.axes = params.map((p) => {
      const axes = groupAxes(p);
      if (axes === null && this.groups !== 'auto' && p.shape.length > 1) {
        throw new SparsifyConfigError(
          `groupHoyerSquare: parameter ${p.name} (layout ${JSON.stringify(p.layout)}, shape [${p.shape.join(', ')}]) has no ` +
            `input/output groups, so groups ${JSON.stringify(this.groups)} cannot apply; use groups "auto" ` +
            '(Hoyer-Square for such parameters) or exclude it from the selection',
        );
      }
      return axes;
    });
  }

  /** The group axes used for each bound parameter (null: Hoyer-Square fallback). */
  groupAxesOf(): readonly (GroupAxes | null)[] {
    return this.axes;
  }

  /** Where every parameter is a kernel with its group axes last, the whole step in one kernel call. */
  protected override termAndGradients(ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    const variables = this.params.map((p) => p.variable);
    return groupHoyerSquareStep(variables, this.axes, this.groups, this.outputRatio, strength) ?? super.termAndGradients(ctx, strength);
  }

  protected closedFormTerms(params: readonly Param[]): ClosedFormTerm[] {
    return groupHoyerSquareTerms(params.map((p) => p.shape.length), this.axes, this.groups, this.outputRatio);
  }

  override getConfig(): PenaltyConfig {
    const options: Record<string, unknown> = { strength: this.strength.config, groups: this.groups };
    if (this.groups === 'both' || this.groups === 'auto') options.outputRatio = this.outputRatio;
    return { name: this.name, package: PACKAGE_NAME, options };
  }
}

/** `λ·Σ_W ‖W‖₁/‖W‖₂`, one term per bound tensor. */
export function hoyer(options: HoyerOptions): HoyerPenalty {
  return new HoyerPenalty(options);
}

/** `λ·Σ_W ‖W‖₁²/‖W‖₂²`, one term per bound tensor. */
export function hoyerSquare(options: HoyerOptions): HoyerSquarePenalty {
  return new HoyerSquarePenalty(options);
}

/** `λ·Σ_W [(Σ_c n_in,c)² + ρ(Σ_o n_out,o)²]/‖W‖₂²` per kernel (Hoyer-Square for biases). */
export function groupHoyerSquare(options: GroupHoyerSquareOptions): GroupHoyerSquarePenalty {
  return new GroupHoyerSquarePenalty(options);
}
