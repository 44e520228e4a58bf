import * as tf from '@tensorflow/tfjs';
import {
  absAndSquareSums,
  groupLayout,
  groupScale,
  groupSquareSums,
  runLoopKernel,
  signLinear,
  variadicCustomGrad,
  type GroupAxes,
  type LossAndGradients,
  type PenaltyGradient,
} from '@sparsify/core';
import { GROUP_FACTORS, GROUP_FORWARD, GROUP_STEP, RATIO, RATIO_STEP, type GroupAttrs } from './kernels.js';

/**
 * Denominator floor δ of every ratio here (penalties.md §5.10.2): `A²/max(Q, δ)` is 0, with a zero
 * gradient, for an all-zero tensor, because the zero-safe |·| gives A = 0.
 */
export const HOYER_DELTA = 1e-30;

/** Which groupings of a kernel Group-HS sums (penalties.md §5.4). */
export type GroupMode = 'auto' | 'input' | 'output' | 'both';
export const GROUP_MODES: readonly GroupMode[] = ['auto', 'input', 'output', 'both'];

/**
 * One tensor's term with its closed-form gradient: `forward` gives the value and the tensors the
 * gradient needs; `gradient` turns upstream dy and those into ∂/∂w; `penaltyGradient` gives the same
 * in core's tape-free form.
 */
export interface ClosedFormTerm {
  forward(w: tf.Tensor): { value: tf.Tensor; saved: tf.Tensor[] };
  gradient(dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor;
  penaltyGradient(w: tf.Variable, dy: tf.Tensor, saved: tf.Tensor[]): PenaltyGradient;
}

/**
 * Σⱼ termⱼ(wⱼ) as one custom op over all the tensors: one tape node, instead of one per tensor and
 * their sum (whose per-op cost, not their arithmetic, dominated on small models).
 */
export function sumOfTerms(terms: readonly ClosedFormTerm[]): (...ws: tf.Tensor[]) => tf.Scalar {
  return variadicCustomGrad<tf.Scalar>((ws, save) => {
    const parts = ws.map((w, j) => terms[j].forward(w));
    save(parts.flatMap((p) => p.saved));
    const values = parts.map((p) => p.value);
    return {
      value: (values.length === 1 ? values[0] : tf.addN(values)) as tf.Scalar,
      gradFunc: (dy, saved) => {
        let at = 0;
        return parts.map((p, j) => terms[j].gradient(dy, saved.slice(at, (at += p.saved.length))));
      },
    };
  });
}

/**
 * The ratio terms with their closed-form gradients (penalties.md §5.2–5.3): [A, Q] = [Σ|w|, Σw²] in one
 * pass (core's `absAndSquareSums`), the value and c0, c1 from them (kernels.ts), and
 * `dy·(c0·sign(w) + c1·w)` in one pass backward (core's `signLinear`). The denominator is floored,
 * d = max(D, δ), and the gradient is 0 where the floor is active (D < δ: an all-zero tensor, whose A is
 * 0 too).
 */
function ratio(square: boolean): ClosedFormTerm {
  return {
    forward: (w) => {
      const [value, c0, c1] = runLoopKernel(RATIO, absAndSquareSums(w), { square, delta: HOYER_DELTA });
      return { value, saved: [w, c0, c1] };
    },
    gradient: (dy, [w, c0, c1]) => signLinear(w, c0, c1, dy),
    // dy·c0 and dy·c1, rounded as signLinear rounds them
    penaltyGradient: (variable, dy, [, c0, c1]) => ({ variable, a: tf.mul(dy, c0) as tf.Scalar, b: tf.mul(dy, c1) as tf.Scalar }),
  };
}

/**
 * Group-Hoyer-Square of one kernel (see `groupHoyerSquareTerm`): the full-size work is one pass each way
 * (core's `groupSquareSums` and `groupScale`); the rest, on the group-norm vectors, one kernel each way.
 * A kernel whose input and output axes are not its last two is transposed so that they are, and its
 * gradient transposed back.
 */
function groupTerm(rank: number, axes: GroupAxes, groups: GroupMode, outputRatio: number): ClosedFormTerm {
  const rest = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axes.inputAxis && i !== axes.outputAxis);
  const perm = groupAxesLast(rank, axes) ? null : [...rest, axes.inputAxis, axes.outputAxis];
  const inverse = perm && perm.map((_, i) => perm.indexOf(i));
  const attrs = groupAttrs(groups, outputRatio);
  const factors = (dy: tf.Tensor, [, nIn, nOut, stats]: tf.Tensor[]) => runLoopKernel(GROUP_FACTORS, [nIn, nOut, stats, dy], attrs) as [tf.Tensor1D, tf.Tensor1D];
  return {
    forward: (w) => {
      const x = perm ? tf.transpose(w, perm) : w;
      const [value, nIn, nOut, stats] = runLoopKernel(GROUP_FORWARD, groupSquareSums(x), attrs);
      return { value, saved: [x, nIn, nOut, stats] };
    },
    gradient: (dy, saved) => {
      const g = groupScale(saved[0], ...factors(dy, saved));
      return inverse ? tf.transpose(g, inverse) : g;
    },
    // the factors, for the fused momentum update to apply in its pass; a transposed kernel's tensor
    penaltyGradient(variable, dy, saved) {
      if (perm) return { variable, tensor: this.gradient(dy, saved) };
      const [rows, cols] = factors(dy, saved);
      return { variable, rows, cols };
    },
  };
}

