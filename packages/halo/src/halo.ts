import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  checkNonNegative,
  checkOneOf,
  checkPositive,
  resolveStrength,
  runLoopKernel,
  safeL1,
  variadicCustomGrad,
  type LossAndGradients,
  type Param,
  type PenaltyConfig,
  type PenaltyDiagnostics,
  type StrengthLike,
  type StrengthSchedule,
  type TrainingContext,
} from '@sparsify/core';
import { HALO_GRADIENTS, HALO_TERM, inverseSquare } from './kernels.js';
import {
  checkOptionKeys,
  checkRequired,
  DIAGNOSTIC_QUANTILES,
  DIAGNOSTIC_SUFFIXES,
  LambdaOptimizerHolder,
  quantilesOfSorted,
  uniquePrefix,
  type LambdaOptimizerLike,
} from './util.js';

export const PACKAGE_NAME = '@sparsify/halo';

/**
 * The λ guard: the penalty divides by `λ² + minLambda²` instead of λ², so the effective scale
 * √(λ² + minLambda²) is never below `minLambda` and nothing is infinite at λ = 0. For |λ| ≥ 1e-3 the
 * added 1e-12 is below float32 resolution of λ²: the value and gradients are the reference's exactly.
 */
export const DEFAULT_MIN_LAMBDA = 1e-6;

export type HyperPrior = 'l1' | 'l2';
export const HYPER_PRIORS: readonly HyperPrior[] = ['l1', 'l2'];

/** Options HALO and SWS share. */
export interface ScaleOptions {
  /** ξ ≥ 0: the coefficient of Σ|w|/λ². Required (the reference default 0 switches the penalty off). */
  xi: number;
  /** ψ ≥ 0: the coefficient of the hyperprior on λ; a number or a strength schedule (the reference's ψ scheduler). Required. */
  psi: StrengthLike;
  /** Initial λ (> 0). Default 1, as the reference. */
  lambdaInit?: number;
  /**
   * Coupled weight decay on λ (`g ← g + wd·λ`); undefined: the model's weight decay (the reference
   * uses the same). Essential: with ξ, ψ ~ 1e-8 it is what moves λ at all (penalties.md §4.4).
   */
  lambdaWeightDecay?: number;
  /**
   * Optimizer for λ. Default: a fresh copy of the model's optimizer (same class, lr and momentum, as the
   * reference). A `tf.Optimizer` stays the caller's (the caller disposes it); a spec
   * `{ className, config }` (or its JSON text) is built and freed by the penalty.
   */
  lambdaOptimizer?: LambdaOptimizerLike;
  /** Global multiplier of the whole term (both parts). Default 1. */
  strength?: StrengthLike;
  /** The λ guard (> 0): the penalty uses λ² + minLambda² for λ². Default 1e-6. */
  minLambda?: number;
}

export interface HaloOptions extends ScaleOptions {
  /** p ≥ 0: the budget on Σ|λ| in R(Σ|λ| − p). Default 0. */
  budget?: number;
  /** R: 'l1' → |Σ|λ| − p| (default, the reference's harch 'L1'); 'l2' → (Σ|λ| − p)². */
  hyperPrior?: HyperPrior;
}

export type SwsOptions = ScaleOptions;

const SCALE_KEYS = ['xi', 'psi', 'lambdaInit', 'lambdaWeightDecay', 'lambdaOptimizer', 'strength', 'minLambda'] as const;
const HALO_KEYS = [...SCALE_KEYS, 'budget', 'hyperPrior'] as const;

/** What HALO and SWS share: ξ, ψ, trainable λ's with their own optimizer settings, the guard. */
abstract class ScalePenalty<O extends ScaleOptions> extends BasePenalty<O> {
  protected override readonly packageName = PACKAGE_NAME;
  readonly xi: number;
  readonly psi: StrengthSchedule;
  readonly lambdaInit: number;
  readonly lambdaWeightDecay: number | undefined;
  readonly minLambda: number;
  protected lambdas: tf.Variable[] = [];
  private readonly lambdaOptimizer: LambdaOptimizerHolder;
  private released = false;

