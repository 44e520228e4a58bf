import type * as tf from '@tensorflow/tfjs';
import {
  DEFAULT_PRUNING,
  createPenalty,
  getPenaltyDefinition,
  listPenalties,
  resolvePruningDefaults,
  selectParams,
  type Penalty,
  type SelectOptions,
} from '@sparsify/core';
import { loadDataset, type LoadedDataset } from '@sparsify/datasets/node';
import { createModel, MODEL_NAMES } from '@sparsify/models';
import { Pruner, polynomialDecay } from '@sparsify/schedules';
import { art, type ArtController } from '@sparsify/hypersparse';
import type {
  ArtOptions,
  ArtSnapshot,
  FinetuneOptions,
  OneShotPruning,
  OptimizerConfig,
  PrunerLike,
  TrainOptions,
} from '@sparsify/train/node';
import { BASELINES, type RunConfig } from './config.js';
import { UsageError, show } from './errors.js';

/** ART controller options given with `--set` for hypersparse (the rest go to the penalty). */
export const ART_KEYS = ['alphaInit', 'growth', 'window', 'maxEpochs'] as const;
/** gmp options given with `--set`. */
export const GMP_KEYS = ['begin', 'end', 'frequency', 'power', 'scope'] as const;

export interface RunSetup {
  data: LoadedDataset;
  model: tf.LayersModel;
  penalties: Penalty[];
  pruner: Pruner | null;
  options: Omit<TrainOptions, 'runDir' | 'resume' | 'callbacks'>;
  /** What the report says about how pruning happened. */
  pruning: Record<string, unknown>;
  /** The penalty's config for the report (`{ name: 'none' }` for the baselines). */
  penaltyConfig: { name: string; config: Record<string, unknown> };
  dispose(): void;
}

function checkKeys(method: string, options: Record<string, unknown>, allowed: readonly string[], where?: string): void {
  const bad = Object.keys(options).filter((k) => !allowed.includes(k));
  if (bad.length) {
    throw new UsageError(
      `${where === undefined ? '--penalty' : `${where}: method`} ${method}: unknown option ${bad.map((k) => show(k)).join(', ')}; valid: ${allowed.length ? allowed.join(', ') : 'none'}`,
    );
  }
}

/**
 * Checks the names in a config against the registries (model, method, options) before anything runs.
 * Messages name flags, or `where: key` for values from a file (see `validateRunConfig`).
 */
export function checkNames(config: RunConfig, where?: string): void {
  const name = (flag: string, key: string) => (where === undefined ? `--${flag}` : `${where}: ${key}`);
  if (!MODEL_NAMES.includes(config.model) && !/^resnet-\d+(x\d+)?$/.test(config.model)) {
    throw new UsageError(`${name('model', 'model')} must be one of ${MODEL_NAMES.join(', ')}; got ${show(config.model)}`);
  }
  const methods = [...BASELINES, ...listPenalties().map((p) => p.name)];
  if (!methods.includes(config.method)) {
    throw new UsageError(
      `${name('penalty', 'method')} must be one of ${methods.join(', ')}; got ${show(config.method)} (sparsify penalties lists the installed ones)`,
    );
  }
  if (config.method === 'none' || config.method === 'magnitude') checkKeys(config.method, config.options, [], where);
  else if (config.method === 'gmp') checkKeys('gmp', config.options, GMP_KEYS, where);
  else {
    const def = getPenaltyDefinition(config.method)!;
    const extra = config.method === 'hypersparse' ? ART_KEYS : [];
    checkKeys(config.method, config.options, [...Object.keys(def.schema), ...extra], where);
  }
}

/**
 * A target sparsity must leave at least one weight to keep, in the whole model (global scope) or in
 * every pruned layer (layer scope): 0.999999 of LeNet-300-100's 266,200 weights keeps none.
 */
function checkKeepsWeights(config: RunConfig, model: tf.LayersModel, scope: 'global' | 'layer'): void {
  if (config.sparsity === 0) return;
  const params = selectParams(model);
  const groups =
    scope === 'global'
      ? [{ name: config.model, size: params.reduce((n, p) => n + p.size, 0) }]
      : params.map((p) => ({ name: p.name, size: p.size }));
  for (const g of groups) {
    if (Math.floor((1 - config.sparsity) * g.size) < 1) {
      throw new UsageError(
        `--sparsity ${config.sparsity} keeps none of the ${g.size.toLocaleString('en-US')} prunable weights of ${g.name}${scope === 'layer' ? ' (layer scope)' : ''}; ` +
          `it must be below 1 − 1/${g.size} = ${1 - 1 / g.size} to keep any`,
      );
    }
  }
}

/** The run's optimizer in tfjs's form; Adam's ε as PyTorch's 1e-8 (tfjs's default is 1e-7). */
function optimizerOf(config: RunConfig, lr: number): OptimizerConfig {
  switch (config.optimizer) {
    case 'sgd':
      return { className: 'SGD', config: { learningRate: lr } };
    case 'momentum':
      return { className: 'Momentum', config: { learningRate: lr, momentum: config.momentum } };
    case 'adam':
      return { className: 'Adam', config: { learningRate: lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } };
  }
}

/** Steps per epoch of a training set. */
export function stepsPerEpoch(size: number, batchSize: number): number {
  return Math.ceil(size / batchSize);
}

/**
 * Loads the data, builds the seeded model and the method's penalties / pruner / ART controller, and
 * the `train` options. Throws (UsageError, SparsifyConfigError, DatasetError, ModelConfigError) on any
 * bad value; nothing is written here.
 */
