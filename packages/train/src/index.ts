export { DEFAULT_OPTIMIZER, resume, train } from './loop.js';
export { disposeBatch, iterateBatches, tensorData } from './data.js';
export { evaluate, correctCount, type Evaluation } from './evaluate.js';
export { createOptimizer, learningRateAt, validateOptimizerConfig } from './optimizer.js';
export { magnitudeHistogram } from './histogram.js';
export { deriveSeed, SeededRandom, shuffledIndices } from './rng.js';
export {
  CHECKPOINT_FILE,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  hasCheckpoint,
  readCheckpoint,
  removeStaleTempFiles,
  writeFileAtomic,
} from './checkpoint.js';
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
