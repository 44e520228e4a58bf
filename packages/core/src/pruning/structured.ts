import * as tf from '@tensorflow/tfjs';
import { check, checkOneOf, checkSparsity, SparsifyConfigError } from '../errors.js';
import type { MagnitudeThreshold, ThresholdRule } from '../magnitude.js';
import type { Mask } from '../masks.js';
import type { Param } from '../params.js';
import { LN_STRUCTURED_PRUNING } from './defaults.js';
import {
  checkScopeAndRule,
  checkScoreOptions,
  keeps,
  rankThresholds,
  requireGroupAxes,
  scoreTensor,
  type PruningScope,
  type ScoreOptions,
} from './scores.js';

/** Which groups a structured mask removes: input features / channels, or output neurons / filters. */
export type GroupAxis = 'input' | 'output';
export const GROUP_AXES: readonly GroupAxis[] = ['input', 'output'];

/** Masks and the thresholds (over scores, group norms or block scores) that produced them. */
export interface PruningResult {
  /** One mask per param, in the params' order. The tensors are the caller's to dispose. */
  readonly masks: Mask[];
  /** The threshold used for each param; null where a method has none (N:M, custom). */
  readonly thresholds: (MagnitudeThreshold | null)[];
}

export interface LnStructuredOptions extends ScoreOptions {
  /** Fraction of groups to zero, in [0, 1). */
  sparsity: number;
  /** `'output'`: whole output neurons (dense columns) / filters; `'input'`: whole input features (dense rows) / channels. */
  axis: GroupAxis;
  /** Order of the group norm: 1, 2 (default), any p > 0, or Infinity (max). */
  n?: number;
  /** One ranking per layer (default, `LN_STRUCTURED_PRUNING`) or over every layer's groups together. */
  scope?: PruningScope;
  /** Default `exactCount` (`LN_STRUCTURED_PRUNING`): k = max(round(G·(1−s)), 1) groups kept, ties kept. */
  rule?: ThresholdRule;
}

export function checkNormOrder(n: unknown): void {
  check(
    n === Infinity || (typeof n === 'number' && Number.isFinite(n) && n > 0),
    'lnStructured n (norm order)',
    n,
    'a number > 0 (1, 2, …) or Infinity',
  );
}

/** Ln norm of |scores| over `axes` (scores are non-negative). */
function groupNorm(scores: tf.Tensor, axes: number[], n: number): tf.Tensor {
  return tf.tidy(() => {
    if (n === Infinity) return tf.max(scores, axes);
    if (n === 1) return tf.sum(scores, axes);
    if (n === 2) return tf.sqrt(tf.sum(tf.square(scores), axes));
    return tf.pow(tf.sum(tf.pow(scores, tf.scalar(n)), axes), tf.scalar(1 / n));
  });
}

/**
 * One Ln norm of the importance scores (default |w|) per group of each kernel: per input feature /
 * channel (`axis: 'input'`) or per output neuron / filter (`'output'`), using core's `groupAxes`
 * (dense `[in, out]`, conv2d `[kh, kw, in, out]`). Host arrays, one per param.
 */
export function groupScores(
  params: readonly Pick<Param, 'name' | 'layout' | 'variable'>[],
  axis: GroupAxis,
  n = 2,
  options: ScoreOptions = {},
): Float32Array[] {
  checkOneOf('axis', axis, GROUP_AXES);
  checkNormOrder(n);
  checkScoreOptions(params, options);
  return params.map((p, i) => {
    const axes = requireGroupAxes(p, 'lnStructured');
    const scores = scoreTensor(p, i, options);
    const norms = groupNorm(scores, axis === 'output' ? axes.output : axes.input, n);
    scores.dispose();
    try {
      return norms.dataSync() as Float32Array;
    } finally {
      norms.dispose();
    }
  });
}

/** A full-shape 0/1 mask from a per-group keep vector along `groupAxis`. */
function broadcastGroupMask(variable: tf.Variable, groupAxis: number, keep: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const shape = variable.shape.map((d, i) => (i === groupAxis ? d : 1));
    return tf.mul(tf.onesLike(variable), tf.reshape(tf.tensor1d(keep, 'float32'), shape));
  });
}

/**
 * Structured masks by group norm (torch's `ln_structured`, with the axis named semantically): zeroes
 * the `sparsity` fraction of input or output groups with the smallest Ln norm, per layer by default.
 * Every group is either kept whole or zeroed whole.
 */
export function lnStructured(params: readonly Param[], options: LnStructuredOptions): PruningResult {
  const { sparsity, axis, n = 2, scope = LN_STRUCTURED_PRUNING.scope, rule = LN_STRUCTURED_PRUNING.rule } = options;
  checkSparsity('lnStructured sparsity', sparsity);
  checkScopeAndRule(scope, rule);
  if (params.length === 0) throw new SparsifyConfigError('lnStructured needs at least one param; got none');
  const scores = groupScores(params, axis, n, options);
  const thresholds = rankThresholds(scores, sparsity, scope, rule);
  const masks = params.map((p, i) => {
    const axes = requireGroupAxes(p, 'lnStructured');
    const keep = scores[i].map((s) => (keeps(s, thresholds[i]) ? 1 : 0));
    return { variable: p.variable, mask: broadcastGroupMask(p.variable, axis === 'output' ? axes.outputAxis : axes.inputAxis, keep) };
  });
  return { masks, thresholds };
}
