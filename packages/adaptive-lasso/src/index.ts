export {
  AdaptiveLassoPenalty,
  LassoPenalty,
  LogPenalty,
  ReweightedL1Penalty,
  adaptiveLasso,
  lasso,
  logPenalty,
  reweightedL1,
  ADAPTIVE_LASSO_OPTIONS,
  LASSO_OPTIONS,
  LOG_PENALTY_OPTIONS,
  REWEIGHTED_L1_OPTIONS,
  type AdaptiveLassoOptions,
  type EstimateJSON,
  type EstimateOption,
  type LassoOptions,
  type LogPenaltyOptions,
  type ReweightedL1Options,
} from './penalties.js';
export { DEFAULT_EPSILON_MIN, DEFAULT_EPSILON_REL, PACKAGE_NAME, type TensorState } from './util.js';
export { plugin } from './plugin.js';
