import * as tf from '@tensorflow/tfjs';
import { check, checkFinite, disposeOptimizer, SparsifyConfigError } from '@sparsify/core';

/** Throws unless `options` is a plain object whose keys are all in `allowed`. */
export function checkOptionKeys(what: string, options: unknown, allowed: readonly string[]): void {
  check(typeof options === 'object' && options !== null && !Array.isArray(options), `${what} options`, options, 'an object');
  const unknown = Object.keys(options as object).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new SparsifyConfigError(
      `${what}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}; valid options: ${allowed.join(', ')}`,
    );
  }
}

/** Throws unless `options[key]` is present. */
export function checkRequired(what: string, options: object, key: string, expected: string): void {
  if ((options as Record<string, unknown>)[key] === undefined) {
    throw new SparsifyConfigError(`${what}: option "${key}" is required (${expected}); see the README for recommended ranges`);
  }
}

/**
 * A tfjs optimizer in serialised form (`optimizer.getClassName()` and `optimizer.getConfig()`), e.g.
 * `{ className: 'SGD', config: { learningRate: 0.1 } }`: what `getConfig()` records for a λ optimizer.
 */
export interface OptimizerSpec {
  className: string;
  config: Record<string, unknown>;
}

/** A λ optimizer: an instance (the caller owns and disposes it), its spec, or the spec as JSON text. */
export type LambdaOptimizerLike = tf.Optimizer | OptimizerSpec | string;

const OPTIMIZER_SPEC_HELP =
  'a tf.Optimizer, or {className, config} as tfjs serialises optimizers (e.g. {"className":"SGD","config":{"learningRate":0.1}}), or that JSON text';

type OptimizerConfig = Record<string, number | boolean | undefined>;
interface OptimizerFactory {
  /** Config keys and their types; `required` ones have no tfjs default. */
  readonly keys: Readonly<Record<string, 'number' | 'boolean'>>;
  readonly required: readonly string[];
  readonly build: (c: OptimizerConfig) => tf.Optimizer;
}
const n = (x: unknown) => x as number;

/** The tfjs 4.22 optimizers by serialised class name, built with tfjs's own defaults for missing keys. */
const OPTIMIZERS: Readonly<Record<string, OptimizerFactory>> = {
  SGD: { keys: { learningRate: 'number' }, required: ['learningRate'], build: (c) => tf.train.sgd(n(c.learningRate)) },
  Momentum: {
    keys: { learningRate: 'number', momentum: 'number', useNesterov: 'boolean' },
    required: ['learningRate', 'momentum'],
    build: (c) => tf.train.momentum(n(c.learningRate), n(c.momentum), c.useNesterov === true),
  },
  Adam: {
    keys: { learningRate: 'number', beta1: 'number', beta2: 'number', epsilon: 'number' },
    required: [],
    build: (c) => tf.train.adam(n(c.learningRate), n(c.beta1), n(c.beta2), n(c.epsilon)),
  },
  Adamax: {
    keys: { learningRate: 'number', beta1: 'number', beta2: 'number', epsilon: 'number', decay: 'number' },
    required: [],
    build: (c) => tf.train.adamax(n(c.learningRate), n(c.beta1), n(c.beta2), n(c.epsilon), n(c.decay)),
  },
  Adagrad: {
    keys: { learningRate: 'number', initialAccumulatorValue: 'number' },
    required: ['learningRate'],
    build: (c) => tf.train.adagrad(n(c.learningRate), n(c.initialAccumulatorValue)),
  },
  Adadelta: {
    keys: { learningRate: 'number', rho: 'number', epsilon: 'number' },
    required: [],
    build: (c) => tf.train.adadelta(n(c.learningRate), n(c.rho), n(c.epsilon)),
  },
  RMSProp: {
    keys: { learningRate: 'number', decay: 'number', momentum: 'number', epsilon: 'number', centered: 'boolean' },
    required: ['learningRate'],
    build: (c) => tf.train.rmsprop(n(c.learningRate), n(c.decay), n(c.momentum), n(c.epsilon), c.centered === true),
  },
};

