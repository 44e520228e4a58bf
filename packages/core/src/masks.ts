import * as tf from '@tensorflow/tfjs';
import { check, checkSparsity } from './errors.js';
import {
  globalMagnitudeThreshold,
  layerMagnitudeThresholds,
  maskFromThreshold,
  type MagnitudeThreshold,
  type ThresholdRule,
} from './magnitude.js';
import type { Param } from './params.js';
import { DEFAULT_PRUNING } from './pruning/defaults.js';

/** A 0/1 mask for one variable: pruned entries are 0 and stay exactly 0 while the mask is applied. */
export interface Mask {
  readonly variable: tf.Variable;
  readonly mask: tf.Tensor;
}

/**
 * Importance of each weight (larger = keep). Default: |w|. Receives the gradient when the caller has
 * one (e.g. a Taylor score |w·g|).
 */
export type ImportanceScore = (weight: tf.Tensor, gradient?: tf.Tensor) => tf.Tensor;

export const magnitudeScore: ImportanceScore = (weight) => tf.abs(weight);

export interface MaskOptions {
  /** Target fraction of weights to zero, in [0, 1). */
  sparsity: number;
  /** One ranking across all params (`global`) or one per param (`layer`); default `DEFAULT_PRUNING.scope` (global). */
  scope?: 'global' | 'layer';
  /** Default `DEFAULT_PRUNING.rule` (quantile). */
  rule?: ThresholdRule;
  /** Importance scores instead of |w|. */
  importance?: ImportanceScore;
  /** Gradients aligned with `params`, passed to `importance`. */
  gradients?: readonly tf.Tensor[];
}

/** Unstructured masks for `sparsity`, with the thresholds used. Tensors are the caller's to dispose. */
export function magnitudeMasks(
  params: readonly Pick<Param, 'variable'>[],
  options: MaskOptions,
): { masks: Mask[]; thresholds: MagnitudeThreshold[] } {
  checkSparsity('sparsity', options.sparsity);
  const scope = options.scope ?? DEFAULT_PRUNING.scope;
  const rule = options.rule ?? DEFAULT_PRUNING.rule;
  check(scope === 'global' || scope === 'layer', 'scope', scope, '"global" or "layer"');
  if (options.gradients) {
    check(options.gradients.length === params.length, 'gradients.length', options.gradients.length, `${params.length} (one per param)`);
  }
  const importance = options.importance ?? magnitudeScore;
  const scores = params.map((p, i) => tf.tidy(() => importance(p.variable, options.gradients?.[i])));
  try {
    const thresholds =
      scope === 'global'
        ? Array(params.length).fill(globalMagnitudeThreshold(scores, options.sparsity, { rule }))
        : layerMagnitudeThresholds(scores, options.sparsity, { rule });
    const masks = params.map((p, i) => ({ variable: p.variable, mask: maskFromThreshold(scores[i], thresholds[i]) }));
    return { masks, thresholds };
  } finally {
    for (const s of scores) s.dispose();
  }
}

/** w ← w ⊙ mask for every mask. */
export function applyMasks(masks: readonly Mask[]): void {
  for (const { variable, mask } of masks) {
    tf.tidy(() => variable.assign(tf.mul(variable, mask)));
  }
}

export function disposeMasks(masks: readonly Mask[] | null | undefined): void {
  for (const m of masks ?? []) if (!m.mask.isDisposed) m.mask.dispose();
}

/** Prunes in place: computes masks, applies them, and returns them (for fine-tuning with a fixed mask). */
export function pruneByMagnitude(params: readonly Pick<Param, 'variable'>[], options: MaskOptions): Mask[] {
  const { masks } = magnitudeMasks(params, options);
  applyMasks(masks);
  return masks;
}
