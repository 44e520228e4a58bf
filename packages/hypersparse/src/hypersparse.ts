import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  check,
  checkInteger,
  checkPositive,
  checkSparsity,
  exponentialGrowth,
  kthSmallestMagnitude,
  runLoopKernel,
  startLoopKernel,
  type PendingLoopKernel,
  type LossAndGradients,
  SparsifyConfigError,
  variadicCustomGrad,
  type PenaltyConfig,
  type PenaltyDiagnostics,
  type StrengthLike,
  type TrainingContext,
} from '@sparsify/core';

import { HYPERSPARSE_FORWARD, sech2FromExp } from './kernels.js';

export const PACKAGE_NAME = '@sparsify/hypersparse';

/** s = C/t puts the inflection point of sech² at the threshold: C = atanh(1/√3) ≈ 0.658479, 0.6585 in the reference code. */
export const HYPERSPARSE_C = 0.6585;

/** ART's α schedule defaults (penalties.md §6.3): λ_init = 5e-6 (the code; the README's 5e-4 is wrong), η = 1.05. */
export const ART_ALPHA_INIT = 5e-6;
export const ART_GROWTH = 1.05;

/**
 * Lower bound on t used for s = C/t when 0 < t < 1e-12 (denormal weights), so that s stays finite in
 * float32. t = 0 exactly skips the step instead (see `HyperSparseOptions`).
 */
export const MIN_THRESHOLD = 1e-12;

export interface HyperSparseOptions {
  /** Target sparsity κ in [0, 1): t = a(⌊κN⌋) over all bound weights. κ = 0: no HS at all. Required. */
  sparsity: number;
  /**
   * α: a number, a strength schedule or its config. Default: ART's
   * `exponentialGrowth({ initial: 5e-6, rate: 1.05 })` (α_k = 5e-6·1.05^epoch). For warm-up + ART pass
   * `art({...}).strength`, which starts growing at `warmupEpochs`.
   */
  strength?: StrengthLike;
  /** The constant C of s = C/t (default 0.6585, the reference code's value). */
  C?: number;
  /**
   * Recompute the threshold t every this many steps (default 1: every step, as the reference). Larger
   * values reuse the last t (and s) in between: a documented deviation that saves the
   * O(N) select on large models. A, T and c are recomputed every step regardless.
   */
  thresholdEvery?: number;
}

const OPTION_NAMES = ['sparsity', 'strength', 'C', 'thresholdEvery'];

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
 * HyperSparse (Glandorf, Kaiser, Rosenhahn, arXiv 2308.07163), penalties.md §6.1–6.2: over all bound
 * weights w ∈ R^N as one vector, with aᵢ = |wᵢ|, A = Σa, T = Σ tanh(s·a), t = a(⌊κN⌋) (no gradient) and
 * s = C/t, the loss is `L = A·T/sg(T) − A`, whose **value is 0** and whose gradient is
 * `∂L/∂wᵢ = sign(wᵢ)·c·sech²(s|wᵢ|)`, c = s·A/T ≥ 1. Implemented as a `tf.customGrad` with the
 * closed-form gradient (TF.js has no stop-gradient). Never monitor the value: use `diagnostics()`.
 */
export class HyperSparsePenalty extends BasePenalty<HyperSparseOptions> {
  readonly name = 'hypersparse';
  protected override readonly packageName = PACKAGE_NAME;
  readonly sparsity: number;
  readonly C: number;
  readonly thresholdEvery: number;
  private t = 0;
  private s = 0;
  private thresholdStep: number | undefined;
  private cTensor: tf.Tensor | undefined;
  private cValue: number | undefined;
  /** What `onStepBegin` did: for which step and weights (data ids), with which s, and the pass it started. */
  private begun: { step: number; weights: readonly object[]; s: number; pass?: PendingLoopKernel } | undefined;
  /** The last joined pass's α·c and h's (handed to the training step, kept from tidies): freed next step. */
  private handedOut: tf.Tensor[] = [];

