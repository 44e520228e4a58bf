export { INITIAL_CONTEXT, type TrainingContext } from './context.js';
export {
  SparsifyConfigError,
  check,
  checkFinite,
  checkInteger,
  checkNonNegative,
  checkOneOf,
  checkPositive,
  checkSparsity,
} from './errors.js';
export { guardedDiv, safeAbs, safeL1, safeNorm, stopGradient, unaryCustomGrad, variadicCustomGrad } from './ops.js';
export {
  PASS_KERNELS,
  absAndSquareSums,
  absSum,
  groupLayout,
  groupScale,
  groupSquareSums,
  hasKernel,
  kthSmallestMagnitude,
  runOp,
  signLinear,
  type PlainOp,
} from './passes.js';
export { LAYER_KERNELS, PLAIN_LAYER_OPS, batchNormTraining, relu } from './layer-ops.js';
export { MOMENTUM_UPDATE_KERNEL, applyGradients, momentumUpdate, type GradientParts } from './optimizer-update.js';
export {
  cloneOptimizer,
  disposeOptimizer,
  optimizerConfig,
  optimizerFromConfig,
  type OptimizerConfig,
  type OptimizerLike,
} from './optimizers.js';
export {
  describeOptions,
  option,
  optionsConfig,
  parseOptions,
  type OptionSchema,
  type OptionSpec,
  type OptionsOf,
  type ParsedOptions,
  type PenaltyOptionInfo,
} from './options.js';
export {
  describeParams,
  groupAxes,
  selectParams,
  type GroupAxes,
  type Param,
  type ParamLayout,
  type ParamRole,
  type ParamSource,
  type SelectOptions,
} from './params.js';
export {
  constantStrength,
  exponentialGrowth,
  exponentialWarmup,
  linearWarmup,
  resolveStrength,
  stepStrength,
  strengthFromConfig,
  type StrengthConfig,
  type StrengthLike,
  type StrengthSchedule,
} from './strength.js';
export {
  BasePenalty,
  type Penalty,
  type PenaltyConfig,
  type PenaltyDiagnostics,
  type PenaltyGradients,
  type PenaltyState,
  STRENGTH_OPTIONS,
  type StrengthOption,
} from './penalty.js';
export {
  createPenalty,
  getPenaltyDefinition,
  listPenalties,
  loadPenaltyFromConfig,
  penaltyFromConfig,
  registerPenalty,
  registerPlugin,
  type PenaltyDefinition,
  type SparsifyPlugin,
} from './registry.js';
export {
  KEEP_ALL,
  THRESHOLD_RULES,
  globalMagnitudeThreshold,
  kthSmallest,
  layerMagnitudeThresholds,
  maskFromThreshold,
  readMagnitudes,
  thresholdForSparsity,
  type MagnitudeThreshold,
  type ThresholdOptions,
  type ThresholdRule,
} from './magnitude.js';
export {
  applyMasks,
  disposeMasks,
  magnitudeMasks,
  magnitudeScore,
  pruneByMagnitude,
  type ImportanceScore,
  type Mask,
  type MaskOptions,
} from './masks.js';
export { measureSparsity, type LayerSparsity, type SparsityReport } from './sparsity.js';
export {
  NonFiniteLossError,
  TrainStep,
  createTrainStep,
  softmaxCrossEntropy,
  type StepResult,
  type TaskLoss,
  type TrainStepOptions,
} from './train-step.js';
export * from './pruning/index.js';
