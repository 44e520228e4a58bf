import * as tf from '@tensorflow/tfjs';
import { check, ModelConfigError, show } from './errors.js';
import { Initializers, type BatchNormSettings, type InitScheme } from './init.js';

/** Options every builder takes. */
export interface ModelOptions {
  /** Shape of one input sample (no batch axis): `[H, W, C]` images, or `[d]` vectors for the MLP. */
  inputShape?: readonly number[];
  /** Number of classes: the width of the logits (default 10). */
  numClasses?: number;
  /** Seed threaded into every initializer (default 0): the same seed builds the same weights. */
  seed?: number;
  /** `pytorch` (default): the reference code's initialisers and BatchNorm settings; `tfjs`: TF.js defaults. */
  init?: InitScheme;
  /** Append a softmax layer (default false: the model outputs logits). */
  softmax?: boolean;
  /** Model name (default the registry name). */
  name?: string;
}

/** Options of the models with BatchNorm. */
export interface BatchNormOptions {
  /** Override the BatchNorm momentum/epsilon that `init` picks (pytorch: 0.9 / 1e-5; tfjs: 0.99 / 1e-3). */
  batchNorm?: Partial<BatchNormSettings>;
}

export const COMMON_OPTION_KEYS = ['inputShape', 'numClasses', 'seed', 'init', 'softmax', 'name'] as const;

export interface Resolved {
  model: string;
  inputShape: number[];
  numClasses: number;
  seed: number;
  init: InitScheme;
  softmax: boolean;
  name: string;
  inits: Initializers;
}

/** Validates the common options (and rejects keys the builder does not know). */
export function resolveOptions(
  model: string,
  options: object | undefined,
  defaults: { inputShape: number[]; name: string },
  extraKeys: readonly string[] = [],
): Resolved {
  const o = (options ?? {}) as ModelOptions & Record<string, unknown>;
  check(typeof o === 'object' && o !== null && !Array.isArray(o), `${model} options`, o, 'an object');
  const valid = [...COMMON_OPTION_KEYS, ...extraKeys];
  for (const key of Object.keys(o)) {
    if (o[key] !== undefined && !valid.includes(key)) {
      throw new ModelConfigError(`${model} has no option ${show(key)}; valid: ${valid.join(', ')}`);
    }
  }
  const inputShape = o.inputShape ? [...o.inputShape] : defaults.inputShape;
  check(
    inputShape.length >= 1 && inputShape.length <= 3 && inputShape.every((d) => Number.isSafeInteger(d) && d > 0),
    `${model} inputShape`,
    o.inputShape,
    'an array of 1 to 3 positive integers, e.g. [28, 28, 1]',
  );
  const numClasses = o.numClasses ?? 10;
  check(Number.isSafeInteger(numClasses) && numClasses >= 2, `${model} numClasses`, numClasses, 'an integer ≥ 2');
  const seed = o.seed ?? 0;
  check(Number.isSafeInteger(seed), `${model} seed`, seed, 'an integer');
  const init = o.init ?? 'pytorch';
  check(init === 'pytorch' || init === 'tfjs', `${model} init`, init, '"pytorch" or "tfjs"');
  const softmax = o.softmax ?? false;
  check(typeof softmax === 'boolean', `${model} softmax`, softmax, 'a boolean');
  const name = o.name ?? defaults.name;
  check(
    typeof name === 'string' && /^[A-Za-z0-9][-A-Za-z0-9._]*$/.test(name),
    `${model} name`,
    name,
    'a name of letters, digits, ".", "_" and "-"',
  );
  return { model, inputShape, numClasses, seed, init, softmax, name, inits: new Initializers(init, seed) };
}

export function resolveBatchNorm(r: Resolved, override: Partial<BatchNormSettings> | undefined): BatchNormSettings {
  if (override !== undefined) {
    check(typeof override === 'object' && override !== null, `${r.model} batchNorm`, override, 'an object { momentum?, epsilon? }');
    if (override.momentum !== undefined) {
      check(
        Number.isFinite(override.momentum) && override.momentum >= 0 && override.momentum < 1,
        `${r.model} batchNorm.momentum`,
        override.momentum,
        'a number in [0, 1) (TF.js convention: 0.9 = PyTorch momentum 0.1)',
      );
    }
    if (override.epsilon !== undefined) {
      check(Number.isFinite(override.epsilon) && override.epsilon > 0, `${r.model} batchNorm.epsilon`, override.epsilon, 'a number > 0');
    }
  }
  return r.inits.batchNorm(override);
}

/** Requires `[H, W, C]` input. */
export function requireImage(r: Resolved): void {
  if (r.inputShape.length !== 3) {
    throw new ModelConfigError(`${r.model} needs image input [H, W, C]; got inputShape ${show(r.inputShape)}`);
  }
}

/** Throws when a feature map has shrunk to nothing (TF.js would silently build negative shapes). */
export function checkSpatial(r: Resolved, x: tf.SymbolicTensor, after: string): tf.SymbolicTensor {
  const [, h, w] = x.shape;
  if (x.shape.length === 4 && ((h as number) < 1 || (w as number) < 1)) {
    throw new ModelConfigError(
      `${r.model}: inputShape ${show(r.inputShape)} is too small: the feature map after ${after} would be ${h}×${w}`,
    );
  }
  return x;
}

/** The logits layer, plus a softmax when asked for. */
export function head(r: Resolved, x: tf.SymbolicTensor): tf.SymbolicTensor {
  if (!r.softmax) return x;
  return tf.layers.activation({ activation: 'softmax', name: 'softmax' }).apply(x) as tf.SymbolicTensor;
}
