import type * as tf from '@tensorflow/tfjs';
import { checkPositive, optimizerConfig, optimizerFromConfig, SparsifyConfigError, type OptimizerConfig } from '@sparsify/core';
import type { LearningRateDecay } from './types.js';

/** Optimizers whose learning rate the loop can change between epochs (`lrDecay`). */
const DECAYABLE = ['SGD', 'Momentum'];

/** Validates a run's optimizer (tfjs's `{ className, config }`) and its learning rate, which the loop needs. */
export function validateOptimizerConfig(config: OptimizerConfig, what = 'optimizer'): void {
  optimizerConfig(what, config);
  checkPositive(`${what}.config.learningRate`, config.config.learningRate);
}

/** A fresh TF.js optimizer from its config. */
export function createOptimizer(config: OptimizerConfig): tf.Optimizer {
  validateOptimizerConfig(config);
  return optimizerFromConfig(config);
}

export function validateLrDecay(decay: LearningRateDecay | undefined, config: OptimizerConfig, what = 'lrDecay'): void {
  if (!decay) return;
  checkPositive(`${what}.gamma`, decay.gamma);
  if (!Array.isArray(decay.milestones) || decay.milestones.some((m) => !Number.isInteger(m) || m < 1)) {
    throw new SparsifyConfigError(`${what}.milestones must be epoch numbers ≥ 1; got ${JSON.stringify(decay.milestones)}`);
  }
  if (decay.legacyDoubleDecay !== undefined && typeof decay.legacyDoubleDecay !== 'boolean') {
    throw new SparsifyConfigError(`${what}.legacyDoubleDecay must be true or false; got ${JSON.stringify(decay.legacyDoubleDecay)}`);
  }
  if (!DECAYABLE.includes(config.className)) {
    throw new SparsifyConfigError(
      `${what} needs an SGD or Momentum optimizer (TF.js ${config.className} cannot change its learning rate); got ${config.className}`,
    );
  }
}

/**
 * The factors by which `decay` scales the model's and the penalty optimizers' initial learning rates in a
 * 0-based epoch of a phase (`legacyDoubleDecay` only where the phase trains a penalty optimizer).
 */
export function decayFactors(
  decay: LearningRateDecay | undefined,
  phaseEpoch: number,
  hasPenaltyOptimizers: boolean,
): { model: number; penalty: number } {
  if (!decay) return { model: 1, penalty: 1 };
  const passed = decay.milestones.filter((m) => phaseEpoch >= m).length;
  if (decay.legacyDoubleDecay && hasPenaltyOptimizers) {
    return { model: passed === 0 ? 1 : decay.gamma ** (2 * passed - 1), penalty: decay.gamma ** (2 * passed) };
  }
  return { model: decay.gamma ** passed, penalty: decay.gamma ** passed };
}

/** The model's learning rate for a 0-based epoch of a phase (a run without a penalty optimizer). */
export function learningRateAt(config: OptimizerConfig, decay: LearningRateDecay | undefined, phaseEpoch: number): number {
  return (config.config.learningRate as number) * decayFactors(decay, phaseEpoch, false).model;
}

type LearningRateSettable = tf.Optimizer & { setLearningRate(lr: number): void };

export function canSetLearningRate(optimizer: tf.Optimizer): optimizer is LearningRateSettable {
  return typeof (optimizer as Partial<LearningRateSettable>).setLearningRate === 'function';
}

/** An optimizer's learning rate as its config records it. */
export function learningRateOf(optimizer: tf.Optimizer): number {
  return optimizer.getConfig().learningRate as number;
}

export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  if (canSetLearningRate(optimizer)) optimizer.setLearningRate(lr);
}
