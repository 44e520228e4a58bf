export { DEFAULT_OPTIMIZER, resume, train } from './loop.js';
export { disposeBatch, iterateBatches, tensorData } from './data.js';
export { evaluate, correctCount, type Evaluation } from './evaluate.js';
export { createOptimizer, learningRateAt, validateOptimizerConfig } from './optimizer.js';
export { magnitudeHistogram } from './histogram.js';
export { deriveSeed, SeededRandom, shuffledIndices } from './rng.js';
export {
  CHECKPOINT_FILE,
  CORRUPT_CHECKPOINT_FILE,
  PREVIOUS_CHECKPOINT_FILE,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  hasCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  removeStaleTempFiles,
  writeCheckpoint,
  writeFileAtomic,
  type LoadedCheckpoint,
} from './checkpoint.js';
export { checkLoopCheckpoint, readRunCheckpoint, type LoopCheckpoint } from './loop-checkpoint.js';
export {
  RUN_LOCK_FILE,
  RunDirectoryError,
  lockRunDirectory,
  makeDirectory,
  readRegularFile,
  type RunLock,
  type RunLockOwner,
} from './run-dir.js';
export type {
  ArtControllerLike,
  ArtObservation,
  ArtOptions,
  ArtSnapshot,
  Batch,
  BatchOrder,
  BatchEndInfo,
  BestAccuracy,
  DataSplit,
  EpochMetrics,
  FinetuneOptions,
  LearningRateDecay,
  MagnitudeHistogram,
  OneShotPruning,
  OptimizerConfig,
  Phase,
  PruneInfo,
  PrunerLike,
  TrainCallbacks,
  TrainData,
  TrainOptions,
  TrainResult,
} from './types.js';
