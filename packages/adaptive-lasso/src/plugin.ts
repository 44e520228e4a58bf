import type { SparsifyPlugin } from '@sparsify/core';
import {
  ADAPTIVE_LASSO_OPTIONS,
  adaptiveLasso,
  lasso,
  LASSO_OPTIONS,
  LOG_PENALTY_OPTIONS,
  logPenalty,
  REWEIGHTED_L1_OPTIONS,
  reweightedL1,
  type AdaptiveLassoOptions,
  type LassoOptions,
  type LogPenaltyOptions,
  type ReweightedL1Options,
} from './penalties.js';
import { PACKAGE_NAME } from './util.js';

/** Registers `lasso`, `adaptive-lasso`, `reweighted-l1` and `log-penalty`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'lasso',
      package: PACKAGE_NAME,
      description: 'lasso λ·Σ|w| with the zero-safe gradient λ·sign(w), sign(0) = 0',
      schema: LASSO_OPTIONS,
      create: (options) => lasso(options as LassoOptions),
    },
    {
      name: 'adaptive-lasso',
      package: PACKAGE_NAME,
      description:
        'adaptive lasso (Zou 2006) λ·Σ v|w|, v = (|ŵ| + ε)^(−γ) from an initial estimate ŵ (snapshot after a dense warm-up, or given)',
      schema: ADAPTIVE_LASSO_OPTIONS,
      create: (options) => adaptiveLasso(options as AdaptiveLassoOptions),
    },
    {
      name: 'reweighted-l1',
      package: PACKAGE_NAME,
      description:
        'reweighted L1 (Candès, Wakin, Boyd): λ·Σ v|w|, v = (a+1)/(|w| + ε) refreshed from the detached weights every K steps or epochs',
      schema: REWEIGHTED_L1_OPTIONS,
      create: (options) => reweightedL1(options as ReweightedL1Options),
    },
    {
      name: 'log-penalty',
      package: PACKAGE_NAME,
      description: 'log penalty λ·(a+1)·Σ log(1 + |w|/ε), gradient λ·(a+1)·sign(w)/(ε + |w|); ε frozen at bind when relative',
      schema: LOG_PENALTY_OPTIONS,
      create: (options) => logPenalty(options as LogPenaltyOptions),
    },
  ],
};