  constructor(what: string, options: O) {
    super(options, 1);
    checkRequired(what, options, 'xi', 'a number ≥ 0, e.g. 1e-8 with weight decay 1e-4');
    checkRequired(what, options, 'psi', 'a number ≥ 0 or a strength schedule, e.g. 1e-8');
    checkNonNegative(`${what} xi`, options.xi);
    this.xi = options.xi;
    this.psi = resolveStrength(options.psi, `${what} psi`);
    this.lambdaInit = options.lambdaInit ?? 1;
    checkPositive(`${what} lambdaInit`, this.lambdaInit);
    this.minLambda = options.minLambda ?? DEFAULT_MIN_LAMBDA;
    checkPositive(`${what} minLambda`, this.minLambda);
    this.lambdaWeightDecay = options.lambdaWeightDecay;
    if (this.lambdaWeightDecay !== undefined) checkNonNegative(`${what} lambdaWeightDecay`, this.lambdaWeightDecay);
    this.lambdaOptimizer = new LambdaOptimizerHolder(`${what} lambdaOptimizer`, options.lambdaOptimizer);
  }

  /** ψ at `ctx`. */
  psiAt(ctx: TrainingContext): number {
    return this.psi(ctx);
  }

  /** The λ variables (one per bound tensor for HALO, one scalar for SWS). */
  get lambdaVariables(): readonly tf.Variable[] {
    return this.lambdas;
  }

  override trainableVariables(): tf.Variable[] {
    return this.lambdas.slice();
  }

  /** λ's weight decay (undefined: the model's) and optimizer (undefined: a copy of the model's). */
  get variableOptions(): { readonly weightDecay?: number; readonly optimizer?: tf.Optimizer } {
    return { weightDecay: this.lambdaWeightDecay, optimizer: this.released ? undefined : this.lambdaOptimizer.optimizer };
  }

  protected createLambda(name: string, shape: readonly number[]): tf.Variable {
    return this.own(tf.variable(tf.fill(shape.slice(), this.lambdaInit), true, name));
  }

  protected scaleConfig(): Record<string, unknown> {
    const options: Record<string, unknown> = {
      xi: this.xi,
      psi: this.psi.config,
      lambdaInit: this.lambdaInit,
      minLambda: this.minLambda,
      strength: this.strength.config,
    };
    if (this.lambdaWeightDecay !== undefined) options.lambdaWeightDecay = this.lambdaWeightDecay;
    if (this.lambdaOptimizer.spec) options.lambdaOptimizer = this.lambdaOptimizer.spec;
    return options;
  }

  protected configWith(extra: Record<string, unknown>): PenaltyConfig {
    return { name: this.name, package: PACKAGE_NAME, options: { ...this.scaleConfig(), ...extra } };
  }

  /** |λ| of every λ, ascending. */
  protected sortedAbsLambdas(): Float64Array {
    const total = this.lambdas.reduce((s, l) => s + l.size, 0);
    const out = new Float64Array(total);
    let offset = 0;
    for (const lambda of this.lambdas) {
      const data = lambda.dataSync();
      for (let i = 0; i < data.length; i++) out[offset + i] = Math.abs(data[i]);
      offset += data.length;
    }
    return out.sort();
  }

  /** λ quantiles and effective L1 coefficient (strength·ξ/(λ² + minLambda²)) quantiles. */
  protected lambdaDiagnostics(ctx: TrainingContext): PenaltyDiagnostics {
    const lambdas = this.sortedAbsLambdas();
    const scale = this.strengthAt(ctx) * this.xi;
    const m2 = this.minLambda ** 2;
    // ξ/λ² decreases with |λ|: the ascending coefficients are the descending |λ|'s, mapped.
    const coefficients = Float64Array.from(lambdas, (_, i) => {
      const l = lambdas[lambdas.length - 1 - i];
      return scale / (l * l + m2);
    });
    const out: PenaltyDiagnostics = {};
    const lq = quantilesOfSorted(lambdas, DIAGNOSTIC_QUANTILES);
    const cq = quantilesOfSorted(coefficients, DIAGNOSTIC_QUANTILES);
    DIAGNOSTIC_SUFFIXES.forEach((suffix, i) => {
      out[`lambda${suffix}`] = lq[i];
      out[`coefficient${suffix}`] = cq[i];
    });
    out.lambdaL1 = lambdas.reduce((s, v) => s + v, 0);
    out.psi = this.psiAt(ctx);
    return out;
  }