  constructor(options: HyperSparseOptions) {
    check(typeof options === 'object' && options !== null && !Array.isArray(options), 'hyperSparse options', options, 'an object');
    const unknown = Object.keys(options).filter((k) => !OPTION_NAMES.includes(k));
    if (unknown.length > 0) {
      throw new SparsifyConfigError(
        `hyperSparse: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}; valid options: ${OPTION_NAMES.join(', ')}`,
      );
    }
    if (options.sparsity === undefined) {
      throw new SparsifyConfigError('hyperSparse: option "sparsity" (κ, the target sparsity in [0, 1)) is required');
    }
    checkSparsity('hyperSparse sparsity', options.sparsity);
    if (options.C !== undefined) checkPositive('hyperSparse C', options.C);
    if (options.thresholdEvery !== undefined) checkInteger('hyperSparse thresholdEvery', options.thresholdEvery, 1);
    super(options, exponentialGrowth({ initial: ART_ALPHA_INIT, rate: ART_GROWTH }));
    this.sparsity = options.sparsity;
    this.C = options.C ?? HYPERSPARSE_C;
    this.thresholdEvery = options.thresholdEvery ?? 1;
  }

  protected term(ctx: TrainingContext): tf.Scalar {
    const variables = this.params.map((p) => p.variable);
    const s = this.scaleFor(ctx, variables);
    return s === undefined ? zeroGradient(...variables) : this.gradientOp(s)(...variables);
  }

  /**
   * The same step without a tape: value 0, and per weight tensor the gradient as h scaled by α·c, which
   * the training step's fused update multiplies and adds inside its own pass.
   */
  protected override termAndGradients(ctx: TrainingContext, _strength: tf.Scalar): LossAndGradients {
    const variables = this.params.map((p) => p.variable);
    const joined = this.joinBegun(ctx, variables);
    const s = joined ? this.s : this.scaleFor(ctx, variables);
    if (s === undefined) return { value: tf.scalar(0), gradients: [] };
    // α·c comes out of the pass itself, from α as a number (`strength` holds the same value).
    const [, scale, ...hs] = joined ?? this.forward(variables, s, this.strengthAt(ctx));
    return { value: tf.scalar(0), gradients: variables.map((variable, j) => ({ variable, tensor: hs[j], scale: scale as tf.Scalar })) };
  }

  /**
   * Takes this step's threshold and starts its pass on the helper thread (threaded wasm only; core's
   * `startLoopKernel`), so that the pass runs during the forward and backward passes and
   * `lossAndGradients` only waits for it. Elsewhere the pass runs in `lossAndGradients`.
   */
  onStepBegin(ctx: TrainingContext): void {
    this.settle();
    const alpha = this.strengthAt(ctx);
    if (alpha === 0 || this.params.length === 0) return;
    const variables = this.params.map((p) => p.variable);
    const s = this.scaleFor(ctx, variables);
    const pass = s === undefined ? undefined : startLoopKernel(HYPERSPARSE_FORWARD, variables, { s, alpha });
    this.begun = { step: ctx.step, weights: variables.map((v) => v.dataId), s: s ?? 0, pass };
  }

  /**
   * The outputs of the pass `onStepBegin` started, if it did, for this step and these weights. If the
   * weights changed since, the pass is discarded and t taken again from the new ones.
   */
  private joinBegun(ctx: TrainingContext, variables: tf.Variable[]): tf.Tensor[] | undefined {
    const begun = this.begun;
    this.begun = undefined;
    if (!begun) return undefined;
    const outputs = begun.pass?.join() ?? [];
    if (begun.step !== ctx.step || variables.some((v, j) => v.dataId !== begun.weights[j])) {
      tf.dispose(outputs);
      this.thresholdStep = undefined;
      return undefined;
    }
    if (!begun.pass) return undefined;
    this.record(this.t, begun.s, outputs[0]);
    this.handedOut = outputs.slice(1);
    return outputs;
  }

