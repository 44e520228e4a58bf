import * as tf from '@tensorflow/tfjs';
import {
  SparsifyConfigError,
  check,
  checkSparsity,
  selectParams,
  type GroupAxis,
  type ImportanceScore,
  type PruningMethod,
  type SelectOptions,
} from '@sparsify/core';
import { Pruner, oneShot, type PruningScheduleLike } from '@sparsify/schedules';

// The pruning state of a model: the Pruner holding its masks and schedule. On globalThis so that two
// copies of this package in one process (a dual ESM/CJS load) see the same pruned models.
const PRUNED_MODELS = Symbol.for('@sparsify/layers/pruned-models');
function registry(): WeakMap<tf.LayersModel, Pruner> {
  const g = globalThis as Record<symbol, WeakMap<tf.LayersModel, Pruner> | undefined>;
  g[PRUNED_MODELS] ??= new WeakMap();
  return g[PRUNED_MODELS];
}

/** A Sequential trains through an inner LayersModel (what callbacks see as `this.model`): both name the pruned model. */
function aliases(model: tf.LayersModel): tf.LayersModel[] {
  const inner = model instanceof tf.Sequential ? (model as unknown as { model?: tf.LayersModel }).model : undefined;
  return inner ? [model, inner] : [model];
}

function register(model: tf.LayersModel, pruner: Pruner): void {
  for (const m of aliases(model)) registry().set(m, pruner);
}

export interface PruneLowMagnitudeOptions {
  /** When and to what sparsity (tfmot `pruning_schedule`): `polynomialDecay`, `constantSparsity`, `oneShot`, or a config. */
  pruningSchedule: PruningScheduleLike;
  /** How masks are computed: magnitude, lnStructured, block, mByN or custom (default: docs/defaults.md, "Pruning"). */
  method?: PruningMethod;
  /** Importance scores instead of |w| (larger = keep). */
  importance?: ImportanceScore;
  /** Names of the layers whose kernels are pruned (default: every Dense, Conv2D and DepthwiseConv2D kernel). */
  layers?: readonly string[];
}

export interface UnstructuredOptions {
  /** Fraction of the weights to zero, in [0, 1) (torch's float `amount`). */
  amount: number;
  /** Names of the layers whose kernels are pruned (default: every Dense, Conv2D and DepthwiseConv2D kernel). */
  layers?: readonly string[];
}

export interface RandomUnstructuredOptions extends UnstructuredOptions {
  /** Seed of the random scores (default: unseeded). */
  seed?: number;
}

export interface GlobalUnstructuredOptions extends RandomUnstructuredOptions {
  /** Scores ranked across all the layers together: `l1` (|w|, default) or `random`. */
  pruningMethod?: 'l1' | 'random';
}

export interface PruneLnStructuredOptions extends UnstructuredOptions {
  /** Groups pruned whole: `'output'` (neurons or filters, torch's `dim=0`) or `'input'` (features or channels, `dim=1`). */
  axis: GroupAxis;
  /** Norm order of a group's score (default 2). */
  n?: number;
}

function checkModel(model: unknown, fn: string): asserts model is tf.LayersModel {
  check(model instanceof tf.LayersModel, `${fn} model`, typeof model, 'a tf.LayersModel');
}

function requireUnpruned(model: tf.LayersModel, fn: string): void {
  if (registry().has(model)) {
    throw new SparsifyConfigError(
      `${fn}: model ${JSON.stringify(model.name)} is already pruned; call removePruning(model) first to make its masks permanent, then prune it again`,
    );
  }
}

/** The params of the named layers (default: all prunable kernels), with an error naming an unknown or unprunable layer. */
function selectionFor(model: tf.LayersModel, layers: readonly string[] | undefined, fn: string): SelectOptions {
  if (layers === undefined) return {};
  check(Array.isArray(layers) && layers.length > 0, `${fn} layers`, layers, 'a non-empty array of layer names');
  const prunable = [...new Set(selectParams(model).map((p) => p.layerName))];
  for (const name of layers) {
    if (prunable.includes(name)) continue;
    const known = model.layers.some((l) => l.name === name);
    throw new SparsifyConfigError(
      `${fn} layers: ${known ? `layer ${JSON.stringify(name)} has no prunable kernel` : `model ${JSON.stringify(model.name)} has no layer ${JSON.stringify(name)}`}; its prunable layers are ${prunable.map((n) => JSON.stringify(n)).join(', ')}`,
    );
  }
  return { names: layers };
}

/**
 * tfmot's `prune_low_magnitude`: marks `model`'s prunable layers (or `layers`) for pruning by
 * `pruningSchedule` and `method`, and returns the same model. Train it with plain `model.fit` and
 * `updatePruningStep()` in the callbacks (or with `fitWithPenalties`, which masks the gradients too);
 * `stripPruning(model)` then gives a plain model with the masks baked in, and `removePruning(model)`
 * frees the masks. Unlike tfmot the layers are not wrapped: the model keeps its architecture and its
 * weights, and only this package knows that it is pruned (`isPruned`).
 */
