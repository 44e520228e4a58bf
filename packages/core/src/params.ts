import type * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError } from './errors.js';

/** What a parameter is inside its layer. */
export type ParamRole = 'kernel' | 'bias' | 'gamma' | 'beta' | 'other';

/**
 * How the kernel is laid out, so structured penalties and pruning know their axes.
 * - `dense`: `[in, out]`
 * - `conv2d`: `[kh, kw, in, out]` (channels-last)
 * - `depthwiseConv2d`: `[kh, kw, in, multiplier]`
 * - `vector`: rank 1 (bias, BatchNorm γ/β)
 * - `other`: anything else
 */
export type ParamLayout = 'dense' | 'conv2d' | 'depthwiseConv2d' | 'vector' | 'other';

/** One selected variable, with enough context to penalise, prune and report it. */
export interface Param {
  /** The variable's name, e.g. `dense_Dense1/kernel`. Unique within a selection. */
  readonly name: string;
  /** The owning layer's name (or the variable name for a plain list). */
  readonly layerName: string;
  /** The owning layer's class name (`Dense`, `Conv2D`, …), or `Variable` for a plain list. */
  readonly layerClass: string;
  readonly role: ParamRole;
  readonly layout: ParamLayout;
  readonly shape: readonly number[];
  readonly size: number;
  readonly variable: tf.Variable;
}

export interface GroupAxes {
  /** Axes reduced to get one norm per input feature / channel. */
  readonly input: number[];
  /** Axes reduced to get one norm per output neuron / filter. */
  readonly output: number[];
  /** The axis indexing input features / channels. */
  readonly inputAxis: number;
  /** The axis indexing output neurons / filters. */
  readonly outputAxis: number;
}

/** Input and output group axes of a kernel (see docs/conventions.md, "Layouts"), or null where groups are undefined. */
export function groupAxes(param: Pick<Param, 'layout'>): GroupAxes | null {
  switch (param.layout) {
    case 'dense':
      return { input: [1], output: [0], inputAxis: 0, outputAxis: 1 };
    case 'conv2d':
      return { input: [0, 1, 3], output: [0, 1, 2], inputAxis: 2, outputAxis: 3 };
    default:
      return null;
  }
}

export interface SelectOptions {
  /** Conv and dense kernels (default true). */
  kernels?: boolean;
  /** Biases (default false; true matches the HALO and DeepHoyer MNIST setups). */
  biases?: boolean;
  /** BatchNorm γ and β (default false: zeroing γ silently removes channels). */
  batchNorm?: boolean;
  /** Skip the first / last layer that has a selected parameter (default false). */
  excludeFirst?: boolean;
  excludeLast?: boolean;
  /** Only these layer classes, e.g. `['Dense']` or `['Conv2D']`. */
  layerTypes?: readonly string[];
  /** Only layers or variables whose name matches one of these (string = exact, RegExp = test). */
  names?: readonly (string | RegExp)[];
  /** Drop layers or variables whose name matches one of these. */
  exclude?: readonly (string | RegExp)[];
}

/** Anything parameters can be selected from. */
export type ParamSource = tf.LayersModel | readonly tf.Variable[] | readonly Param[];

const KERNEL_LAYERS: Record<string, ParamLayout> = {
  Dense: 'dense',
  Conv2D: 'conv2d',
  DepthwiseConv2D: 'depthwiseConv2d',
};

function isParam(x: unknown): x is Param {
  return typeof x === 'object' && x !== null && 'variable' in x && 'role' in x;
}

function isLayersModel(x: unknown): x is tf.LayersModel {
  return typeof x === 'object' && x !== null && 'layers' in x && Array.isArray((x as tf.LayersModel).layers);
}

function roleOf(weightName: string, rank: number): ParamRole {
  const leaf = weightName.split('/').pop() ?? weightName;
  if (/kernel/.test(leaf)) return 'kernel';
  if (/bias/.test(leaf)) return 'bias';
  if (/gamma/.test(leaf)) return 'gamma';
  if (/beta/.test(leaf)) return 'beta';
  if (rank >= 2) return 'kernel';
  return 'other';
}

function layoutOf(layerClass: string, role: ParamRole, rank: number): ParamLayout {
  if (role === 'kernel') {
    const known = KERNEL_LAYERS[layerClass];
    if (known) return known;
    if (rank === 2) return 'dense';
    if (rank === 4) return 'conv2d';
    return 'other';
  }
  return rank === 1 ? 'vector' : 'other';
}

function describeVariable(variable: tf.Variable, layerName: string, layerClass: string): Param {
  const role = roleOf(variable.name, variable.rank);
  return {
    name: variable.name,
    layerName,
    layerClass,
    role,
    layout: layoutOf(layerClass, role, variable.rank),
    shape: variable.shape.slice(),
    size: variable.size,
    variable,
  };
}

/** Every trainable parameter of the source, described, in a stable order (layer order). */
export function describeParams(source: ParamSource): Param[] {
  if (isLayersModel(source)) {
    const params: Param[] = [];
    for (const layer of source.layers) {
      for (const weight of layer.trainableWeights) {
        // LayerVariable.read() returns the underlying tf.Variable the optimizer updates.
        const variable = weight.read() as tf.Variable;
        params.push(describeVariable(variable, layer.name, layer.getClassName()));
      }
    }
    return params;
  }
  return (source as readonly (tf.Variable | Param)[]).map((item) => (isParam(item) ? item : describeVariable(item, item.name, 'Variable')));
}

function matches(patterns: readonly (string | RegExp)[], p: Param): boolean {
  return patterns.some((pattern) =>
    typeof pattern === 'string' ? pattern === p.name || pattern === p.layerName : pattern.test(p.name) || pattern.test(p.layerName),
  );
}

/**
 * Which parameters are penalised or pruned: by default the kernels of dense and conv layers.
 * Throws when nothing is selected, since a penalty or pruning step over nothing is a configuration error.
 */
export function selectParams(source: ParamSource, options: SelectOptions = {}): Param[] {
  const { kernels = true, biases = false, batchNorm = false } = options;
  let params = describeParams(source).filter((p) => {
    const isBatchNorm = p.layerClass === 'BatchNormalization';
    if (isBatchNorm) return batchNorm;
    if (p.role === 'kernel') return kernels;
    if (p.role === 'bias') return biases;
    return false;
  });
  if (options.layerTypes) params = params.filter((p) => options.layerTypes!.includes(p.layerClass));
  if (options.names) params = params.filter((p) => matches(options.names!, p));
  if (options.exclude) params = params.filter((p) => !matches(options.exclude!, p));
  const layers = [...new Set(params.map((p) => p.layerName))];
  if (options.excludeFirst) params = params.filter((p) => p.layerName !== layers[0]);
  if (options.excludeLast) params = params.filter((p) => p.layerName !== layers[layers.length - 1]);
  if (params.length === 0) {
    throw new SparsifyConfigError(
      `selectParams selected no parameters with options ${JSON.stringify(options, (_k, v) =>
        v instanceof RegExp ? String(v) : v,
      )}; the source has ${
        describeParams(source)
          .map((p) => `${p.name} (${p.layerClass} ${p.role})`)
          .join(', ') || 'no trainable parameters'
      }`,
    );
  }
  return params;
}
