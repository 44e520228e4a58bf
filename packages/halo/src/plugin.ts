import type { PenaltyOptionInfo, SparsifyPlugin } from '@sparsify/core';
import { DEFAULT_MIN_LAMBDA, halo, HYPER_PRIORS, PACKAGE_NAME, sws, type HaloOptions, type SwsOptions } from './halo.js';

const scaleOptions: Record<string, PenaltyOptionInfo> = {
  xi: {
    type: 'number',
    required: true,
    description: 'ξ ≥ 0, coefficient of Σ|w|/λ²: 1e-8 (VGG-16-BN, CIFAR-10, with wd 1e-4 on weights and λ); sweep on a log grid',
  },
  psi: {
    type: 'strength',
    required: true,
    description: 'ψ ≥ 0, coefficient of the hyperprior on λ (number, schedule or schedule config): 1e-8 in the README setting',
  },
  lambdaInit: { type: 'number', default: 1, description: 'initial λ (> 0)' },
  lambdaWeightDecay: {
    type: 'number',
    description:
      'coupled weight decay on λ; default: the model\'s weight decay (as the reference). Essential: with ξ, ψ ~ 1e-8 weight decay is what moves λ (λ⁴ → 2ξ|w|/wd)',
  },
  lambdaOptimizer: {
    type: 'string',
    description:
      'optimizer for λ: default a fresh copy of the model optimizer; in a config {className, config} as tfjs serialises optimizers (or that JSON text), e.g. {"className":"Momentum","config":{"learningRate":0.1,"momentum":0.9}}',
  },
  strength: { type: 'strength', default: 1, description: 'global multiplier of the whole term' },
  minLambda: {
    type: 'number',
    default: DEFAULT_MIN_LAMBDA,
    description: 'λ guard (> 0): λ² + minLambda² replaces λ² in the denominator',
  },
};

/** Registers `halo` and `sws`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'halo',
      package: PACKAGE_NAME,
      description:
        'HALO (arXiv 2008.10183): ξ·Σ|w|/λ² + ψ·R(Σ|λ| − p) with one trainable λ per weight (own optimizer, coupled weight decay)',
      options: {
        ...scaleOptions,
        budget: { type: 'number', default: 0, description: 'p ≥ 0, budget on Σ|λ|' },
        hyperPrior: {
          type: 'string',
          default: 'l1',
          values: HYPER_PRIORS,
          description: "R: 'l1' → |Σ|λ| − p| (reference default), 'l2' → (Σ|λ| − p)²",
        },
      },
      create: (options) => halo(options as unknown as HaloOptions),
    },
    {
      name: 'sws',
      package: PACKAGE_NAME,
      description: 'SWS (HALO paper, --ws): ξ·Σ‖W‖₁/λ² + ψ·λ² with one shared trainable λ',
      options: scaleOptions,
      create: (options) => sws(options as unknown as SwsOptions),
    },
  ],
};
