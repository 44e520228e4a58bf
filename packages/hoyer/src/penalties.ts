import * as tf from '@tensorflow/tfjs';
import {
  absAndSquareSums,
  BasePenalty,
  check,
  groupAxes,
  groupScale,
  option,
  signLinear,
  SparsifyConfigError,
  variadicCustomGrad,
  type GroupAxes,
  type OptionsOf,
  type Param,
  type PenaltyConfig,
  type PenaltyGradients,
  type TrainingContext,
} from '@sparsify/core';
import { groupStep, HOYER_DELTA, ratioStep, type GroupAttrs } from './ops.js';

export const PACKAGE_NAME = '@sparsify/hoyer';

/** Which groupings of a kernel Group-HS sums (see the README). */
export type GroupMode = 'auto' | 'input' | 'output' | 'both';
export const GROUP_MODES: readonly GroupMode[] = ['auto', 'input', 'output', 'both'];

const strength = (recommended: string) =>
  option.strength({
    required: true,
    description: `global coefficient λ (number, schedule or schedule config); the penalty is summed over tensors, not averaged. ${recommended}`,
  });

export const HOYER_OPTIONS = { strength: strength('LeNet-300-100: 2e-2, LeNet-5: 1e-2 (COMP6248).') };
export const HOYER_SQUARE_OPTIONS = { strength: strength('LeNet-300-100: 2e-4, LeNet-5: 1e-4 (COMP6248).') };
export const GROUP_HOYER_SQUARE_OPTIONS = {
  strength: strength('LeNet-300-100: 2e-3, LeNet-5: 1e-1 (COMP6248).'),
  groups: option.oneOf(GROUP_MODES, {
    default: 'auto',
    description:
      'auto: input and output groups for dense/conv2d kernels, Hoyer-Square elsewhere; both|input|output: that grouping (error for kernels without groups)',
  }),
  outputRatio: option.number({
    min: 0,
    description: 'weight ρ of the output-group term with groups both/auto (default 1, as the reference)',
  }),
};

export type HoyerOptions = OptionsOf<typeof HOYER_OPTIONS>;
export type GroupHoyerSquareOptions = OptionsOf<typeof GROUP_HOYER_SQUARE_OPTIONS>;

/**
 * How each tensor of a sum is taken: Group-HS with `group` attrs where `grouped[j]` (a kernel with its
 * input and output axes last), else Hoyer or Hoyer-Square.
 */
interface Terms {
  readonly square: boolean;
  readonly group?: GroupAttrs;
  readonly grouped: readonly boolean[];
}

const pick = <T>(xs: readonly T[], mask: readonly boolean[], want: boolean) => xs.filter((_, j) => mask[j] === want);

/**
 * Σⱼ termⱼ(wⱼ) at upstream dy, and with `gradients` each dy·∂/∂wⱼ: the grouped kernels through one
 * `groupStep`, the rest through one `ratioStep`, then one full-size pass per tensor for its gradient.
 */
function evaluate(ws: readonly tf.Tensor[], terms: Terms, dy: tf.Tensor, gradients: boolean): { value: tf.Scalar; grads: tf.Tensor[] } {
  const values: tf.Tensor[] = [];
  const grads: tf.Tensor[] = new Array(ws.length);
  const index = (want: boolean) => ws.flatMap((_, j) => (terms.grouped[j] === want ? [j] : []));
  const kernels = pick(ws, terms.grouped, true);
  if (kernels.length > 0) {
    const [value, ...factors] = groupStep(kernels, dy, terms.group!);
    values.push(value);
    if (gradients)
      index(true).forEach((j, k) => (grads[j] = groupScale(ws[j], factors[2 * k] as tf.Tensor1D, factors[2 * k + 1] as tf.Tensor1D)));
  }
  const others = pick(ws, terms.grouped, false);
  if (others.length > 0) {
    const [value, ...ab] = ratioStep(
      others.flatMap((w) => absAndSquareSums(w)),
      dy,
      { square: terms.square, delta: HOYER_DELTA },
    );
    values.push(value);
    if (gradients) index(false).forEach((j, k) => (grads[j] = signLinear(ws[j], ab[2 * k], ab[2 * k + 1])));
  }
  return { value: (values.length === 1 ? values[0] : tf.add(values[0], values[1])) as tf.Scalar, grads };
}

/** The sum as one differentiable op (for `loss` and custom loops): the value at dy = 1, the gradients at dy. */
function sumOp(terms: Terms): (...ws: tf.Tensor[]) => tf.Scalar {
  return variadicCustomGrad<tf.Scalar>((ws, save) => {
    save(ws);
    return { value: evaluate(ws, terms, tf.scalar(1), false).value, gradFunc: (dy, saved) => evaluate(saved, terms, dy, true).grads };
  });
}

/** Σ_W term(W) over the bound tensors, each tensor one term, as one op on the tape or in closed form. */
abstract class HoyerFamilyPenalty<S extends typeof HOYER_OPTIONS | typeof GROUP_HOYER_SQUARE_OPTIONS> extends BasePenalty<S> {
  protected override readonly packageName = PACKAGE_NAME;
  private op: ((...ws: tf.Tensor[]) => tf.Scalar) | undefined;
  protected abstract terms(): Terms;

  protected term(_ctx: TrainingContext): tf.Scalar {
    this.op ??= sumOp(this.terms());
    return this.op(...this.params.map((p) => p.variable));
  }

