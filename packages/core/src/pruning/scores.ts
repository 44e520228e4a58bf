import * as tf from '@tensorflow/tfjs';
import { check, checkOneOf } from '../errors.js';
import { magnitudeScore, type ImportanceScore } from '../masks.js';
import { groupAxes, type GroupAxes, type Param } from '../params.js';
import { THRESHOLD_RULES, thresholdForSparsity, type MagnitudeThreshold, type ThresholdRule } from '../magnitude.js';

/** Importance scores for every pruning method: |w| by default, or a user function of (weight, gradient). */
export interface ScoreOptions {
  /** Importance of each weight (larger = keep); default |w|. Its absolute value is used. */
  importance?: ImportanceScore;
  /** Gradients aligned with the params, passed to `importance` (e.g. a Taylor score |w·g|). */
  gradients?: readonly tf.Tensor[];
}

/** `'layer'`: one ranking per tensor (tfmot); `'global'`: one ranking over all tensors. */
export type PruningScope = 'layer' | 'global';
export const PRUNING_SCOPES: readonly PruningScope[] = ['layer', 'global'];

export function checkScoreOptions(params: readonly unknown[], options: ScoreOptions): void {
  if (options.importance !== undefined) {
    check(typeof options.importance === 'function', 'importance', options.importance, 'a function (weight, gradient?) => scores');
  }
  if (options.gradients !== undefined) {
    check(
      Array.isArray(options.gradients) && options.gradients.length === params.length,
      'gradients.length',
      Array.isArray(options.gradients) ? options.gradients.length : options.gradients,
      `${params.length} (one per param)`,
    );
  }
}

export function checkScopeAndRule(scope: unknown, rule: unknown): void {
  checkOneOf('scope', scope, PRUNING_SCOPES);
  checkOneOf('rule', rule, THRESHOLD_RULES as ThresholdRule[]);
}

/** |importance(w, g)| of one param, as a new tensor the caller disposes. */
export function scoreTensor(param: Pick<Param, 'variable'>, index: number, options: ScoreOptions): tf.Tensor {
  const importance = options.importance ?? magnitudeScore;
  return tf.tidy(() => {
    const s = importance(param.variable, options.gradients?.[index]);
    check(
      s instanceof tf.Tensor && s.size === param.variable.size,
      'importance(weight) result size',
      s instanceof tf.Tensor ? s.shape : s,
      `a tensor with ${param.variable.size} entries (the weight's shape ${JSON.stringify(param.variable.shape)})`,
    );
    return tf.abs(tf.reshape(tf.cast(s, 'float32'), param.variable.shape));
  });
}

/** |importance| of one param, read back to the host. */
export function readScores(param: Pick<Param, 'variable'>, index: number, options: ScoreOptions): Float32Array {
  const t = scoreTensor(param, index, options);
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

/** The group axes of a kernel, or a SparsifyConfigError naming the param and its layout. */
export function requireGroupAxes(param: Pick<Param, 'name' | 'layout'>, method: string): GroupAxes {
  const axes = groupAxes(param);
  if (!axes) {
    check(
      false,
      `${method}: param ${JSON.stringify(param.name)} layout`,
      param.layout,
      '"dense" ([in, out]) or "conv2d" ([kh, kw, in, out]); select only dense and conv kernels',
    );
  }
  return axes!;
}

/** Concatenation of host arrays (for a global ranking). */
export function concatScores(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Thresholds over per-param score arrays (group norms, block scores): one per param (`layer`) or one
 * shared (`global`), by core's threshold rules. The arrays are not modified.
 */
export function rankThresholds(
  scores: readonly Float32Array[],
  sparsity: number,
  scope: PruningScope,
  rule: ThresholdRule,
): MagnitudeThreshold[] {
  if (scope === 'global') {
    const shared = thresholdForSparsity(concatScores(scores), sparsity, rule);
    return scores.map(() => shared);
  }
  return scores.map((s) => thresholdForSparsity(s.slice(), sparsity, rule));
}

/** Whether a score survives a threshold (the same test as core's `maskFromThreshold`). */
export function keeps(score: number, threshold: MagnitudeThreshold): boolean {
  if (threshold.value === -Infinity) return true;
  return threshold.inclusive ? score >= threshold.value : score > threshold.value;
}

/** Product of dims. */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
