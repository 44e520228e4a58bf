import type { PenaltyOptionInfo, SparsifyPlugin } from '@sparsify/core';
import {
  adaptiveLasso,
  lasso,
  logPenalty,
  reweightedL1,
  type AdaptiveLassoOptions,
  type LassoOptions,
  type LogPenaltyOptions,
  type ReweightedL1Options,
} from './penalties.js';
import { DEFAULT_EPSILON_MIN, DEFAULT_EPSILON_REL, PACKAGE_NAME } from './util.js';

const strength = (recommended: string): PenaltyOptionInfo => ({
  type: 'strength',
  required: true,
  description: `global coefficient λ (number, schedule or schedule config); the penalty is summed over weights, not averaged. ${recommended}`,
});

const epsilonOptions: Record<string, PenaltyOptionInfo> = {
  epsilon: { type: 'number', description: 'absolute ε > 0 for every tensor (instead of epsilonRel)' },
  epsilonRel: {
    type: 'number',
    default: DEFAULT_EPSILON_REL,
    description: 'relative ε = epsilonRel·mean|w| per tensor, used when no absolute ε is given',
  },
  epsilonMin: { type: 'number', default: DEFAULT_EPSILON_MIN, description: 'floor of a relative ε (all-zero tensors)' },
};

const hierarchical: Record<string, PenaltyOptionInfo> = {
  a: { type: 'number', description: 'hierarchical adaptive lasso shape a ≥ 0: scale a + 1 (default scale 1)' },
  b: { type: 'number', description: 'hierarchical adaptive lasso scale b > 0: an absolute ε (alias of epsilon)' },
};

/** Registers `lasso`, `adaptive-lasso`, `reweighted-l1` and `log-penalty`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'lasso',
      package: PACKAGE_NAME,
      description: 'lasso λ·Σ|w| with the zero-safe gradient λ·sign(w), sign(0) = 0',
      options: { strength: strength('Sweep 1e-5 to 1e-3 (1e-3 is strong on LeNet-300-100 with Adam).') },
      create: (options) => lasso(options as unknown as LassoOptions),
    },
    {
      name: 'adaptive-lasso',
      package: PACKAGE_NAME,
      description: 'adaptive lasso (Zou 2006) λ·Σ v|w|, v = (|ŵ| + ε)^(−γ) from an initial estimate ŵ (snapshot after a dense warm-up, or given)',
      options: {
        strength: strength('1e-6 to 1e-4 for N ≈ 1e5–1e6 weights (the penalty starts ≈ N with γ = 1); sweep.'),
        gamma: { type: 'number', default: 1, description: 'γ > 0 (usual: 0.5, 1, 2)' },
        estimate: {
          type: 'string',
          default: 'snapshot',
          description:
            '"snapshot" (the current weights at bind, or after warmupEpochs), or one tensor per bound parameter: in a config [{shape, values}] (or that JSON text); programmatically tf.Tensor[]',
        },
        ...epsilonOptions,
        normalize: { type: 'boolean', default: false, description: 'v ← v/mean(v) per tensor, so that λ means what it does for lasso' },
        warmupEpochs: { type: 'number', default: 0, description: 'dense epochs before the snapshot (penalty 0 until the end of epoch warmupEpochs − 1)' },
        refreshEvery: { type: 'number', description: 're-estimate ŵ from the current weights every this many epochs (default never)' },
      },
      create: (options) => adaptiveLasso(options as unknown as AdaptiveLassoOptions),
    },
    {
      name: 'reweighted-l1',
      package: PACKAGE_NAME,
      description: 'reweighted L1 (Candès, Wakin, Boyd): λ·Σ v|w|, v = (a+1)/(|w| + ε) refreshed from the detached weights every K steps or epochs',
      options: {
        strength: strength('Like adaptive-lasso (v|w| ≈ 1 per weight at a refresh): 1e-6 to 1e-4 for N ≈ 1e5–1e6; sweep.'),
        ...hierarchical,
        ...epsilonOptions,
        every: { type: 'number', description: 'refresh v every this many optimizer steps (instead of everyEpochs)' },
        everyEpochs: { type: 'number', default: 1, description: 'refresh v every this many epochs' },
      },
      create: (options) => reweightedL1(options as unknown as ReweightedL1Options),
    },
    {
      name: 'log-penalty',
      package: PACKAGE_NAME,
      description: 'log penalty λ·(a+1)·Σ log(1 + |w|/ε), gradient λ·(a+1)·sign(w)/(ε + |w|); ε frozen at bind when relative',
      options: {
        strength: strength('Like reweighted-l1: 1e-6 to 1e-4 for N ≈ 1e5–1e6; sweep.'),
        ...hierarchical,
        ...epsilonOptions,
      },
      create: (options) => logPenalty(options as unknown as LogPenaltyOptions),
    },
  ],
};