  protected override closedForm(_ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    const variables = this.params.map((p) => p.variable);
    const { value, grads } = evaluate(variables, this.terms(), strength, true);
    return { value: tf.mul(value, strength) as tf.Scalar, grads: Object.fromEntries(variables.map((v, j) => [v.name, grads[j]])) };
  }
}

/** Hoyer regulariser `λ·Σ_W ‖W‖₁/‖W‖₂` (DeepHoyer's element-wise ablation, `--reg 2`). */
export class HoyerPenalty extends HoyerFamilyPenalty<typeof HOYER_OPTIONS> {
  readonly name = 'hoyer';
  constructor(options: HoyerOptions) {
    super(options, HOYER_OPTIONS, 'hoyer');
  }
  protected terms(): Terms {
    return { square: false, grouped: this.params.map(() => false) };
  }
}

/** Hoyer-Square `λ·Σ_W ‖W‖₁²/‖W‖₂²` (DeepHoyer's element-wise method, `--reg 3`). */
export class HoyerSquarePenalty extends HoyerFamilyPenalty<typeof HOYER_OPTIONS> {
  readonly name = 'hoyer-square';
  constructor(options: HoyerOptions) {
    super(options, HOYER_SQUARE_OPTIONS, 'hoyerSquare');
  }
  protected terms(): Terms {
    return { square: true, grouped: this.params.map(() => false) };
  }
}

/** ρ of each grouping (ρ = 0 leaves it out: its term and its gradient are 0), and δ. */
function groupAttrs(groups: GroupMode, outputRatio: number): GroupAttrs {
  return { rhoIn: groups === 'output' ? 0 : 1, rhoOut: groups === 'input' ? 0 : groups === 'output' ? 1 : outputRatio, delta: HOYER_DELTA };
}

/**
 * Group-Hoyer-Square `λ·Σ_layers [(Σ_c n_in,c)² + ρ(Σ_o n_out,o)²]/‖W‖₂²` (DeepHoyer's structural
 * method). Parameters without group axes (biases) contribute Hoyer-Square.
 */
export class GroupHoyerSquarePenalty extends HoyerFamilyPenalty<typeof GROUP_HOYER_SQUARE_OPTIONS> {
  readonly name = 'group-hoyer-square';
  readonly groups: GroupMode;
  readonly outputRatio: number;
  private axes: (GroupAxes | null)[] = [];

  constructor(options: GroupHoyerSquareOptions) {
    super(options, GROUP_HOYER_SQUARE_OPTIONS, 'groupHoyerSquare');
    this.groups = this.options.groups;
    const { outputRatio } = this.options;
    check(
      outputRatio === undefined || this.groups === 'both' || this.groups === 'auto',
      'groupHoyerSquare outputRatio',
      outputRatio,
      `left out unless groups is "both" or "auto" (groups is ${JSON.stringify(this.groups)})`,
    );
    this.outputRatio = outputRatio ?? 1;
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

  /** The group axes used for each bound parameter (null: Hoyer-Square). */
  groupAxesOf(): readonly (GroupAxes | null)[] {
    return this.axes;
  }

  protected terms(): Terms {
    return { square: true, group: groupAttrs(this.groups, this.outputRatio), grouped: this.axes.map((a) => a !== null) };
  }

  /** The options, with ρ as used where it applies (both groupings). */
  override getConfig(): PenaltyConfig {
    const config = super.getConfig();
    if (this.groups === 'both' || this.groups === 'auto') config.options.outputRatio = this.outputRatio;
    return config;
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

const HOYER: Terms = { square: false, grouped: [false] };
const HOYER_SQUARE: Terms = { square: true, grouped: [false] };

/** ‖W‖₁ / ‖W‖₂ (range [1, √N]; 0 for an all-zero tensor). Scale-invariant. */
export const hoyerTerm: (w: tf.Tensor) => tf.Scalar = sumOp(HOYER);

/** ‖W‖₁² / ‖W‖₂² (range [1, N]; 0 for an all-zero tensor). Counts like ℓ0: k equal non-zeros give k. */
export const hoyerSquareTerm: (w: tf.Tensor) => tf.Scalar = sumOp(HOYER_SQUARE);

/**
 * Group-Hoyer-Square of one tensor: `[(Σ_c n_in,c)² + ρ·(Σ_o n_out,o)²] / ‖W‖₂²` for a kernel with input and
 * output groups (`axes` from core's `groupAxes`; a kernel whose group axes are not its last two is
 * transposed so that they are), Hoyer-Square where `axes` is null (biases, BatchNorm vectors, depthwise
 * kernels).
 */
export function groupHoyerSquareTerm(w: tf.Tensor, axes: GroupAxes | null, groups: GroupMode = 'auto', outputRatio = 1): tf.Scalar {
  const term = sumOp({ square: true, group: groupAttrs(groups, outputRatio), grouped: [axes !== null] });
  if (axes === null || (axes.inputAxis === w.rank - 2 && axes.outputAxis === w.rank - 1)) return term(w);
  const rest = w.shape.map((_, i) => i).filter((i) => i !== axes.inputAxis && i !== axes.outputAxis);
  return tf.tidy(() => term(tf.transpose(w, [...rest, axes.inputAxis, axes.outputAxis])));
}
