import * as tf from '@tensorflow/tfjs';
import { applyMasks, check, checkSparsity, disposeMasks, magnitudeMasks, type Param, type ThresholdRule } from '@sparsify/core';

export interface ProbeOptions {
  /** The weights to prune: usually the penalty's `params` (all kernels, one global ranking). */
  params: readonly Pick<Param, 'variable'>[];
  /** κ: prune globally to this sparsity (t = a(⌊κN⌋), keep |w| > t under the default rule). */
  sparsity: number;
  /**
   * Accuracy of the model as it is when called (with the pruned weights in place). ART evaluates the
   * training set with its augmentation in inference mode (`training: false`: BatchNorm uses its running
   * statistics and is not updated). Must not train. May be async.
   */
  evaluate: () => number | Promise<number>;
  /** Threshold rule (default `quantile`: strict `>` on index ⌊κN⌋, as the reference). */
  rule?: ThresholdRule;
  /** Also return copies of the pruned weights (an ART snapshot); the caller disposes them. */
  keepPruned?: boolean;
}

export interface ProbeResult {
  /** What `evaluate` returned on the pruned weights. */
  accuracy: number;
  /** The global magnitude threshold t (−Infinity at sparsity 0: nothing pruned). */
  threshold: number;
  /** Achieved sparsity (exact zeros / total) of the pruned weights: ≥ κ (strict `>` prunes ⌊κN⌋+1 plus ties). */
  sparsity: number;
  /** With `keepPruned`: the pruned weights, aligned with `params`; the caller owns and disposes them. */
  pruned?: tf.Tensor[];
}

/**
 * ART's probe (README, "ART"), for custom loops: copies the weights, prunes them globally
 * at κ in place with core's magnitude masks, calls `evaluate`, and restores the weights exactly (also
 * when `evaluate` throws). Only `params` are copied: BatchNorm statistics are untouched because
 * `evaluate` runs in inference mode.
 */
export async function probePrunedAccuracy(options: ProbeOptions): Promise<ProbeResult> {
  const { params, sparsity, evaluate, rule = 'quantile', keepPruned = false } = options;
  check(Array.isArray(params) && params.length > 0, 'probePrunedAccuracy params', params, 'a non-empty array of params');
  checkSparsity('probePrunedAccuracy sparsity', sparsity);
  check(typeof evaluate === 'function', 'probePrunedAccuracy evaluate', evaluate, 'a function returning the accuracy');
  const backups = params.map((p) => tf.keep(tf.clone(p.variable)));
  let pruned: tf.Tensor[] | undefined;
  try {
    const { masks, thresholds } = magnitudeMasks(params, { sparsity, scope: 'global', rule });
    try {
      applyMasks(masks);
    } finally {
      disposeMasks(masks);
    }
    let zeros = 0;
    let total = 0;
    for (const p of params) {
      const data = p.variable.dataSync();
      for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
      total += data.length;
    }
    if (keepPruned) pruned = params.map((p) => tf.keep(tf.clone(p.variable)));
    const accuracy = await evaluate();
    check(typeof accuracy === 'number' && Number.isFinite(accuracy), 'probePrunedAccuracy evaluate()', accuracy, 'a finite number');
    return { accuracy, threshold: thresholds[0].value, sparsity: zeros / total, ...(pruned ? { pruned } : {}) };
  } catch (error) {
    pruned?.forEach((t) => t.dispose());
    throw error;
  } finally {
    params.forEach((p, i) => p.variable.assign(backups[i]));
    backups.forEach((t) => t.dispose());
  }
}
