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
export { FUSED_KERNELS, absAndSquareSums, groupLayout, groupScale, groupSquareSums, kthSmallestMagnitude, signLinear } from './fused.js';
export { FUSED_WASM } from './fused.wasm.js';
export {
  LOOP_KERNEL_BACKENDS,
  loopKernelImplementation,
  loopKernelsEnabled,
  runLoopKernel,
  setLoopKernelsEnabled,
  wasmKernelExports,
  type LoopKernel,
  type LoopKernelImplementation,
  type WasmKernelCode,
  type WasmKernelExports,
} from './loop-kernels.js';
export { setHelperThreadEnabled, startLoopKernel, type PendingLoopKernel } from './helper-thread.js';
export { applyGradients, gradientTensor } from './optimizer-update.js';
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
  type LossAndGradients,
  type Penalty,
  type PenaltyConfig,
  type PenaltyDiagnostics,
  type PenaltyGradient,
  type PenaltyOptions,
  type PenaltyState,
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
  type PenaltyOptionInfo,
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
  cloneOptimizer,
  createTrainStep,
  disposeOptimizer,
  softmaxCrossEntropy,
  type StepResult,
  type TaskLoss,
  type TrainStepOptions,
} from './train-step.js';
export * from './pruning/index.js';