  override dispose(): void {
    if (!this.released) {
      this.released = true;
      this.lambdaOptimizer.dispose();
    }
    super.dispose();
  }
}

/**
 * HALO (Seto, Wells, Zhang, arXiv 2008.10183): one trainable scale λⱼ per penalised weight,
 * `strength·[ ξ·Σⱼ |wⱼ|/λⱼ² + ψ·R(Σⱼ|λⱼ| − p) ]` with R = |·| ('l1') or (·)² ('l2'), λ raw (no
 * softplus) with the guard λ² + minLambda². λ's are trained jointly with the model by their own
 * optimizer, with coupled weight decay.
 */
export class HaloPenalty extends ScalePenalty<HaloOptions> {
  readonly name = 'halo';
  readonly budget: number;
  readonly hyperPrior: HyperPrior;

  constructor(options: HaloOptions) {
    checkOptionKeys('halo', options, HALO_KEYS);
    super('halo', options);
    this.budget = options.budget ?? 0;
    checkNonNegative('halo budget', this.budget);
    this.hyperPrior = options.hyperPrior ?? 'l1';
    checkOneOf('halo hyperPrior', this.hyperPrior, HYPER_PRIORS);
  }

  protected override init(params: readonly Param[]): void {
    const prefix = uniquePrefix('halo');
    // One λ per penalised scalar, stored with the tensor's own shape (layout-independent).
    this.lambdas = params.map((p, i) => this.createLambda(`${prefix}/lambda_${i}/${p.name}`, p.shape));
  }

  /**
   * The whole term `ξ·Σ|w|·r + ψ·R(Σ|λ| − p)` over all tensors and their λ's (r = 1/(λ² + minLambda²)),
   * as one custom op. Forward: one kernel (`HALO_TERM`) makes one pass per tensor for [W, L] =
   * [Σ|w|·r, Σ|λ|] (loop kernels on cpu and wasm) and does the scalar arithmetic, which as tfjs ops was
   * about ten ops. Backward: one pass per tensor from dy₀ = dy·ξ and
   * dy₁ = dy·ψ·R'(L − p), where R' is sign (0 at 0) for 'l1' and 2(L − p) for 'l2':
   * ∂/∂w = dy₀·sign(w)·r and ∂/∂λ = −2·dy₀·|w|·λ·r² + dy₁·sign(λ), zero-safe at w = 0 and λ = 0.
   * Autodiff of the same expressions records about twenty full-size ops per tensor on two tensors the
   * size of the kernel; one custom op per tensor and the scalar graph on the tape cost ≈ 0.4 ms a step.
   */
  private termOp(psi: number): (...inputs: tf.Tensor[]) => tf.Scalar {
    return variadicCustomGrad<tf.Scalar>((inputs, save) => {
      const { value, slope } = this.forward(inputs, psi);
      save([...inputs, slope]);
      return {
        value,
        gradFunc: (dy, saved) => this.gradients(saved.slice(0, -1), dy, saved[saved.length - 1]),
      };
    });
  }

  /** The term's value, and ψ·R'(L − p), the slope of the hyper-prior term (one kernel). */
  private forward(inputs: tf.Tensor[], psi: number): { value: tf.Scalar; slope: tf.Tensor } {
    const attrs = { ...this.kernelAttrs(), psi, budget: this.budget, l1: this.hyperPrior === 'l1' };
    const [value, slope] = runLoopKernel(HALO_TERM, inputs, attrs);
    return { value: value as tf.Scalar, slope };
  }

