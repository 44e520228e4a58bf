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
  if (!DECAYABLE.includes(config.className)) {
    throw new SparsifyConfigError(
      `${what} needs an SGD or Momentum optimizer (TF.js ${config.className} cannot change its learning rate); got ${config.className}`,
    );
  }
}

/** The learning rate for a 0-based epoch of a phase. */
export function learningRateAt(config: OptimizerConfig, decay: LearningRateDecay | undefined, phaseEpoch: number): number {
  const lr = config.config.learningRate as number;
  if (!decay) return lr;
  const passed = decay.milestones.filter((m) => phaseEpoch >= m).length;
  return lr * decay.gamma ** passed;
}

export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
}