export function pruneLowMagnitude(model: tf.LayersModel, options: PruneLowMagnitudeOptions): tf.LayersModel {
  checkModel(model, 'pruneLowMagnitude');
  check(
    typeof options === 'object' && options !== null && options.pruningSchedule !== undefined,
    'pruneLowMagnitude options',
    options === null || typeof options !== 'object' ? options : JSON.stringify(Object.keys(options)),
    '{ pruningSchedule, method?, importance?, layers? }, e.g. { pruningSchedule: polynomialDecay({ … }) }',
  );
  requireUnpruned(model, 'pruneLowMagnitude');
  const pruner = new Pruner(model, {
    schedule: options.pruningSchedule,
    method: options.method,
    importance: options.importance,
    selection: selectionFor(model, options.layers, 'pruneLowMagnitude'),
  });
  register(model, pruner);
  return model;
}

/** One-shot pruning now, with the mask then held fixed (torch's pruning functions). */
function pruneOnce(
  model: tf.LayersModel,
  fn: string,
  options: UnstructuredOptions,
  method: PruningMethod,
  importance?: ImportanceScore,
): tf.LayersModel {
  checkModel(model, fn);
  check(typeof options === 'object' && options !== null, `${fn} options`, options, '{ amount, layers? }');
  checkSparsity(`${fn} amount`, options.amount);
  requireUnpruned(model, fn);
  // A schedule whose only pruning step (0) is already past: the mask stays fixed until removePruning.
  const pruner = new Pruner(model, {
    schedule: oneShot({ sparsity: options.amount, atStep: 0 }),
    step: 1,
    method,
    importance,
    selection: selectionFor(model, options.layers, fn),
  });
  try {
    pruner.pruneNow(options.amount);
  } catch (e) {
    pruner.dispose();
    throw e;
  }
  register(model, pruner);
  return model;
}

/** Uniform random scores, a new seed per param so that equal shapes get different masks. */
function randomScores(fn: string, seed: number | undefined): ImportanceScore {
  if (seed !== undefined) check(Number.isInteger(seed), `${fn} seed`, seed, 'an integer');
  let call = 0;
  return (w) => tf.randomUniform(w.shape, 0, 1, 'float32', seed === undefined ? undefined : seed + call++);
}

/** torch's `l1_unstructured`: each layer's kernel pruned to `amount` by |w| (an exact count per layer). */
export function l1Unstructured(model: tf.LayersModel, options: UnstructuredOptions): tf.LayersModel {
  return pruneOnce(model, 'l1Unstructured', options, { kind: 'magnitude', scope: 'layer', rule: 'exactCount' });
}

/** torch's `random_unstructured`: each layer's kernel pruned to `amount` at random. */
export function randomUnstructured(model: tf.LayersModel, options: RandomUnstructuredOptions): tf.LayersModel {
  const importance = randomScores('randomUnstructured', options?.seed);
  return pruneOnce(model, 'randomUnstructured', options, { kind: 'magnitude', scope: 'layer', rule: 'exactCount' }, importance);
}

/** torch's `global_unstructured`: one ranking over all the selected kernels together, pruned to `amount` in all. */
export function globalUnstructured(model: tf.LayersModel, options: GlobalUnstructuredOptions): tf.LayersModel {
  const kind = options?.pruningMethod ?? 'l1';
  check(kind === 'l1' || kind === 'random', 'globalUnstructured pruningMethod', kind, '"l1" or "random"');
  const importance = kind === 'random' ? randomScores('globalUnstructured', options.seed) : undefined;
  return pruneOnce(model, 'globalUnstructured', options, { kind: 'magnitude', scope: 'global', rule: 'exactCount' }, importance);
}

/** torch's `ln_structured`: whole input or output groups of each kernel pruned by their Ln norm. */
function lnStructured(model: tf.LayersModel, options: PruneLnStructuredOptions): tf.LayersModel {
  return pruneOnce(model, 'prune.lnStructured', options, {
    kind: 'lnStructured',
    axis: options?.axis,
    n: options?.n,
    scope: 'layer',
    rule: 'exactCount',
  });
}

/** torch's `is_pruned`: whether `model` has pruning masks (from `pruneLowMagnitude` or a torch-style call). */
export function isPruned(model: tf.LayersModel): boolean {
  return registry().has(model);
}

/** The Pruner holding `model`'s masks and schedule, or null when it is not pruned. */
export function prunerOf(model: tf.LayersModel): Pruner | null {
  return registry().get(model) ?? null;
}

/**
 * torch's `prune.remove`: makes the pruning permanent (w ← w ⊙ mask), forgets the masks and frees
 * them; the model is then a plain model again (`isPruned` false) with zeros where the masks were 0.
 */
export function removePruning(model: tf.LayersModel): tf.LayersModel {
  checkModel(model, 'removePruning');
  const pruner = registry().get(model);
  if (!pruner) {
    throw new SparsifyConfigError(
      `removePruning: model ${JSON.stringify(model.name)} is not pruned; prune it first (pruneLowMagnitude, l1Unstructured, …)`,
    );
  }
  pruner.apply();
  pruner.dispose();
  for (const m of aliases(model)) registry().delete(m);
  return model;
}

/**
 * The torch idiom in one namespace, as in `import torch.nn.utils.prune as prune`:
 * `prune.l1Unstructured(model, { amount: 0.5 })`, `prune.remove(model)`, `prune.isPruned(model)`.
 */
export const prune = Object.freeze({
  l1Unstructured,
  randomUnstructured,
  globalUnstructured,
  lnStructured,
  remove: removePruning,
  isPruned,
});
