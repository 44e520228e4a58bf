export {
  PenaltiesCallback,
  fitWithPenalties,
  normalizeCallbacks,
  penaltiesCallback,
  type FitWithPenaltiesArgs,
  type PenaltyTrainingOptions,
} from './penalties.js';
export {
  PruningSummaries,
  formatPruningSummary,
  UpdatePruningStep,
  pruningSummaries,
  updatePruningStep,
  type EpochPruningSummary,
  type PruningSummariesOptions,
  type UpdatePruningStepOptions,
} from './pruning.js';
export { stripPruning, type StripPruningOptions } from './strip.js';
export {
  MODEL_JSON,
  WEIGHTS_BIN,
  captureArtifacts,
  modelJsonFor,
} from './io.js';
export { ModelFileError } from './errors.js';
export {
  DEFAULT_MAX_DECODED_BYTES,
  SPARSE_ENCODINGS,
  SPARSE_FORMAT,
  SPARSE_FORMAT_VERSION,
  SPARSE_MODEL_JSON,
  SPARSE_WEIGHTS_BIN,
  VALUE_QUANTIZATIONS,
  decodeSparse,
  encodeSparse,
  sparseChecksum,
  type LoadSparseOptions,
  type SparseDecodeOptions,
  type SparseEncoding,
  type SparseModelJSON,
  type SparseSaveOptions,
  type SparseWeightEntry,
  type ValueQuantization,
} from './sparse.js';
export { FLOAT16_MAX, fromFloat16Bits, toFloat16Bits } from './float16.js';
export { compileInferencePlan, DENSE_INFERENCE_KERNEL, type InferencePlan, withInferencePlan } from './sparse-plan.js';
export { planShrink, shrink, type ShrinkLayerPlan, type ShrinkOptions, type ShrinkPlan } from './shrink.js';
export {
  INDEX_BIAS,
  SPARSE_MATMUL_KERNEL,
  csrArrays,
  csrMatrix,
  sparseMatMul,
  type CsrMatrix,
  type FusedActivation,
  type SparseMatMulAttrs,
} from './sparse-matmul.js';
export {
  DEFAULT_MIN_SPARSITY,
  SparseDense,
  SparseModel,
  registerSparseLayers,
  sparseModelFromArtifacts,
  toSparseModel,
  type SparseExecutionOptions,
  type SparseLayerInfo,
} from './sparse-model.js';
export {
  globalUnstructured,
  isPruned,
  l1Unstructured,
  prune,
  pruneLowMagnitude,
  prunerOf,
  randomUnstructured,
  removePruning,
  type GlobalUnstructuredOptions,
  type PruneLnStructuredOptions,
  type PruneLowMagnitudeOptions,
  type RandomUnstructuredOptions,
  type UnstructuredOptions,
} from './prune.js';
