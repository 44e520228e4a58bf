import { resumeOn, trainOn } from './loop.js';
import { portableRunFiles } from './run-files-indexeddb.js';
import type { TrainOptions, TrainResult } from './types.js';

/**
 * Trains `options.model` in place: the main phase (penalties, schedule-driven pruning or ART), then
 * one-shot pruning, then fine-tuning with fixed masks. Portable: with `runDir`, checkpoints go to
 * IndexedDB under that name where the runtime has it (browsers); elsewhere `runDir` is an error (in
 * Node the package's `node` entry has the `train` that writes checkpoint files).
 */
export function train(options: TrainOptions): Promise<TrainResult> {
  return trainOn(portableRunFiles(), options);
}

/** Continues the IndexedDB run `runDir` from its last checkpoint; `options` rebuild the same model, data and penalties. */
export function resume(runDir: string, options: Omit<TrainOptions, 'runDir' | 'resume'>): Promise<TrainResult> {
  return resumeOn(portableRunFiles(), runDir, options);
}