  /** ∂/∂w and ∂/∂λ for upstream dy (one pass per tensor). */
  private gradients(inputs: tf.Tensor[], dy: tf.Tensor, slope: tf.Tensor): tf.Tensor[] {
    return runLoopKernel(HALO_GRADIENTS, [...inputs, dy, slope], this.kernelAttrs());
  }

  private kernelAttrs(): { minLambdaSquared: number; xi: number } {
    return { minLambdaSquared: this.minLambda ** 2, xi: this.xi };
  }

  protected term(ctx: TrainingContext): tf.Scalar {
    return this.termOp(this.psiAt(ctx))(...this.params.map((p) => p.variable), ...this.lambdas);
  }

  /**
   * The same term and its gradients (for the weights and the λ's) without a tape: the forward pass,
   * then the backward pass at upstream α, as the tape would run them.
   */
  protected override termAndGradients(ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    const inputs = [...this.params.map((p) => p.variable), ...this.lambdas];
    const { value, slope } = this.forward(inputs, this.psiAt(ctx));
    const grads = this.gradients(inputs, strength, slope);
    return { value, gradients: inputs.map((variable, j) => ({ variable, tensor: grads[j] })) };
  }

  diagnostics(ctx: TrainingContext): PenaltyDiagnostics {
    this.requireBound();
    return this.lambdaDiagnostics(ctx);
  }

  override getConfig(): PenaltyConfig {
    return this.configWith({ budget: this.budget, hyperPrior: this.hyperPrior });
  }
}

/**
 * SWS (HALO paper, `--ws`): one shared scalar λ for every bound tensor,
 * `strength·[ ξ·Σ_W ‖W‖₁/λ² + ψ·λ² ]`, λ² guarded as in HALO. Profiled over λ it is a global
 * square-root L1: λ*⁴ = ξ·Σ‖W‖₁/ψ, penalty 2·√(ξψ·Σ‖W‖₁) (without weight decay on λ).
 */
export class SwsPenalty extends ScalePenalty<SwsOptions> {
  readonly name = 'sws';

  constructor(options: SwsOptions) {
    checkOptionKeys('sws', options, SCALE_KEYS);
    super('sws', options);
  }

  protected override init(): void {
    this.lambdas = [this.createLambda(`${uniquePrefix('sws')}/lambda`, [])];
  }

  protected term(ctx: TrainingContext): tf.Scalar {
    const lambda = this.lambdas[0];
    const l1 = safeL1(...this.params.map((p) => p.variable));
    const weighted = tf.mul(tf.scalar(this.xi), tf.mul(l1, inverseSquare(lambda, this.minLambda ** 2)));
    const psi = this.psiAt(ctx);
    if (psi === 0) return weighted as tf.Scalar;
    return tf.add(weighted, tf.mul(tf.scalar(psi), tf.square(lambda))) as tf.Scalar;
  }

  diagnostics(ctx: TrainingContext): PenaltyDiagnostics {
    this.requireBound();
    const lambda = this.lambdas[0].dataSync()[0];
    const l1 = tf.tidy(() => safeL1(...this.params.map((p) => p.variable)).dataSync()[0]);
    return {
      lambda,
      coefficient: (this.strengthAt(ctx) * this.xi) / (lambda * lambda + this.minLambda ** 2),
      weightL1: l1,
      psi: this.psiAt(ctx),
    };
  }

  override getConfig(): PenaltyConfig {
    return this.configWith({});
  }
}

/** HALO: `halo({ xi: 1e-8, psi: 1e-8 })` with the model's weight decay on λ (see the README). */
export function halo(options: HaloOptions): HaloPenalty {
  return new HaloPenalty(options);
}

/** SWS: one shared λ, `sws({ xi, psi })`. */
export function sws(options: SwsOptions): SwsPenalty {
  return new SwsPenalty(options);
}

