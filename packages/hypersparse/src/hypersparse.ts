import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  kthSmallestMagnitude,
  option,
  variadicCustomGrad,
  type OptionsOf,
  type PenaltyDiagnostics,
  type PenaltyGradients,
  type TrainingContext,
} from '@sparsify/core';
import { hyperSparseGradients, sech2FromExp } from './ops.js';

export const PACKAGE_NAME = '@sparsify/hypersparse';

/** s = C/t puts the inflection point of sech² at the threshold: C = atanh(1/√3) ≈ 0.658479, 0.6585 in the reference code. */
export const HYPERSPARSE_C = 0.6585;

/** ART's α schedule defaults: λ_init = 5e-6 (the reference code; its README's 5e-4 is wrong), η = 1.05. See the README, "ART". */
export const ART_ALPHA_INIT = 5e-6;
export const ART_GROWTH = 1.05;

/**
 * Lower bound on t used for s = C/t when 0 < t < 1e-12 (denormal weights), so that s stays finite in
 * float32. t = 0 exactly skips the step instead (see `HyperSparseOptions`).
 */
export const MIN_THRESHOLD = 1e-12;

export const HYPERSPARSE_OPTIONS = {
  sparsity: option.sparsity({
    required: true,
    description: 'target sparsity κ in [0, 1): the threshold t = a(⌊κN⌋) over all bound weights is recomputed every step; 0 disables HS',
  }),
  strength: option.strength({
    default: { kind: 'exponentialGrowth', initial: ART_ALPHA_INIT, rate: ART_GROWTH, beginEpoch: 0 },
    description:
      'α: ART grows it ×1.05 per epoch from 5e-6 (λ_init ∈ [5e-7, 5e-5], η ∈ [1.03, 1.1] in the SMAC search); for warm-up + ART pass art({...}).strength',
  }),
  C: option.number({
    default: HYPERSPARSE_C,
    min: 0,
    exclusiveMin: true,
    description: 's = C/t; 0.6585 ≈ atanh(1/√3) puts the inflection point of sech² at the threshold',
  }),
  thresholdEvery: option.number({
    default: 1,
    min: 1,
    integer: true,
    description:
      'recompute t every this many steps (1 = every step, as the reference; larger reuses the last t and s in between: a documented deviation that saves the O(N) select)',
  }),
};

export type HyperSparseOptions = OptionsOf<typeof HYPERSPARSE_OPTIONS>;

/** sech²(x) = 4u/(1+u)² with u = e^(−2x), for x ≥ 0: exact, never overflows, underflows to 0. */
export function sech2(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => sech2FromExp(tf.exp(tf.mul(x, tf.scalar(-2)))));
}

/**
 * Value 0 and an explicit zero gradient for every weight: "no HS" that still connects the weights, so
 * `tf.variableGrads` over the penalty alone returns zeros instead of throwing "no connection".
 */
const zeroGradient = variadicCustomGrad<tf.Scalar>((weights) => {
  const shapes = weights.map((w) => w.shape);
  return { value: tf.scalar(0), gradFunc: () => shapes.map((shape) => tf.zeros(shape)) };
});

/**
 * HyperSparse (Glandorf, Kaiser, Rosenhahn, arXiv 2308.07163; the math: README, "The math"): over all bound
 * weights w ∈ R^N as one vector, with aᵢ = |wᵢ|, A = Σa, T = Σ tanh(s·a), t = a(⌊κN⌋) (no gradient) and
 * s = C/t, the loss is `L = A·T/sg(T) − A`, whose **value is 0** and whose gradient is
 * `∂L/∂wᵢ = sign(wᵢ)·c·sech²(s|wᵢ|)`, c = s·A/T ≥ 1. Implemented as a `tf.customGrad` with the
 * closed-form gradient (TF.js has no stop-gradient). Never monitor the value: use `diagnostics()`.
 */
export class HyperSparsePenalty extends BasePenalty<typeof HYPERSPARSE_OPTIONS> {
  readonly name = 'hypersparse';
  protected override readonly packageName = PACKAGE_NAME;
  readonly sparsity: number;
  readonly C: number;
  readonly thresholdEvery: number;
  private t = 0;
  private s = 0;
  private thresholdStep: number | undefined;
  private stats: tf.Tensor | undefined;
  private cValue: number | undefined;

  constructor(options: HyperSparseOptions) {
    super(options, HYPERSPARSE_OPTIONS, 'hyperSparse');
    ({ sparsity: this.sparsity, C: this.C, thresholdEvery: this.thresholdEvery } = this.options);
  }

