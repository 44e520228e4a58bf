export {
  DEFAULT_MIN_LAMBDA,
  HaloPenalty,
  HYPER_PRIORS,
  PACKAGE_NAME,
  SwsPenalty,
  halo,
  sws,
  type HaloOptions,
  type HyperPrior,
  type ScaleOptions,
  type SwsOptions,
} from './halo.js';
export { optimizerFromSpec, optimizerSpec, type LambdaOptimizerLike, type OptimizerSpec } from './util.js';
export { plugin } from './plugin.js';
