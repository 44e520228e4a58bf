export {
  constantSparsity,
  oneShot,
  polynomialDecay,
  pruningScheduleFromConfig,
  resolvePruningSchedule,
  type PruningDecision,
  type PruningSchedule,
  type PruningScheduleConfig,
  type PruningScheduleLike,
  type TfmotScheduleConfig,
} from './pruning-schedule.js';
export {
  Pruner,
  createPruner,
  type MaskState,
  type PrunedParamSummary,
  type PrunerOptions,
  type PrunerState,
  type PruningSummary,
} from './pruner.js';
// Strength schedules for penalties live in core (penalties take them as `strength`); re-exported here
// so that every schedule is importable from one place.
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
} from '@sparsify/core';
