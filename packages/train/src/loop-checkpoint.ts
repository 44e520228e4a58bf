import type { PenaltyState } from '@sparsify/core';
import { CheckpointError } from './checkpoint-error.js';
import type { StoredOptimizer } from './state.js';
import type { EpochMetrics, Phase, PruneInfo, TrainResult } from './types.js';

/** Version of what the loop stores in a checkpoint (2: with the progress inside an epoch). */
export const LOOP_CHECKPOINT_VERSION = 2;
export const PHASES = ['train', 'finetune', 'done'] as const;

/** Sums over the batches of an epoch that was interrupted (a checkpoint written at a step boundary). */
export interface EpochProgress {
  /** Batches of the epoch already trained. */
  batch: number;
  loss: number;
  taskLoss: number;
  penaltyLoss: number;
  seen: number;
  correct: number;
  counted: number;
  seconds: number;
  strengths: Record<string, number>;
}

/** What a checkpoint holds besides tensors (typed arrays are stored as binary blobs). */
export interface LoopState {
  version: number;
  /** Phase of the next epoch; `done` once the run has finished. */
  phase: Phase | 'done';
  /** Next global epoch (the one in progress when `progress` is set). */
  epoch: number;
  /** Next epoch within `phase`. */
  phaseEpoch: number;
  step: number;
  seed: number;
  /** Set when the checkpoint was written inside epoch `epoch` (an interrupted run). */
  progress: EpochProgress | null;
  history: EpochMetrics[];
  accuracy: { dense?: number; pruned?: number };
  prune?: PruneInfo;
  histograms: TrainResult['histograms'];
  trainSeconds: number;
  samples: number;
  art?: { stopped: boolean; reason?: string; artEpochs: number; selectedArtEpoch?: number };
  fingerprint: { weights: string[]; shapes: number[][]; penalties: string[]; pruned: string[] };
}

