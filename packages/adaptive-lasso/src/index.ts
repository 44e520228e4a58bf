export {
  AdaptiveLassoPenalty,
  LassoPenalty,
  LogPenalty,
  ReweightedL1Penalty,
  adaptiveLasso,
  lasso,
  logPenalty,
  reweightedL1,
  type AdaptiveLassoOptions,
  type EpsilonOptions,
  type EstimateJSON,
  type EstimateOption,
  type LassoOptions,
  type LogPenaltyOptions,
  type ReweightedL1Options,
} from './penalties.js';
export { DEFAULT_EPSILON_MIN, DEFAULT_EPSILON_REL, PACKAGE_NAME, type TensorState } from './util.js';
export { plugin } from './plugin.js';