/** Validates a λ optimizer option and returns its spec (for configs). */
export function optimizerSpec(what: string, value: LambdaOptimizerLike): OptimizerSpec {
  if (value instanceof tf.Optimizer) {
    return { className: value.getClassName(), config: JSON.parse(JSON.stringify(value.getConfig())) as Record<string, unknown> };
  }
  let spec: unknown = value;
  if (typeof value === 'string') {
    try {
      spec = JSON.parse(value);
    } catch {
      throw new SparsifyConfigError(`${what} must be ${OPTIMIZER_SPEC_HELP}; got the string ${JSON.stringify(value)}, which is not JSON`);
    }
  }
  const s = spec as Partial<OptimizerSpec> | null;
  check(
    typeof s === 'object' && s !== null && typeof s.className === 'string' && typeof s.config === 'object' && s.config !== null,
    what,
    value,
    OPTIMIZER_SPEC_HELP,
  );
  const { className, config } = s as OptimizerSpec;
  const factory = OPTIMIZERS[className];
  if (factory === undefined) {
    // Another optimizer registered with tfjs serialization (a custom class): its complete getConfig().
    const registered = registeredOptimizer(className);
    check(
      registered !== undefined,
      `${what}.className`,
      className,
      `one of the tfjs optimizers ${Object.keys(OPTIMIZERS).join(', ')} (or a class registered with tf.serialization.registerClass)`,
    );
    return { className, config: { ...config } };
  }
  for (const [key, v] of Object.entries(config)) {
    const type = factory.keys[key];
    check(type !== undefined, `${what} (${className}) config key`, key, `one of ${Object.keys(factory.keys).join(', ')}`);
    if (type === 'number') checkFinite(`${what} (${className}) ${key}`, v);
    else check(typeof v === 'boolean', `${what} (${className}) ${key}`, v, 'true or false');
  }
  for (const key of factory.required) {
    check(config[key] !== undefined, `${what} (${className}) ${key}`, config[key], 'given (tfjs has no default for it)');
  }
  return { className, config: { ...config } };
}

/** A fresh optimizer from a (validated) spec. The caller owns it (dispose with core's `disposeOptimizer`). */
export function optimizerFromSpec(spec: OptimizerSpec): tf.Optimizer {
  const valid = optimizerSpec('optimizer spec', spec);
  const factory = OPTIMIZERS[valid.className];
  if (factory) return factory.build(valid.config as OptimizerConfig);
  const [cls, fromConfig] = registeredOptimizer(valid.className)!;
  return fromConfig(cls, valid.config as tf.serialization.ConfigDict) as unknown as tf.Optimizer;
}

type Registered = [tf.serialization.SerializableConstructor<tf.serialization.Serializable>, tf.serialization.FromConfigMethod<tf.serialization.Serializable>];

/** A tf.Optimizer subclass registered with tfjs serialization under `className`, if any. */
function registeredOptimizer(className: string): Registered | undefined {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className] as Registered | undefined;
  if (!entry) return undefined;
  const prototype = (entry[0] as unknown as { prototype?: unknown }).prototype;
  return prototype instanceof tf.Optimizer ? entry : undefined;
}

/**
 * The optimizer a penalty hands to the training step for its λ's: the user's instance (the user owns
 * it), or one built from a spec (the penalty owns it and frees it in `dispose()`). Undefined means
 * "a fresh copy of the model's optimizer" (the training step creates and frees it).
 */
export class LambdaOptimizerHolder {
  readonly spec?: OptimizerSpec;
  private readonly given?: tf.Optimizer;
  private built?: tf.Optimizer;

  constructor(what: string, value: LambdaOptimizerLike | undefined) {
    if (value === undefined) return;
    this.spec = optimizerSpec(what, value);
    if (value instanceof tf.Optimizer) this.given = value;
  }

  /** Created on first use, outside any `tf.tidy` (tfjs optimizers create unkept scalars in their constructors). */
  get optimizer(): tf.Optimizer | undefined {
    if (this.given) return this.given;
    if (this.spec && !this.built) this.built = optimizerFromSpec(this.spec);
    return this.built;
  }

  dispose(): void {
    if (this.built) disposeOptimizer(this.built);
    this.built = undefined;
  }
}

let instanceCounter = 0;

/**
 * A variable-name prefix no registered variable uses (tfjs throws on duplicate variable names), e.g.
 * `halo_3`. Checked against the engine, so two copies of this module in one process cannot collide.
 */
export function uniquePrefix(base: string): string {
  const registered = tf.engine().registeredVariables;
  for (;;) {
    const prefix = `${base}_${++instanceCounter}`;
    const taken = Object.keys(registered).some((name) => name === prefix || name.startsWith(`${prefix}/`));
    if (!taken) return prefix;
  }
}

/** Linear-interpolation quantiles of an ascending array (q in [0, 1]). */
export function quantilesOfSorted(sorted: ArrayLike<number>, qs: readonly number[]): number[] {
  const n = sorted.length;
  return qs.map((q) => {
    if (n === 0) return NaN;
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  });
}

/** The quantiles that diagnostics report: min, p05, p50, p95, max. */
export const DIAGNOSTIC_QUANTILES = [0, 0.05, 0.5, 0.95, 1] as const;
export const DIAGNOSTIC_SUFFIXES = ['Min', 'P05', 'P50', 'P95', 'Max'] as const;