/** Whether a kernel's input and output axes are its last two (the layout core's group passes take). */
function groupAxesLast(rank: number, axes: GroupAxes | null): boolean {
  return axes !== null && axes.inputAxis === rank - 2 && axes.outputAxis === rank - 1;
}

/** ρ of each grouping (ρ = 0 leaves it out: its term and its gradient are 0), and δ. */
function groupAttrs(groups: GroupMode, outputRatio: number): GroupAttrs {
  return { rhoIn: groups === 'output' ? 0 : 1, rhoOut: groups === 'input' ? 0 : groups === 'output' ? 1 : outputRatio, delta: HOYER_DELTA };
}

/** ‖Wⱼ‖₁/‖Wⱼ‖₂ (square: ‖Wⱼ‖₁²/‖Wⱼ‖₂²) for `count` tensors. */
export function ratioTerms(square: boolean, count: number): ClosedFormTerm[] {
  return Array.from({ length: count }, () => ratio(square));
}

/** Σⱼ ‖Wⱼ‖₁/‖Wⱼ‖₂ (square: Σⱼ ‖Wⱼ‖₁²/‖Wⱼ‖₂²) over `count` tensors, as one op. */
export function ratioSum(square: boolean, count: number): (...ws: tf.Tensor[]) => tf.Scalar {
  return sumOfTerms(ratioTerms(square, count));
}

/**
 * Σⱼ termⱼ(wⱼ) and each ∂/∂wⱼ at upstream dy, without a tape (`Penalty.lossAndGradients`). The ratio
 * terms' gradients are `dy·c0·sign(w) + dy·c1·w`, which the fused momentum update applies inside its own
 * pass, so no gradient pass is made; Group-HS's is the tensor its backward pass would write.
 */
export function termsAndGradients(terms: readonly ClosedFormTerm[], variables: readonly tf.Variable[], dy: tf.Tensor): LossAndGradients {
  const parts = variables.map((w, j) => terms[j].forward(w));
  const values = parts.map((p) => p.value);
  return {
    value: (values.length === 1 ? values[0] : tf.addN(values)) as tf.Scalar,
    gradients: variables.map((variable, j) => terms[j].penaltyGradient(variable, dy, parts[j].saved)),
  };
}

/**
 * Hoyer's (square: Hoyer-Square's) `termsAndGradients` over `variables` as one kernel call (RATIO_STEP),
 * with the same numbers: their sums (core's `absAndSquareSums`, which the fused momentum update has
 * usually computed already), then the value and each gradient as `a·sign(w) + b·w`.
 */
