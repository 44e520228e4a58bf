import { UsageError, show } from './errors.js';

export const BASELINES = ['none', 'magnitude', 'gmp'] as const;
export const BACKENDS = ['auto', 'cpu', 'wasm', 'tensorflow', 'tensorflow-gpu'] as const;
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export const PRUNE_RULES = ['quantile', 'quantileNonZero', 'exactCount'] as const;
export const PRUNE_SCOPES = ['global', 'layer'] as const;

/** Everything a run needs; stored as `run.json` in the run directory (resume reads it back). */
export interface RunConfig {
  version: 1;
  model: string;
  dataset: string;
  dataDir?: string;
  /** Cap on training / test samples (quick runs). */
  limit?: number;
  /** Validation fraction (or count) carved from the training set for per-epoch evaluation. */
  validation?: number;
  /** `none`, `magnitude`, `gmp`, or a registered penalty name. */
  method: string;
  /** Options of the penalty (or of the baseline: gmp `frequency`, `begin`, `end`, `scope`; ART keys for hypersparse). */
  options: Record<string, unknown>;
  /** Target sparsity in [0, 1). */
  sparsity: number;
  epochs: number;
  finetuneEpochs: number;
  batchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Fine-tune learning rate (default: lr). */
  finetuneLr?: number;
  /** One-shot pruning at the end: rule and scope (defaults: quantile and global; HALO: quantileNonZero). */
  pruneRule?: (typeof PRUNE_RULES)[number];
  pruneScope?: (typeof PRUNE_SCOPES)[number];
  /** Also penalise biases (the MNIST references do). */
  penalizeBiases?: boolean;
  seed: number;
  backend: (typeof BACKENDS)[number];
}

/**
 * The options a method runs with when they are not given (`--set`, `--config` and sweep entries
 * override them), so that every penalty runs with no flags. Chosen for the default job (LeNet-300-100,
 * 10 epochs + 2 of fine-tuning, momentum SGD at lr 0.1, batch 100) on validation splits — never the
 * test set — of the bundled digits and Fashion-MNIST at 95% and 98% sparsity: docs/defaults.md has the
 * grid, the results and the range to sweep for other models and datasets. A penalty's strength scales
 * with the number of weights it sums over, so other models need their own sweep.
 *
 * HALO's reference setting ξ = ψ = 1e-8 with λ decay 1e-4 is for 160 CIFAR epochs of 782 steps: λ
 * needs ~80 such epochs to settle (packages/halo/README.md, "What drives λ"), so on this job it barely
 * moves and HALO gains little over magnitude pruning (docs/results.md). HyperSparse's ART grows α from 5e-6 by η = 1.05 per epoch
 * in the paper (CIFAR, hundreds of epochs): here η = 1.3 and a cap of 25 ART epochs keep the whole run
 * within 10 + 25 + 2 = 37 epochs (ART stopped by itself after 15–20 ART epochs in the grid).
 */
export const METHOD_PRESETS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  halo: { xi: 3e-6, psi: 3e-6, lambdaWeightDecay: 3e-3 },
  sws: { xi: 1e-4, psi: 1e-4 },
  lasso: { strength: 3e-5 },
  'adaptive-lasso': { strength: 1e-6 },
  'reweighted-l1': { strength: 1e-6 },
  'log-penalty': { strength: 3e-6 },
  hoyer: { strength: 1e-3 },
  'hoyer-square': { strength: 1e-5 },
  'group-hoyer-square': { strength: 1e-4 },
  hypersparse: { alphaInit: 5e-6, growth: 1.3, maxEpochs: 25 },
};

export const TRAIN_DEFAULTS = {
  model: 'lenet-300-100',
  dataset: 'mnist',
  method: 'halo',
  epochs: 10,
  finetuneEpochs: 2,
  batchSize: 100,
  optimizer: 'momentum' as const,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 1e-4,
  seed: 0,
  backend: 'auto' as const,
  sparsity: 0.95,
};

/** Names a run config field in messages: as its flag (`--finetune-epochs`), or as `where: key` for a config file. */
function fieldName(key: string, where?: string): string {
  return where === undefined ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : `${where}: ${key}`;
}

function oneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new UsageError(`${what} must be one of ${allowed.join(', ')}; got ${show(value)}`);
  return value as T;
}

function int(what: string, value: unknown, min: number): number {
  if (!Number.isInteger(value) || (value as number) < min) throw new UsageError(`${what} must be an integer ≥ ${min}; got ${show(value)}`);
  return value as number;
}

