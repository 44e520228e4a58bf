import * as tf from '@tensorflow/tfjs';
import { check, checkFinite, SparsifyConfigError } from './errors.js';

/**
 * Optimizers in one vocabulary, tfjs's serialised form `{ className, config }` (what
 * `optimizer.getClassName()` and `optimizer.getConfig()` give), e.g.
 * `{ className: 'Momentum', config: { learningRate: 0.01, momentum: 0.9 } }`. Run configs, the CLI and
 * penalties with optimizers of their own (HALO's λ) all use it.
 */
export interface OptimizerConfig {
  className: string;
  config: Record<string, unknown>;
}

/** An optimizer as an option: an instance (its owner disposes it), its config, or that config as JSON text. */
export type OptimizerLike = tf.Optimizer | OptimizerConfig | string;

const OPTIMIZER_CONFIG_HELP =
  'a tf.Optimizer, or {className, config} as tfjs serialises optimizers (e.g. {"className":"SGD","config":{"learningRate":0.1}}), or that JSON text';

type Values = Record<string, number | boolean | undefined>;
interface OptimizerFactory {
  /** Config keys and their types; `required` ones have no tfjs default. */
  readonly keys: Readonly<Record<string, 'number' | 'boolean'>>;
  readonly required: readonly string[];
  readonly build: (c: Values) => tf.Optimizer;
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

type Registered = [
  tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
  tf.serialization.FromConfigMethod<tf.serialization.Serializable>,
];

/** A tf.Optimizer subclass registered with tfjs serialization under `className`, if any. */
function registeredOptimizer(className: string): Registered | undefined {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className] as Registered | undefined;
  if (!entry) return undefined;
  const prototype = (entry[0] as unknown as { prototype?: unknown }).prototype;
  return prototype instanceof tf.Optimizer ? entry : undefined;
}

/** Validates an optimizer given as an instance, a config or JSON text, and returns its config. */
export function optimizerConfig(what: string, value: OptimizerLike): OptimizerConfig {
  if (value instanceof tf.Optimizer) {
    return { className: value.getClassName(), config: JSON.parse(JSON.stringify(value.getConfig())) as Record<string, unknown> };
  }
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new SparsifyConfigError(`${what} must be ${OPTIMIZER_CONFIG_HELP}; got the string ${JSON.stringify(value)}, which is not JSON`);
    }
  }
  const s = parsed as Partial<OptimizerConfig> | null;
  check(
    typeof s === 'object' && s !== null && typeof s.className === 'string' && typeof s.config === 'object' && s.config !== null,
    what,
    value,
    OPTIMIZER_CONFIG_HELP,
  );
  const { className, config } = s as OptimizerConfig;
  const factory = OPTIMIZERS[className];
  if (factory === undefined) {
    // Another optimizer registered with tfjs serialization (a custom class): its complete getConfig().
    check(
      registeredOptimizer(className) !== undefined,
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

/** A fresh optimizer from a config (validated here). The caller owns it: free it with `disposeOptimizer`. */
export function optimizerFromConfig(config: OptimizerConfig): tf.Optimizer {
  const valid = optimizerConfig('optimizer config', config);
  const factory = OPTIMIZERS[valid.className];
  if (factory) return factory.build(valid.config as Values);
  const [cls, fromConfig] = registeredOptimizer(valid.className)!;
  return fromConfig(cls, valid.config as tf.serialization.ConfigDict) as unknown as tf.Optimizer;
}

/**
 * Disposes an optimizer completely. tfjs 4.22's `MomentumOptimizer.dispose()` frees its momentum
 * scalar and slots but not the learning-rate scalar its SGD parent keeps (`c`), leaking one tensor
 * per optimizer; this frees that too.
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  // Not `instanceof`: tf.Optimizer's Symbol.hasInstance is duck-typed and matches every optimizer.
  if ((optimizer.constructor as { className?: string }).className === 'Momentum') {
    const c = (optimizer as unknown as { c?: tf.Tensor }).c;
    if (c && !c.isDisposed) c.dispose();
  }
}

/** A fresh optimizer of the same class and settings (so slot state is separate). */
export function cloneOptimizer(optimizer: tf.Optimizer): tf.Optimizer {
  const cls = optimizer.constructor as unknown as tf.serialization.SerializableConstructor<tf.Optimizer> & {
    fromConfig: (cls: unknown, config: tf.serialization.ConfigDict) => tf.Optimizer;
  };
  return cls.fromConfig(cls, optimizer.getConfig());
}
