import { resumeOn, trainOn } from './loop.js';
import { NODE_RUN_FILES } from './run-files-node.js';
import type { TrainOptions, TrainResult } from './types.js';

/**
 * Trains `options.model` in place: the main phase (penalties, schedule-driven pruning or ART), then
 * one-shot pruning, then fine-tuning with fixed masks. With `runDir`, a checkpoint is written
 * atomically at every epoch end; `resume: true` continues from it exactly.
 */
export function train(options: TrainOptions): Promise<TrainResult> {
  return trainOn(NODE_RUN_FILES, options);
}

/** Continues the run in `runDir` from its last checkpoint; `options` rebuild the same model, data and penalties. */
export function resume(runDir: string, options: Omit<TrainOptions, 'runDir' | 'resume'>): Promise<TrainResult> {
  return resumeOn(NODE_RUN_FILES, runDir, options);
}