function positive(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new UsageError(`${what} must be a number > 0; got ${show(value)}`);
  return value;
}

function nonNegative(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new UsageError(`${what} must be a number ≥ 0; got ${show(value)}`);
  return value;
}

/**
 * Checks a run config's fields (types and ranges; names are checked against the registries later).
 * Messages name flags (`--epochs`), or `where: key` when the values come from a file (`where` says
 * which: `runs/a/run.json`, `sweep config methods[1]`).
 */
export function validateRunConfig(c: RunConfig, where?: string): RunConfig {
  const name = (key: string) => fieldName(key, where);
  const prefix = where === undefined ? '' : `${where}: `;
  if (!c || typeof c !== 'object') throw new UsageError(`${prefix}run config must be an object; got ${show(c)}`);
  if (c.version !== 1) throw new UsageError(`${prefix}run config version must be 1; got ${show(c.version)}`);
  for (const key of ['model', 'dataset', 'method'] as const) {
    if (typeof c[key] !== 'string' || c[key].length === 0)
      throw new UsageError(`${prefix}${key} must be a non-empty string; got ${show(c[key])}`);
  }
  if (typeof c.sparsity !== 'number' || !(c.sparsity >= 0 && c.sparsity < 1)) {
    throw new UsageError(`${name('sparsity')} must be a fraction in [0, 1) (e.g. 0.95 keeps 5% of the weights); got ${show(c.sparsity)}`);
  }
  int(name('epochs'), c.epochs, 0);
  int(name('finetuneEpochs'), c.finetuneEpochs, 0);
  int(name('batchSize'), c.batchSize, 1);
  int(name('seed'), c.seed, 0);
  oneOf(name('optimizer'), c.optimizer, OPTIMIZERS);
  positive(name('lr'), c.lr);
  if (c.finetuneLr !== undefined) positive(name('finetuneLr'), c.finetuneLr);
  if (typeof c.momentum !== 'number' || !(c.momentum >= 0 && c.momentum < 1))
    throw new UsageError(`${name('momentum')} must be in [0, 1); got ${show(c.momentum)}`);
  nonNegative(name('weightDecay'), c.weightDecay);
  oneOf(name('backend'), c.backend, BACKENDS);
  if (c.pruneRule !== undefined) oneOf(name('pruneRule'), c.pruneRule, PRUNE_RULES);
  if (c.pruneScope !== undefined) oneOf(name('pruneScope'), c.pruneScope, PRUNE_SCOPES);
  if (c.limit !== undefined) int(name('limit'), c.limit, 1);
  if (c.validation !== undefined) positive(name('validation'), c.validation);
  if (!c.options || typeof c.options !== 'object' || Array.isArray(c.options))
    throw new UsageError(`${prefix}options must be an object; got ${show(c.options)}`);
  const penalty = where === undefined ? '--penalty' : `${where}: method`;
  if (c.method === 'none' && c.sparsity > 0) {
    throw new UsageError(
      `${penalty} none trains dense and prunes nothing, so ${name('sparsity')} must be 0; got ${c.sparsity}. For magnitude pruning use ${penalty} magnitude (one-shot) or gmp (gradual)`,
    );
  }
  if (c.method !== 'none' && c.sparsity === 0 && BASELINES.includes(c.method as never)) {
    throw new UsageError(
      `${penalty} ${c.method} prunes to ${name('sparsity')}, which must be > 0; got 0 (use ${penalty} none to train dense)`,
    );
  }
  return c;
}

/** `key=value` → [key, parsed value]: numbers, true/false, JSON objects/arrays, else the string. */
export function parseSet(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set takes key=value (e.g. --set xi=1e-8); got ${show(text)}`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  if (!/^[A-Za-z_][\w]*$/.test(key)) throw new UsageError(`--set key must be an option name (letters, digits, _); got ${show(key)}`);
  return [key, parseValue(raw, `--set ${key}`)];
}

export function parseValue(raw: string, what: string): unknown {
  if (raw === '') throw new UsageError(`${what} needs a value after "="`);
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return Number(raw);
  if (raw.startsWith('{') || raw.startsWith('[')) {
    try {
      return JSON.parse(raw);
    } catch (error) {
      throw new UsageError(`${what}: ${show(raw)} is not valid JSON (${(error as Error).message})`);
    }
  }
  return raw;
}