export function buildRun(config: RunConfig, where?: string): RunSetup {
  checkNames(config, where);
  const data = loadDataset(config.dataset, {
    dataDir: config.dataDir,
    seed: config.seed,
    ...(config.limit ? { limit: config.limit } : {}),
    ...(config.validation ? { validation: config.validation } : {}),
  });
  const model = createModel(config.model, { inputShape: data.sampleShape, numClasses: data.numClasses, seed: config.seed });
  const penalties: Penalty[] = [];
  let pruner: Pruner | null = null;
  try {
    checkKeepsWeights(
      config,
      model,
      config.method === 'gmp'
        ? ((config.options.scope as 'global' | 'layer' | undefined) ?? 'layer')
        : (config.pruneScope ?? DEFAULT_PRUNING.scope),
    );
    const optimizer = optimizerOf(config, config.lr);
    const finetune: FinetuneOptions | undefined =
      config.finetuneEpochs > 0
        ? { epochs: config.finetuneEpochs, optimizer: optimizerOf(config, config.finetuneLr ?? config.lr) }
        : undefined;
    const penaltySelection: SelectOptions | undefined = config.penalizeBiases ? { biases: true } : undefined;
    let prune: OneShotPruning | undefined;
    let pruning: PrunerLike | undefined;
    let artOptions: ArtOptions | undefined;
    let epochs = config.epochs;
    let pruningInfo: Record<string, unknown> = { kind: 'none' };
    let penaltyConfig: RunSetup['penaltyConfig'] = { name: 'none', config: {} };
    const oneShot = () => {
      if (config.sparsity > 0) {
        // The one default (global, quantile) unless the method states its own (HALO: quantileNonZero)
        // or the run gives --prune-scope / --prune-rule; @sparsify/train resolves it the same way.
        const { scope, rule } = resolvePruningDefaults(penalties, { scope: config.pruneScope, rule: config.pruneRule });
        prune = { sparsity: config.sparsity, scope, rule };
        pruningInfo = { kind: 'oneShot', scope, rule, atEnd: true };
      }
    };
    if (config.method === 'none') {
      // dense
    } else if (config.method === 'magnitude') {
      oneShot();
    } else if (config.method === 'gmp') {
      const steps = stepsPerEpoch(data.train.size, config.batchSize) * config.epochs;
      const o = config.options as { begin?: number; end?: number; frequency?: number; power?: number; scope?: string };
      const begin = Math.round((o.begin ?? 0) * steps);
      const end = Math.max(begin + 1, Math.round((o.end ?? 0.75) * steps));
      const frequency = o.frequency ?? Math.max(1, Math.min(100, Math.floor((end - begin) / 10)));
      const gmpScope = (o.scope ?? 'layer') as 'global' | 'layer';
      if (!['global', 'layer'].includes(gmpScope)) throw new UsageError(`--set scope must be "global" or "layer"; got ${show(o.scope)}`);
      const schedule = polynomialDecay({
        initialSparsity: 0,
        finalSparsity: config.sparsity,
        beginStep: begin,
        endStep: end,
        frequency,
        power: o.power ?? 3,
      });
      // GMP (Zhu & Gupta, tfmot) states its ranking: per layer unless --set scope=global, exact count.
      pruner = new Pruner(model, { schedule, method: { kind: 'magnitude', scope: gmpScope, rule: 'exactCount' } });
      pruning = pruner;
      pruningInfo = { kind: 'gmp', schedule: schedule.getConfig(), scope: gmpScope, rule: 'exactCount' };
    } else if (config.method === 'hypersparse') {
      const artOpts: Record<string, unknown> = {};
      const penaltyOpts: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(config.options)) ((ART_KEYS as readonly string[]).includes(k) ? artOpts : penaltyOpts)[k] = v;
      const controller: ArtController<ArtSnapshot> = art<ArtSnapshot>({ ...artOpts, warmupEpochs: config.epochs });
      const penalty = createPenalty('hypersparse', { sparsity: config.sparsity, strength: controller.strength, ...penaltyOpts });
      penalties.push(penalty);
      artOptions = { controller, sparsity: config.sparsity };
      epochs = config.epochs;
      pruningInfo = {
        kind: 'art',
        sparsity: config.sparsity,
        warmupEpochs: config.epochs,
        maxEpochs: controller.maxEpochs,
        alphaInit: controller.alphaInit,
        growth: controller.growth,
        window: controller.window,
      };
      penaltyConfig = { name: 'hypersparse', config: { ...penalty.getConfig().options, ...artOpts } };
    } else {
      const penalty = createPenalty(config.method, config.options);
      penalties.push(penalty);
      penaltyConfig = { name: config.method, config: penalty.getConfig().options };
      oneShot();
    }
    const options: RunSetup['options'] = {
      model,
      data: { train: data.train, test: data.test, ...(data.validation ? { validation: data.validation } : {}) },
      optimizer,
      epochs,
      batchSize: config.batchSize,
      seed: config.seed,
      penalties,
      penaltySelection,
      weightDecay: config.weightDecay,
      ...(prune ? { prune } : {}),
      ...(pruning ? { pruning } : {}),
      ...(artOptions ? { art: artOptions } : {}),
      ...(finetune ? { finetune } : {}),
    };
    return {
      data,
      model,
      penalties,
      pruner,
      options,
      pruning: pruningInfo,
      penaltyConfig,
      dispose() {
        for (const p of penalties) p.dispose();
        pruner?.dispose();
        model.dispose();
      },
    };
  } catch (error) {
    for (const p of penalties) p.dispose();
    (pruner as Pruner | null)?.dispose();
    model.dispose();
    throw error;
  }
}
