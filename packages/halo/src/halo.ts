import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  option,
  safeL1,
  variadicCustomGrad,
  type OptionsOf,
  type ParsedOptions,
  type Param,
  type PenaltyDiagnostics,
  type PruningDefaults,
  type PenaltyGradients,
  type StrengthSchedule,
  type TrainingContext,
} from '@sparsify/core';
import { haloGradients, haloTerm, inverseSquare } from './ops.js';
import {
  DIAGNOSTIC_QUANTILES,
  DIAGNOSTIC_SUFFIXES,
  lambdaOptimizerOption,
  LambdaOptimizerHolder,
  quantilesOfSorted,
  uniquePrefix,
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

/** The options HALO and SWS share. */
export const SWS_OPTIONS = {
  xi: option.number({
    required: true,
    min: 0,
    description: 'ξ ≥ 0, coefficient of Σ|w|/λ²: 1e-8 (VGG-16-BN, CIFAR-10, with wd 1e-4 on weights and λ); sweep on a log grid',
  }),
  psi: option.strength({
    required: true,
    description:
      "ψ ≥ 0, coefficient of the hyperprior on λ (number, schedule or schedule config; the reference's ψ scheduler): 1e-8 in the README setting",
  }),
  lambdaInit: option.number({ default: 1, min: 0, exclusiveMin: true, description: 'initial λ (> 0), 1 as the reference' }),
  lambdaWeightDecay: option.number({
    min: 0,
    description:
      "coupled weight decay on λ; default: the model's weight decay (as the reference). Essential: with ξ, ψ ~ 1e-8 weight decay is what moves λ (λ⁴ → 2ξ|w|/wd)",
  }),
  lambdaOptimizer: lambdaOptimizerOption,
  strength: option.strength({ default: 1, description: 'global multiplier of the whole term' }),
  minLambda: option.number({
    default: DEFAULT_MIN_LAMBDA,
    min: 0,
    exclusiveMin: true,
    description: 'λ guard (> 0): λ² + minLambda² replaces λ² in the denominator',
  }),
};

export const HALO_OPTIONS = {
  ...SWS_OPTIONS,
  budget: option.number({ default: 0, min: 0, description: 'p ≥ 0, budget on Σ|λ|' }),
  hyperPrior: option.oneOf(HYPER_PRIORS, { default: 'l1', description: "R: 'l1' → |Σ|λ| − p| (reference default), 'l2' → (Σ|λ| − p)²" }),
};

export type SwsOptions = OptionsOf<typeof SWS_OPTIONS>;
export type HaloOptions = OptionsOf<typeof HALO_OPTIONS>;

/** What HALO and SWS share: ξ, ψ, trainable λ's with their own optimizer settings, the guard. */
abstract class ScalePenalty<S extends typeof SWS_OPTIONS> extends BasePenalty<S> {
  protected override readonly packageName = PACKAGE_NAME;
  readonly xi: number;
  readonly psi: StrengthSchedule;
  readonly lambdaInit: number;
  readonly lambdaWeightDecay: number | undefined;
  readonly minLambda: number;
  protected lambdas: tf.Variable[] = [];
  private readonly lambdaOptimizer: LambdaOptimizerHolder;
  private released = false;

  constructor(options: OptionsOf<S>, schema: S, what: string) {
    super(options, schema, what);
    const o = this.options as ParsedOptions<typeof SWS_OPTIONS>;
    ({ xi: this.xi, psi: this.psi, lambdaInit: this.lambdaInit, minLambda: this.minLambda, lambdaWeightDecay: this.lambdaWeightDecay } = o);
    this.lambdaOptimizer = new LambdaOptimizerHolder(o.lambdaOptimizer);
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
export class HaloPenalty extends ScalePenalty<typeof HALO_OPTIONS> {
  readonly name = 'halo';
  /** HALO's evaluation prunes with the quantile over the weights that are still non-zero (its prune script). */
  readonly pruning: Partial<PruningDefaults> = Object.freeze({ rule: 'quantileNonZero' });
  readonly budget: number;
  readonly hyperPrior: HyperPrior;

  constructor(options: HaloOptions) {
    super(options, HALO_OPTIONS, 'halo');
    this.budget = this.options.budget;
    this.hyperPrior = this.options.hyperPrior;
  }

  protected override init(params: readonly Param[]): void {
    const prefix = uniquePrefix('halo');
    // One λ per penalised scalar, stored with the tensor's own shape (layout-independent).
    this.lambdas = params.map((p, i) => this.createLambda(`${prefix}/lambda_${i}/${p.name}`, p.shape));
  }

  /**
   * The whole term `ξ·Σ|w|·r + ψ·R(Σ|λ| − p)` over all tensors and their λ's (r = 1/(λ² + minLambda²)),
   * as one custom op with its closed-form gradient (ops.ts): one pass per tensor forward for [W, L] =
   * [Σ|w|·r, Σ|λ|] and the scalar arithmetic, one pass per tensor backward from dy₀ = dy·ξ and
   * dy₁ = dy·ψ·R'(L − p): ∂/∂w = dy₀·sign(w)·r, ∂/∂λ = −2·dy₀·|w|·λ·r² + dy₁·sign(λ), zero-safe at
   * w = 0 and λ = 0.
   */
  private termOp(psi: number): (...inputs: tf.Tensor[]) => tf.Scalar {
    return variadicCustomGrad<tf.Scalar>((inputs, save) => {
      const n = inputs.length / 2;
      const [value, slope] = haloTerm(inputs.slice(0, n), inputs.slice(n), this.termAttrs(psi));
      save([...inputs, slope]);
      return {
        value,
        gradFunc: (dy, saved) => haloGradients(saved.slice(0, n), saved.slice(n, 2 * n), dy, saved[2 * n], this.gradientAttrs()),
      };
    });
  }

  private termAttrs(psi: number) {
    return { ...this.gradientAttrs(), psi, budget: this.budget, l1: this.hyperPrior === 'l1' };
  }

  private gradientAttrs() {
    return { minLambdaSquared: this.minLambda ** 2, xi: this.xi };
  }

  protected term(ctx: TrainingContext): tf.Scalar {
    return this.termOp(this.psiAt(ctx))(...this.params.map((p) => p.variable), ...this.lambdas);
  }

  /** The same term and its gradients (for the weights and the λ's) without a tape: forward, then backward at α. */
  protected override closedForm(ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    const weights = this.params.map((p) => p.variable);
    const [value, slope] = haloTerm(weights, this.lambdas, this.termAttrs(this.psiAt(ctx)));
    const grads = haloGradients(weights, this.lambdas, strength, slope, this.gradientAttrs());
    return {
      value: tf.mul(value, strength) as tf.Scalar,
      grads: Object.fromEntries([...weights, ...this.lambdas].map((v, j) => [v.name, grads[j]])),
    };
  }

  diagnostics(ctx: TrainingContext): PenaltyDiagnostics {
    this.requireBound();
    return this.lambdaDiagnostics(ctx);
  }
}

/**
 * SWS (HALO paper, `--ws`): one shared scalar λ for every bound tensor,
 * `strength·[ ξ·Σ_W ‖W‖₁/λ² + ψ·λ² ]`, λ² guarded as in HALO. Profiled over λ it is a global
 * square-root L1: λ*⁴ = ξ·Σ‖W‖₁/ψ, penalty 2·√(ξψ·Σ‖W‖₁) (without weight decay on λ).
 */
export class SwsPenalty extends ScalePenalty<typeof SWS_OPTIONS> {
  readonly name = 'sws';

  constructor(options: SwsOptions) {
    super(options, SWS_OPTIONS, 'sws');
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
}

/** HALO: `halo({ xi: 1e-8, psi: 1e-8 })` with the model's weight decay on λ (see the README). */
export function halo(options: HaloOptions): HaloPenalty {
  return new HaloPenalty(options);
}

/** SWS: one shared λ, `sws({ xi, psi })`. */
export function sws(options: SwsOptions): SwsPenalty {
  return new SwsPenalty(options);
}