export function ratioStep(variables: readonly tf.Variable[], square: boolean, dy: tf.Tensor): LossAndGradients {
  const [value, ...ab] = runLoopKernel(RATIO_STEP, [...variables.flatMap((w) => absAndSquareSums(w)), dy], { square, delta: HOYER_DELTA });
  return { value: value as tf.Scalar, gradients: variables.map((variable, j) => ({ variable, a: ab[2 * j] as tf.Scalar, b: ab[2 * j + 1] as tf.Scalar })) };
}

/**
 * Group-HS's `termsAndGradients` as one kernel call (GROUP_STEP), with the same numbers, where every
 * tensor is a kernel whose input and output axes are its last two; else undefined. Each gradient comes
 * as its factors (`w·(rows[i] + cols[o])`), for the fused momentum update to apply in its own pass.
 */
export function groupHoyerSquareStep(
  variables: readonly tf.Variable[],
  axes: readonly (GroupAxes | null)[],
  groups: GroupMode,
  outputRatio: number,
  dy: tf.Tensor,
): LossAndGradients | undefined {
  const lastTwo = variables.every((v, j) => groupAxesLast(v.rank, axes[j]));
  if (variables.length === 0 || !lastTwo) return undefined;
  const layouts = variables.flatMap((v) => groupLayout(v.shape).slice(1));
  const [value, ...factors] = runLoopKernel(GROUP_STEP, [...variables, dy], { ...groupAttrs(groups, outputRatio), layouts });
  return {
    value: value as tf.Scalar,
    gradients: variables.map((variable, j) => ({ variable, rows: factors[2 * j] as tf.Tensor1D, cols: factors[2 * j + 1] as tf.Tensor1D })),
  };
}

/** ‖W‖₁ / ‖W‖₂ (range [1, √N]; 0 for an all-zero tensor). Scale-invariant. */
export const hoyerTerm: (w: tf.Tensor) => tf.Scalar = ratioSum(false, 1);

/** ‖W‖₁² / ‖W‖₂² (range [1, N]; 0 for an all-zero tensor). Counts like ℓ0: k equal non-zeros give k. */
export const hoyerSquareTerm: (w: tf.Tensor) => tf.Scalar = ratioSum(true, 1);

/**
 * Group-Hoyer-Square of one kernel as coded in DeepHoyer (penalties.md §5.4):
 * `[(Σ_c n_in,c)² + ρ·(Σ_o n_out,o)²] / ‖W‖₂²` for `both` (ρ = `outputRatio`, 1 in the reference), or
 * one of the two terms for `input` / `output`, with exact group norms n = √Σw², so groups of size 1
 * give exactly Hoyer-Square. `axes` null (biases, BatchNorm vectors, depthwise kernels): Hoyer-Square.
 *
 * One custom op with the closed-form gradient: with S_G = Σ_g n_g, N = Σ_G ρ_G·S_G², d = max(Q, δ),
 * `∂/∂w = w·[Σ_G (2ρ_G·S_G/d)/n_G(w) − 2N/d²]`, where 1/n is 0 for an all-zero group (no NaN) and
 * the whole gradient 0 for an all-zero kernel.
 */
export function groupHoyerSquareTerm(
  w: tf.Tensor,
  axes: GroupAxes | null,
  groups: GroupMode = 'auto',
  outputRatio = 1,
): tf.Scalar {
  return groupHoyerSquareSum([w.rank], [axes], groups, outputRatio)(w);
}

/** `groupHoyerSquareTerm` for tensors of the given ranks and group axes. */
export function groupHoyerSquareTerms(
  ranks: readonly number[],
  axes: readonly (GroupAxes | null)[],
  groups: GroupMode,
  outputRatio: number,
): ClosedFormTerm[] {
  return ranks.map((rank, j) => (axes[j] === null ? ratio(true) : groupTerm(rank, axes[j]!, groups, outputRatio)));
}

/** Σ of `groupHoyerSquareTerm` over tensors of the given ranks and group axes, as one op. */
export function groupHoyerSquareSum(
  ranks: readonly number[],
  axes: readonly (GroupAxes | null)[],
  groups: GroupMode,
  outputRatio: number,
): (...ws: tf.Tensor[]) => tf.Scalar {
  return sumOfTerms(groupHoyerSquareTerms(ranks, axes, groups, outputRatio));
}
