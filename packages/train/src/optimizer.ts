import * as tf from '@tensorflow/tfjs';
import { checkFinite, checkOneOf, checkPositive, SparsifyConfigError } from '@sparsify/core';
import type { LearningRateDecay, OptimizerConfig } from './types.js';

export const OPTIMIZER_KINDS = ['sgd', 'momentum', 'adam'] as const;

export function validateOptimizerConfig(config: OptimizerConfig, what = 'optimizer'): void {
  if (!config || typeof config !== 'object') {
    throw new SparsifyConfigError(`${what} must be an object like { kind: "momentum", learningRate: 0.01 }; got ${String(config)}`);
  }
  checkOneOf(`${what}.kind`, config.kind, OPTIMIZER_KINDS);
  checkPositive(`${what}.learningRate`, config.learningRate);
  if (config.kind === 'momentum' && config.momentum !== undefined) {
    checkFinite(`${what}.momentum`, config.momentum);
    if (config.momentum < 0 || config.momentum >= 1) {
      throw new SparsifyConfigError(`${what}.momentum must be in [0, 1); got ${config.momentum}`);
    }
  }
  if (config.kind === 'adam') {
    if (config.epsilon !== undefined) checkPositive(`${what}.epsilon`, config.epsilon);
    for (const b of ['beta1', 'beta2'] as const) {
      const v = config[b];
      if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v < 1)) {
        throw new SparsifyConfigError(`${what}.${b} must be in [0, 1); got ${v}`);
      }
    }
  }
}

/**
 * A fresh TF.js optimizer. Momentum matches PyTorch SGD (dampening 0); Adam's ε defaults to PyTorch's
 * 1e-8 (TF.js would use 1e-7; penalties.md §1.4).
 */
export function createOptimizer(config: OptimizerConfig): tf.Optimizer {
  validateOptimizerConfig(config);
  switch (config.kind) {
    case 'sgd':
      return tf.train.sgd(config.learningRate);
    case 'momentum':
      return tf.train.momentum(config.learningRate, config.momentum ?? 0.9, config.nesterov ?? false);
    case 'adam':
      return tf.train.adam(config.learningRate, config.beta1 ?? 0.9, config.beta2 ?? 0.999, config.epsilon ?? 1e-8);
  }
}

export function validateLrDecay(decay: LearningRateDecay | undefined, config: OptimizerConfig, what = 'lrDecay'): void {
  if (!decay) return;
  checkPositive(`${what}.gamma`, decay.gamma);
  if (!Array.isArray(decay.milestones) || decay.milestones.some((m) => !Number.isInteger(m) || m < 1)) {
    throw new SparsifyConfigError(`${what}.milestones must be epoch numbers ≥ 1; got ${JSON.stringify(decay.milestones)}`);
  }
  if (config.kind === 'adam') {
    throw new SparsifyConfigError(`${what} needs an sgd or momentum optimizer (TF.js Adam cannot change its learning rate); got adam`);
  }
}

/** The learning rate for a 0-based epoch of a phase. */
export function learningRateAt(config: OptimizerConfig, decay: LearningRateDecay | undefined, phaseEpoch: number): number {
  if (!decay) return config.learningRate;
  const passed = decay.milestones.filter((m) => phaseEpoch >= m).length;
  return config.learningRate * decay.gamma ** passed;
}

export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
}