  /** Waits for a pass nobody joined, and frees the α·c and h's the last joined one handed out. */
  private settle(): void {
    if (this.begun?.pass) tf.dispose(this.begun.pass.join());
    this.begun = undefined;
    tf.dispose(this.handedOut);
    this.handedOut = [];
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

  /**
   * One pass over all the weights (a loop kernel on cpu and wasm; kernels.ts): c = s·A/T, α·c, and
   * h = sign(w)·sech²(s|w|) per weight tensor. One exponential per weight and step.
   */
  private forward(weights: tf.Tensor[], s: number, alpha: number): tf.Tensor[] {
    // T > 0 here: t > 0, so every weight from index ⌊κN⌋ up has s·a ≥ C and tanh(s·a) ≥ tanh(C).
    const outputs = runLoopKernel(HYPERSPARSE_FORWARD, weights, { s, alpha });
    this.record(this.t, s, outputs[0]);
    return outputs;
  }

  /** t = a(⌊κN⌋) over all bound weights: a radix select over the weights in place (core's kthSmallestMagnitude), hinted with the last t. */
  private threshold(ctx: TrainingContext, variables: tf.Variable[]): number {
    const due =
      this.thresholdStep === undefined ||
      ctx.step < this.thresholdStep ||
      ctx.step - this.thresholdStep >= this.thresholdEvery;
    if (!due) return this.t;
    const total = variables.reduce((n, v) => n + v.size, 0);
    // The last threshold as a hint: weights move little per step, so the new one is usually near it.
    this.t = kthSmallestMagnitude(variables, Math.floor(this.sparsity * total), Number.isFinite(this.t) ? this.t : undefined);
    this.thresholdStep = ctx.step;
    return this.t;
  }

  /** Value 0; gradient α·sign(w)·c·sech²(s|w|) for every input: the forward pass, then h·(α·c) backward. */
  private gradientOp(s: number): (...weights: tf.Tensor[]) => tf.Scalar {
    return variadicCustomGrad<tf.Scalar>((weights, save) => {
      // The tape's upstream gradient is α: the pass's α·c is not needed here.
      const [c, , ...hs] = this.forward(weights, s, 0);
      save([c, ...hs]);
      return {
        value: tf.scalar(0),
        gradFunc: (dy, [cs, ...saved]) => {
          const scale = tf.mul(dy, cs);
          return saved.map((h) => tf.mul(h, scale));
        },
      };
    });
  }

  private record(t: number, s: number, c: tf.Tensor | undefined): void {
    this.t = t;
    this.s = s;
    this.release(this.cTensor);
    // The pass's own output, kept: nothing else frees it (the tape saves a copy).
    this.cTensor = c ? this.own(c) : undefined;
    this.cValue = c ? undefined : 0;
  }

  /**
   * `{ alpha, t, s, c, kappa }` of the last step: α at `ctx`, the threshold t, s = C/t and
   * c = s·A/T (read from the device on the first call after a step). t = s = c = 0 before the first
   * step with α > 0, at κ = 0, and on skipped steps (t = 0). The penalty's value is always 0: log these.
   */
  diagnostics(ctx: TrainingContext): PenaltyDiagnostics {
    if (this.cValue === undefined) this.cValue = this.cTensor ? this.cTensor.dataSync()[0] : 0;
    return { alpha: this.strengthAt(ctx), t: this.t, s: this.s, c: this.cValue, kappa: this.sparsity };
  }

  override dispose(): void {
    this.settle();
    super.dispose();
  }

  override getConfig(): PenaltyConfig {
    return {
      name: this.name,
      package: PACKAGE_NAME,
      options: { sparsity: this.sparsity, strength: this.strength.config, C: this.C, thresholdEvery: this.thresholdEvery },
    };
  }
}

/** The HyperSparse penalty over all bound weights (see `HyperSparsePenalty`). */
export function hyperSparse(options: HyperSparseOptions): HyperSparsePenalty {
  return new HyperSparsePenalty(options);
}
