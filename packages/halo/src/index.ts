export {
  DEFAULT_MIN_LAMBDA,
  HALO_OPTIONS,
  HaloPenalty,
  HYPER_PRIORS,
  PACKAGE_NAME,
  SWS_OPTIONS,
  SwsPenalty,
  halo,
  sws,
  type HaloOptions,
  type HyperPrior,
  type SwsOptions,
} from './halo.js';
export { HALO_KERNELS, haloGradients, haloTerm, type HaloGradientAttrs, type HaloTermAttrs } from './ops.js';
export type { LambdaOptimizer } from './util.js';
export { plugin } from './plugin.js';
