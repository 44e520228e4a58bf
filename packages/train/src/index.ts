export { DEFAULT_OPTIMIZER } from './loop.js';
export { resume, train } from './train-entry.js';
export { CHECKPOINT_DATABASE, deleteStoredRun, storedRuns } from './run-files-indexeddb.js';
export { disposeBatch, iterateBatches, tensorData } from './data.js';
export { evaluate, correctCount, type Evaluation } from './evaluate.js';
export { createOptimizer, learningRateAt, validateOptimizerConfig } from './optimizer.js';
export { magnitudeHistogram } from './histogram.js';
export { deriveSeed, SeededRandom, shuffledIndices } from './rng.js';
export { CHECKPOINT_FILE, CORRUPT_CHECKPOINT_FILE, CheckpointError, PREVIOUS_CHECKPOINT_FILE } from './checkpoint-error.js';
export { checkLoopCheckpoint, type LoopCheckpoint } from './loop-checkpoint.js';
export type { RunLock, RunLockOwner } from './run-dir.js';
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
