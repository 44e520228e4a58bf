import { resumeOn, trainOn } from './loop.js';
import type { TrainOptions, TrainResult } from './types.js';

/**
 * Trains `options.model` in place: the main phase (penalties, schedule-driven pruning or ART), then
 * one-shot pruning, then fine-tuning with fixed masks. Portable: no `runDir` here (checkpoints need a
 * file system: in Node the package's `node` entry has the `train` that writes them).
 */
export function train(options: TrainOptions): Promise<TrainResult> {
  return trainOn(null, options);
}

/** Portable `resume`: always an error naming the Node entry (there is no run directory to resume here). */
export function resume(runDir: string, options: Omit<TrainOptions, 'runDir' | 'resume'>): Promise<TrainResult> {
  return resumeOn(null, runDir, options);
}