export interface LoopCheckpoint extends LoopState {
  model: (Float32Array | Int32Array)[];
  optimizer: StoredOptimizer;
  penaltyVariables: (Float32Array | Int32Array)[][];
  penaltyOptimizers: StoredOptimizer[];
  penaltyState: (PenaltyState | null)[];
  masks: Uint8Array[] | null;
  pruner: unknown;
  artController: unknown;
  /** The ART snapshots the controller still holds (window and best), by ART epoch. */
  artSnapshots: { epoch: number; weights: (Float32Array | Int32Array)[]; masks: Uint8Array[] }[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Checks what a checkpoint holds before any of it is used: every field the loop reads, with its
 * type, range and consistency (weights against the recorded shapes, finite values, 0/1 masks, the
 * phase). Throws a CheckpointError naming `file` and the field.
 */
export function checkLoopCheckpoint(value: unknown, file: string): LoopCheckpoint {
  const fail = (field: string, problem: string): never => {
    throw new CheckpointError(`${file}: ${field} ${problem}`, { file, field });
  };
  const need = (ok: boolean, field: string, expected: string, got: unknown) => {
    if (!ok) fail(field, `must be ${expected}; got ${JSON.stringify(got)?.slice(0, 80) ?? String(got)}`);
  };
  const checkValues = (a: unknown, field: string, length?: number): void => {
    need(a instanceof Float32Array || a instanceof Int32Array, field, 'float32 or int32 values', Object.prototype.toString.call(a));
    const values = a as Float32Array | Int32Array;
    if (length !== undefined && values.length !== length) fail(field, `has ${values.length} values; its shape needs ${length}`);
    if (values instanceof Float32Array)
      for (let i = 0; i < values.length; i++)
        if (!Number.isFinite(values[i])) fail(field, `has the value ${values[i]} at ${i}; a checkpoint holds finite values only`);
  };
  const checkValueList = (a: unknown, field: string, shapes?: number[][]): void => {
    need(
      Array.isArray(a) && (shapes === undefined || a.length === shapes.length),
      field,
      `a list of ${shapes?.length ?? ''} tensors' values`.replace('  ', ' '),
      Array.isArray(a) ? `${a.length} entries` : a,
    );
    (a as unknown[]).forEach((v, i) => checkValues(v, `${field}[${i}]`, shapes ? product(shapes[i]) : undefined));
  };
  const checkShapes = (a: unknown, field: string): number[][] => {
    need(Array.isArray(a) && a.every((s) => Array.isArray(s) && s.length <= 8 && s.every(isCount)), field, 'a list of shapes', a);
    return a as number[][];
  };
  const checkOptimizer = (o: unknown, field: string): void => {
    need(isObject(o), field, '{ names, shapes, dtypes, values }', o);
    const { names, dtypes, values } = o as Json;
    const shapes = checkShapes((o as Json).shapes, `${field}.shapes`);
    need(
      Array.isArray(names) && names.length === shapes.length && names.every((n) => typeof n === 'string'),
      `${field}.names`,
      `${shapes.length} names`,
      names,
    );
    need(
      Array.isArray(dtypes) && dtypes.length === shapes.length && dtypes.every((d) => d === 'float32' || d === 'int32'),
      `${field}.dtypes`,
      `${shapes.length} of float32, int32`,
      dtypes,
    );
    checkValueList(values, `${field}.values`, shapes);
  };
  const checkMasks = (a: unknown, field: string): void => {
    need(Array.isArray(a) && a.every((m) => m instanceof Uint8Array), field, 'a list of 0/1 masks', a);
    (a as Uint8Array[]).forEach((m, i) => {
      const bad = m.findIndex((v) => v > 1);
      if (bad >= 0) fail(`${field}[${i}]`, `has the value ${m[bad]} at ${bad}; masks hold 0 or 1`);
    });
  };

  need(isObject(value), '(value)', 'an object (a training checkpoint)', typeof value);
  const c = value as Json;
  need(c.version === LOOP_CHECKPOINT_VERSION, 'version', String(LOOP_CHECKPOINT_VERSION), c.version);
  need(PHASES.includes(c.phase as never), 'phase', `one of ${PHASES.join(', ')}`, c.phase);
  for (const key of ['epoch', 'phaseEpoch', 'step', 'seed', 'samples']) need(isCount(c[key]), key, 'an integer ≥ 0', c[key]);
  need(isNumber(c.trainSeconds) && (c.trainSeconds as number) >= 0, 'trainSeconds', 'a number ≥ 0', c.trainSeconds);
  need((c.phaseEpoch as number) <= (c.epoch as number), 'phaseEpoch', `at most epoch (${c.epoch as number})`, c.phaseEpoch);
  need(Array.isArray(c.history) && c.history.every(isObject), 'history', 'a list of epoch metrics', typeof c.history);
  need(
    (c.history as unknown[]).length === c.epoch,
    'history',
    `${c.epoch as number} epochs (one per epoch done)`,
    `${(c.history as unknown[]).length} entries`,
  );
  need(
    isObject(c.accuracy) && Object.values(c.accuracy).every((v) => v === undefined || isNumber(v)),
    'accuracy',
    '{ dense?, pruned? } numbers',
    c.accuracy,
  );
  need(isObject(c.histograms), 'histograms', 'an object', c.histograms);
  if (c.progress !== null) {
    need(isObject(c.progress), 'progress', 'null or the progress inside an epoch', c.progress);
    const p = c.progress as Json;
    need(c.phase === 'train' || c.phase === 'finetune', 'progress', 'null in phase "done"', p);
    need(isCount(p.batch) && (p.batch as number) >= 1, 'progress.batch', 'an integer ≥ 1', p.batch);
    for (const key of ['loss', 'taskLoss', 'penaltyLoss', 'seen', 'correct', 'counted', 'seconds'])
      need(isNumber(p[key]), `progress.${key}`, 'a number', p[key]);
    need(isObject(p.strengths) && Object.values(p.strengths).every(isNumber), 'progress.strengths', 'an object of numbers', p.strengths);
  }
  if (c.art !== undefined)
    need(
      isObject(c.art) && typeof (c.art as Json).stopped === 'boolean' && isCount((c.art as Json).artEpochs),
      'art',
      '{ stopped, artEpochs, … }',
      c.art,
    );
  const f = c.fingerprint as Json;
  need(isObject(f), 'fingerprint', 'an object', f);
  const shapes = checkShapes(f.shapes, 'fingerprint.shapes');
  for (const key of ['weights', 'penalties', 'pruned'])
    need(
      Array.isArray(f[key]) && (f[key] as unknown[]).every((n) => typeof n === 'string'),
      `fingerprint.${key}`,
      'a list of names',
      f[key],
    );
  need((f.weights as string[]).length === shapes.length, 'fingerprint.weights', `${shapes.length} names (one per shape)`, f.weights);
  checkValueList(c.model, 'model', shapes);
  checkOptimizer(c.optimizer, 'optimizer');
  need(
    Array.isArray(c.penaltyVariables) && c.penaltyVariables.length === (f.penalties as string[]).length,
    'penaltyVariables',
    `${(f.penalties as string[]).length} lists (one per penalty)`,
    c.penaltyVariables,
  );
  (c.penaltyVariables as unknown[]).forEach((list, i) => checkValueList(list, `penaltyVariables[${i}]`));
  need(Array.isArray(c.penaltyOptimizers), 'penaltyOptimizers', 'a list', c.penaltyOptimizers);
  (c.penaltyOptimizers as unknown[]).forEach((o, i) => checkOptimizer(o, `penaltyOptimizers[${i}]`));
  need(
    Array.isArray(c.penaltyState) &&
      c.penaltyState.length === (f.penalties as string[]).length &&
      c.penaltyState.every((s) => s === null || isObject(s)),
    'penaltyState',
    `${(f.penalties as string[]).length} states or nulls`,
    c.penaltyState,
  );
  if (c.masks !== null) {
    checkMasks(c.masks, 'masks');
    // After pruning the masks are the loop's own: one per pruned tensor, of its size.
    if (c.phase !== 'train') {
      const pruned = f.pruned as string[];
      const masks = c.masks as Uint8Array[];
      need(masks.length === pruned.length, 'masks', `${pruned.length} masks (one per pruned tensor)`, `${masks.length} masks`);
      pruned.forEach((name, i) => {
        const w = (f.weights as string[]).indexOf(name);
        if (w >= 0 && masks[i].length !== product(shapes[w]))
          fail(`masks[${i}]`, `has ${masks[i].length} values; ${name} has ${product(shapes[w])}`);
      });
    }
  }
  need(Array.isArray(c.artSnapshots), 'artSnapshots', 'a list', c.artSnapshots);
  (c.artSnapshots as unknown[]).forEach((s, i) => {
    need(isObject(s) && isCount((s as Json).epoch), `artSnapshots[${i}]`, '{ epoch, weights, masks }', s);
    checkValueList((s as Json).weights, `artSnapshots[${i}].weights`, shapes);
    checkMasks((s as Json).masks, `artSnapshots[${i}].masks`);
  });
  return value as unknown as LoopCheckpoint;
}