  protected term(ctx: TrainingContext): tf.Scalar {
    const variables = this.params.map((p) => p.variable);
    const s = this.scaleFor(ctx, variables);
    return s === undefined ? zeroGradient(...variables) : this.gradientOp(s)(...variables);
  }

  /** The same step without a tape: value 0, and per weight tensor α·c·sign(w)·sech²(s|w|), one pass over all weights. */
  protected override closedForm(ctx: TrainingContext, _strength: tf.Scalar): PenaltyGradients {
    const variables = this.params.map((p) => p.variable);
    const s = this.scaleFor(ctx, variables);
    if (s === undefined) return { value: tf.scalar(0), grads: {} };
    // α as a number (`strength` holds the same value): the op scales every gradient by α·c itself.
    const [, ...gs] = this.forward(variables, s, this.strengthAt(ctx));
    return { value: tf.scalar(0), grads: Object.fromEntries(variables.map((v, j) => [v.name, gs[j]])) };
  }

  /** s = C/t for this step, or undefined where HS is skipped (value 0, no gradient). */
  private scaleFor(ctx: TrainingContext, variables: tf.Variable[]): number | undefined {
    // κ = 0: no pruning, so no HS (the reference prunes the smallest weight and can produce NaN).
    if (this.sparsity === 0) {
      this.record(0, 0, undefined);
      return undefined;
    }
    const t = this.threshold(ctx, variables);
    // t = 0: ⌊κN⌋+1 weights are already exactly 0, so the target is met by exact zeros; pushing the
    // rest is pointless and s = C/0 is infinite. Skip HS for this step (value 0, no gradient).
    if (t === 0) {
      this.record(0, 0, undefined);
      return undefined;
    }
    return this.C / Math.max(t, MIN_THRESHOLD);
  }

  /** One pass over all the weights (ops.ts): [[c, α·c], g₁, …, gₙ]. One exponential per weight and step. */
  private forward(weights: tf.Tensor[], s: number, alpha: number): tf.Tensor[] {
    // T > 0 here: t > 0, so every weight from index ⌊κN⌋ up has s·a ≥ C and tanh(s·a) ≥ tanh(C).
    const outputs = hyperSparseGradients(weights, { s, alpha });
    this.record(this.t, s, outputs[0]);
    return outputs;
  }

  /** t = a(⌊κN⌋) over all bound weights: a radix select over the weights in place (core's kthSmallestMagnitude), hinted with the last t. */
  private threshold(ctx: TrainingContext, variables: tf.Variable[]): number {
    const due = this.thresholdStep === undefined || ctx.step < this.thresholdStep || ctx.step - this.thresholdStep >= this.thresholdEvery;
    if (!due) return this.t;
    const total = variables.reduce((n, v) => n + v.size, 0);
    // The last threshold as a hint: weights move little per step, so the new one is usually near it.
    this.t = kthSmallestMagnitude(variables, Math.floor(this.sparsity * total), Number.isFinite(this.t) ? this.t : undefined);
    this.thresholdStep = ctx.step;
    return this.t;
  }

  /** Value 0; gradient dy·c·sign(w)·sech²(s|w|) for every input: the pass at α = 1, scaled by dy backward. */
  private gradientOp(s: number): (...weights: tf.Tensor[]) => tf.Scalar {
    return variadicCustomGrad<tf.Scalar>((weights, save) => {
      const [, ...gs] = this.forward(weights, s, 1);
      save(gs);
      return { value: tf.scalar(0), gradFunc: (dy, saved) => saved.map((g) => tf.mul(g, dy)) };
    });
  }

  /** Records t, s and the pass's [c, α·c] (kept, and read only when diagnostics ask for c). */
  private record(t: number, s: number, stats: tf.Tensor | undefined): void {
    this.t = t;
    this.s = s;
    this.release(this.stats);
    this.stats = stats ? this.own(stats) : undefined;
    this.cValue = stats ? undefined : 0;
  }

  /**
   * `{ alpha, t, s, c, kappa }` of the last step: α at `ctx`, the threshold t, s = C/t and
   * c = s·A/T (read from the device on the first call after a step). t = s = c = 0 before the first
   * step with α > 0, at κ = 0, and on skipped steps (t = 0). The penalty's value is always 0: log these.
   */
  diagnostics(ctx: TrainingContext): PenaltyDiagnostics {
    if (this.cValue === undefined) this.cValue = this.stats ? this.stats.dataSync()[0] : 0;
    return { alpha: this.strengthAt(ctx), t: this.t, s: this.s, c: this.cValue, kappa: this.sparsity };
  }
}

/** The HyperSparse penalty over all bound weights (see `HyperSparsePenalty`). */
export function hyperSparse(options: HyperSparseOptions): HyperSparsePenalty {
  return new HyperSparsePenalty(options);
}
