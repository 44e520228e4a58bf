import * as tf from '@tensorflow/tfjs';
import { channels, modelGraph, type LayerCall } from './graph.js';
import { withInferencePlan } from './sparse-plan.js';

type SymbolicTensor = tf.SymbolicTensor;

/**
 * `shrink`: the dense model that structured sparsity leaves behind. A channel (the last axis of a
 * layer's output: a Dense neuron, a conv filter) is dead when it is constant — every weight into it is 0
 * except from constant inputs, so it is its activated bias — or when nothing reads it (every weight out
 * of it into a live channel is 0). Dead channels are removed from their producer and from every reader;
 * a constant one's contribution c·w is added to each reader's bias. Channels that layers tie together
 * (Add, Concatenate, pass-through layers, Flatten's positions, a depthwise conv's inputs and outputs)
 * are removed together, only when every one of them is dead. The model's inputs and outputs, and every
 * layer `shrink` does not know, keep all their channels.
 */

export interface ShrinkOptions {
  /** Where the warning naming the layers kept whole goes (default `console.warn`); `null`: nowhere. */
  warn?: ((message: string) => void) | null;
  /**
   * Whether the shrunk model's `predict` runs an inference plan where the model is a chain of Dense,
   * Flatten, activation and dropout layers: one fused matmul + bias + activation per Dense layer, without
   * `LayersModel.predict`'s per-call machinery, the same outputs to float32 rounding (default true; the
   * model is a plain `LayersModel` either way).
   */
  plan?: boolean;
}

/** What `shrink` does to one layer with units (Dense, Conv2D, DepthwiseConv2D). */
export interface ShrinkLayerPlan {
  readonly name: string;
  readonly className: string;
  /** `neurons` for Dense, `channels` for convolutions. */
  readonly unit: 'neurons' | 'channels';
  /** Output neurons or channels before and after. */
  readonly total: number;
  readonly kept: number;
  /**
   * Input channels (features) before, and those it still reads: kept, with a non-zero weight into a
   * kept output. For a first layer: the input features (pixels) that matter.
   */
  readonly inputs: number;
  readonly inputsRead: number;
}

export interface ShrinkPlan {
  readonly layers: readonly ShrinkLayerPlan[];
  /** Layers kept whole because `shrink` does not know them, with why. */
  readonly unsupported: readonly { readonly name: string; readonly className: string; readonly reason: string }[];
  /** Parameters before and after. */
  readonly parameters: { readonly before: number; readonly after: number };
}

/** Layers that leave channels where they are (elementwise, pooling, noise that is identity at inference). */
const PASS_THROUGH = new Set([
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'ThresholdedReLU',
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'MaxPooling1D',
  'MaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'Cropping2D',
  'UpSampling2D',
  'ZeroPadding2D',
]);
/** Layers that evaluate a function of each channel's value (constants go through it). */
const ELEMENTWISE = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU']);
const MERGE = new Set(['Add', 'Subtract', 'Average', 'Maximum', 'Minimum']);
/** Activations that mix channels: outputs of a layer using one keep all their channels. */
const CHANNEL_MIXING = new Set(['softmax', 'logSoftmax']);

interface LayerConfig {
  activation?: string;
  padding?: string;
  dataFormat?: string;
  axis?: number | number[];
  useBias?: boolean;
  center?: boolean;
  scale?: boolean;
  epsilon?: number;
  depthMultiplier?: number;
}

/** Per symbolic tensor: its channel count, the class of each channel, and each channel's constant (NaN: varies). */
interface TensorInfo {
  readonly size: number;
  readonly classOf: Int32Array;
  readonly constant: Float64Array;
}

/** Weights of a layer by role (the suffix of their original name). */
function weightsByRole(layer: tf.layers.Layer): Map<string, { value: Float32Array; shape: number[] }> {
  const out = new Map<string, { value: Float32Array; shape: number[] }>();
  for (const w of layer.weights) {
    const role = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    out.set(role, { value: w.read().dataSync() as Float32Array, shape: w.shape as number[] });
  }
  return out;
}

/** `values` through the layer's (elementwise) activation, computed by tfjs. */
function activate(call: LayerCall, values: Float64Array): Float64Array {
  const { activation } = call.layer.getConfig() as LayerConfig;
  if (CHANNEL_MIXING.has(activation ?? '') && values.some(Number.isNaN)) return values.map(() => NaN);
  const known = values.map((v) => (Number.isNaN(v) ? 0 : v));
  const result = tf.tidy(() => {
    const x = tf.tensor2d(Float32Array.from(known), [1, values.length]);
    const layer = call.layer as unknown as { activation?: { apply(t: tf.Tensor): tf.Tensor } };
    const y = ELEMENTWISE.has(call.className) ? (call.layer.apply(x) as tf.Tensor) : layer.activation ? layer.activation.apply(x) : x;
    return y.dataSync();
  });
  return values.map((v, i) => (Number.isNaN(v) ? NaN : result[i]));
}

class UnionFind {
  private parent: number[] = [];
  make(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    while (this.parent[a] !== a) a = this.parent[a] = this.parent[this.parent[a]];
    return a;
  }
  union(a: number, b: number): void {
    const [ra, rb] = [this.find(a), this.find(b)];
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  get size(): number {
    return this.parent.length;
  }
}

/** Why `call` cannot be shrunk through, or null when it can. */
function unsupportedReason(call: LayerCall, shared: boolean): string | null {
  const config = call.layer.getConfig() as LayerConfig;
  const { className } = call;
  if (shared) return 'called more than once in the model';
  if (config.dataFormat === 'channelsFirst') return 'channels-first data format';
  if (className === 'Dense' || className === 'Conv2D' || className === 'DepthwiseConv2D') return null;
  if (className === 'BatchNormalization') {
    const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
    const rank = call.inputs[0].shape.length;
    return axis.length === 1 && (axis[0] === -1 || axis[0] === rank - 1) ? null : 'normalises an axis other than the last';
  }
  if (className === 'Activation' && CHANNEL_MIXING.has(config.activation ?? '')) return `activation ${config.activation} mixes channels`;
  if (PASS_THROUGH.has(className) || className === 'Flatten') return null;
  if (MERGE.has(className)) {
    const sizes = new Set(call.inputs.map((t) => t.shape.join(',')));
    return sizes.size === 1 ? null : 'merges inputs of different shapes';
  }
  if (className === 'Concatenate') {
    const axis = (call.layer.getConfig() as { axis?: number }).axis ?? -1;
    return axis === -1 || axis === call.outputs[0].shape.length - 1 ? null : 'concatenates along an axis other than the last';
  }
  return `${className} is not one of the layers shrink knows`;
}

interface Analysis {
  readonly graph: ReturnType<typeof modelGraph>;
  readonly tensors: Map<number, TensorInfo>;
  /** Per class: removed. */
  readonly removed: Uint8Array;
  readonly weights: Map<tf.layers.Layer, Map<string, { value: Float32Array; shape: number[] }>>;
  readonly unsupported: { name: string; className: string; reason: string }[];
}

/** For a reader (Dense, Conv2D): per input channel i and output o, Σ of the kernel over space, and whether any entry is non-zero. */
interface ReaderKernel {
  readonly inputs: number;
  readonly outputs: number;
  readonly sum: Float64Array;
  readonly nonZero: Uint8Array;
  readonly foldsAnyConstant: boolean;
}

function readerKernel(kernel: { value: Float32Array; shape: number[] }, call: LayerCall): ReaderKernel {
  const [I, O] = kernel.shape.slice(-2);
  const sum = new Float64Array(I * O);
  const nonZero = new Uint8Array(I * O);
  const v = kernel.value;
  for (let p = 0; p < v.length; p += I * O) {
    for (let k = 0; k < I * O; k++) {
      sum[k] += v[p + k];
      if (v[p + k] !== 0) nonZero[k] = 1;
    }
  }
  // A conv with 'same' padding sees zeros at the border: only a constant 0 folds into its bias exactly.
  const foldsAnyConstant = call.className === 'Dense' || (call.layer.getConfig() as LayerConfig).padding === 'valid';
  return { inputs: I, outputs: O, sum, nonZero, foldsAnyConstant };
}

function analyse(model: tf.LayersModel): Analysis {
  const graph = modelGraph(model);
  const uf = new UnionFind();
  const tensors = new Map<number, TensorInfo>();
  const fixed = new Set<number>();
  const weights = new Map<tf.layers.Layer, Map<string, { value: Float32Array; shape: number[] }>>();
  const unsupported: Analysis['unsupported'] = [];
  const readers: { call: LayerCall; kernel: ReaderKernel }[] = [];

  const info = (t: SymbolicTensor): TensorInfo => {
    let found = tensors.get(t.id);
    if (!found) {
      const size = channels(t);
      const classOf = new Int32Array(size);
      for (let j = 0; j < size; j++) classOf[j] = uf.make();
      found = { size, classOf, constant: new Float64Array(size).fill(NaN) };
      tensors.set(t.id, found);
    }
    return found;
  };
  const fix = (t: SymbolicTensor) => info(t).classOf.forEach((c) => fixed.add(c));
  const tie = (a: TensorInfo, j: number, b: TensorInfo, k: number) => uf.union(a.classOf[j], b.classOf[k]);

  graph.inputs.forEach(fix);
  for (const call of graph.calls) {
    const reason = unsupportedReason(call, graph.shared.has(call.layer));
    if (reason) {
      unsupported.push({ name: call.layer.name, className: call.className, reason });
      call.inputs.forEach(fix);
      call.outputs.forEach(fix);
      continue;
    }
    const config = call.layer.getConfig() as LayerConfig;
    const x = info(call.inputs[0]);
    const y = info(call.outputs[0]);
    const w = weightsByRole(call.layer);
    weights.set(call.layer, w);
    if (CHANNEL_MIXING.has(config.activation ?? '')) fix(call.outputs[0]);
    const { className } = call;
    if (className === 'Dense' || className === 'Conv2D') {
      const kernel = readerKernel(w.get('kernel')!, call);
      readers.push({ call, kernel });
      const bias = w.get('bias')?.value;
      const pre = new Float64Array(y.size);
      for (let o = 0; o < y.size; o++) {
        let value = bias ? bias[o] : 0;
        for (let i = 0; i < x.size && !Number.isNaN(value); i++) {
          if (!kernel.nonZero[i * y.size + o]) continue;
          const c = x.constant[i];
          value = !Number.isNaN(c) && (kernel.foldsAnyConstant || c === 0) ? value + c * kernel.sum[i * y.size + o] : NaN;
        }
        pre[o] = value;
      }
      y.constant.set(activate(call, pre));
    } else if (className === 'DepthwiseConv2D') {
      const kernel = readerKernel(w.get('depthwise_kernel')!, call);
      const m = kernel.outputs;
      const bias = w.get('bias')?.value;
      const pre = new Float64Array(y.size);
      for (let i = 0; i < x.size; i++) {
        for (let j = 0; j < m; j++) {
          const o = i * m + j;
          tie(x, i, y, o);
          const c = x.constant[i];
          const b = bias ? bias[o] : 0;
          pre[o] = !kernel.nonZero[o] ? b : !Number.isNaN(c) && (kernel.foldsAnyConstant || c === 0) ? b + c * kernel.sum[o] : NaN;
        }
      }
      y.constant.set(activate(call, pre));
    } else if (className === 'BatchNormalization') {
      const gamma = w.get('gamma')?.value;
      const beta = w.get('beta')?.value;
      const mean = w.get('moving_mean')!.value;
      const variance = w.get('moving_variance')!.value;
      const epsilon = config.epsilon ?? 1e-3;
      for (let j = 0; j < x.size; j++) {
        tie(x, j, y, j);
        const scale = (gamma ? gamma[j] : 1) / Math.sqrt(variance[j] + epsilon);
        y.constant[j] = (x.constant[j] - mean[j]) * scale + (beta ? beta[j] : 0);
      }
    } else if (className === 'Flatten') {
      for (let f = 0; f < y.size; f++) {
        tie(x, f % x.size, y, f);
        y.constant[f] = x.constant[f % x.size];
      }
    } else if (PASS_THROUGH.has(className)) {
      for (let j = 0; j < x.size; j++) tie(x, j, y, j);
      if (ELEMENTWISE.has(className)) y.constant.set(activate(call, x.constant));
      else if (className === 'ZeroPadding2D') y.constant.set(x.constant.map((c) => (c === 0 ? 0 : NaN)));
      else y.constant.set(x.constant);
    } else if (MERGE.has(className)) {
      const xs = call.inputs.map(info);
      for (let j = 0; j < y.size; j++) {
        for (const xi of xs) tie(xi, j, y, j);
        const cs = xs.map((xi) => xi.constant[j]);
        y.constant[j] =
          className === 'Add'
            ? cs.reduce((a, b) => a + b, 0)
            : className === 'Subtract'
              ? cs[0] - cs[1]
              : className === 'Average'
                ? cs.reduce((a, b) => a + b, 0) / cs.length
                : className === 'Maximum'
                  ? Math.max(...cs)
                  : Math.min(...cs);
      }
    } else if (className === 'Concatenate') {
      let at = 0;
      for (const xi of call.inputs.map(info)) {
        for (let j = 0; j < xi.size; j++) {
          tie(xi, j, y, at + j);
          y.constant[at + j] = xi.constant[j];
        }
        at += xi.size;
      }
    }
  }
  graph.outputs.forEach(fix);

  // Canonical class ids; fixed classes.
  const canonical = (c: number) => uf.find(c);
  for (const t of tensors.values()) t.classOf.forEach((c, j) => (t.classOf[j] = canonical(c)));
  const fixedRoots = new Set([...fixed].map(canonical));

  // Remove classes until nothing changes: a class goes when it is not fixed and each of its channels,
  // for each reader, is either unread (zero weights into every live output) or a constant it can fold.
  const removed = new Uint8Array(uf.size);
  for (let changed = true; changed; ) {
    changed = false;
    const blocked = new Uint8Array(uf.size);
    for (const root of fixedRoots) blocked[root] = 1;
    for (const { call, kernel } of readers) {
      const x = tensors.get(call.inputs[0].id)!;
      const y = tensors.get(call.outputs[0].id)!;
      for (let i = 0; i < x.size; i++) {
        const cls = x.classOf[i];
        if (removed[cls] || blocked[cls]) continue;
        const c = x.constant[i];
        if (!Number.isNaN(c) && (kernel.foldsAnyConstant || c === 0)) continue;
        for (let o = 0; o < y.size; o++) {
          if (kernel.nonZero[i * y.size + o] && !removed[y.classOf[o]]) {
            blocked[cls] = 1;
            break;
          }
        }
      }
    }
    for (const t of tensors.values()) {
      for (const cls of t.classOf) {
        if (!removed[cls] && !blocked[cls]) {
          removed[cls] = 1;
          changed = true;
        }
      }
    }
  }
  // A layer needs at least one channel: where all went, keep the first (its value is never read).
  for (const t of tensors.values()) if (t.classOf.every((c) => removed[c])) removed[t.classOf[0]] = 0;
  return { graph, tensors, removed, weights, unsupported };
}

function keptIndices(t: TensorInfo, removed: Uint8Array): number[] {
  const out: number[] = [];
  t.classOf.forEach((c, j) => {
    if (!removed[c]) out.push(j);
  });
  return out;
}

/** `value` (shape `shape`) restricted to `keep[axis]` along each axis given (others whole). */
function slice(value: Float32Array, shape: readonly number[], keep: (readonly number[] | null)[]): Float32Array {
  const lists = shape.map((n, a) => keep[a] ?? Array.from({ length: n }, (_, i) => i));
  const strides = shape.map((_, a) => shape.slice(a + 1).reduce((p, n) => p * n, 1));
  const out = new Float32Array(lists.reduce((p, l) => p * l.length, 1));
  let k = 0;
  const walk = (axis: number, offset: number): void => {
    if (axis === shape.length) {
      out[k++] = value[offset];
      return;
    }
    for (const i of lists[axis]) walk(axis + 1, offset + i * strides[axis]);
  };
  walk(0, 0);
  return out;
}

function parameterCount(model: tf.LayersModel): number {
  return model.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
}

/** The per-layer plan of `shrink(model)` without building anything: which units each layer keeps. */
export function planShrink(model: tf.LayersModel): ShrinkPlan {
  const a = analyse(model);
  return { layers: layerPlans(a), unsupported: a.unsupported, parameters: { before: parameterCount(model), after: keptParameters(a) } };
}

function layerPlans(a: Analysis): ShrinkLayerPlan[] {
  const plans: ShrinkLayerPlan[] = [];
  for (const call of a.graph.calls) {
    if (!['Dense', 'Conv2D', 'DepthwiseConv2D'].includes(call.className) || !a.weights.has(call.layer)) continue;
    const x = a.tensors.get(call.inputs[0].id)!;
    const y = a.tensors.get(call.outputs[0].id)!;
    const kernel = readerKernel(
      a.weights.get(call.layer)!.get(call.className === 'DepthwiseConv2D' ? 'depthwise_kernel' : 'kernel')!,
      call,
    );
    const keptOut = keptIndices(y, a.removed);
    const read = (i: number) =>
      call.className === 'DepthwiseConv2D'
        ? Array.from({ length: kernel.outputs }, (_, j) => i * kernel.outputs + j).some((o) => kernel.nonZero[o] && keptOut.includes(o))
        : keptOut.some((o) => kernel.nonZero[i * y.size + o]);
    plans.push({
      name: call.layer.name,
      className: call.className,
      unit: call.className === 'Dense' ? 'neurons' : 'channels',
      total: y.size,
      kept: keptOut.length,
      inputs: x.size,
      inputsRead: keptIndices(x, a.removed).filter(read).length,
    });
  }
  return plans;
}

/** New weights of each supported layer with weights, by role. */
function shrunkWeights(a: Analysis): Map<string, Map<string, { value: Float32Array; shape: number[] }>> {
  const out = new Map<string, Map<string, { value: Float32Array; shape: number[] }>>();
  for (const call of a.graph.calls) {
    const w = a.weights.get(call.layer);
    if (!w || w.size === 0) continue;
    const x = a.tensors.get(call.inputs[0].id)!;
    const y = a.tensors.get(call.outputs[0].id)!;
    const keepIn = keptIndices(x, a.removed);
    const keepOut = keptIndices(y, a.removed);
    const result = new Map<string, { value: Float32Array; shape: number[] }>();
    if (call.className === 'Dense' || call.className === 'Conv2D') {
      const kernel = w.get('kernel')!;
      const r = kernel.shape.length;
      const keep: (number[] | null)[] = kernel.shape.map(() => null);
      keep[r - 2] = keepIn;
      keep[r - 1] = keepOut;
      result.set('kernel', {
        value: slice(kernel.value, kernel.shape, keep),
        shape: [...kernel.shape.slice(0, r - 2), keepIn.length, keepOut.length],
      });
      // Removed constant inputs: c · Σ_space w into the bias.
      const sums = readerKernel(kernel, call);
      const oldBias = w.get('bias')?.value;
      const bias = new Float64Array(keepOut.length);
      keepOut.forEach((o, k) => (bias[k] = oldBias ? oldBias[o] : 0));
      let folded = false;
      for (let i = 0; i < x.size; i++) {
        const c = x.constant[i];
        if (!a.removed[x.classOf[i]] || Number.isNaN(c) || c === 0) continue;
        keepOut.forEach((o, k) => {
          const s = sums.sum[i * y.size + o];
          if (s !== 0) {
            bias[k] += c * s;
            folded = true;
          }
        });
      }
      if (oldBias || folded) result.set('bias', { value: Float32Array.from(bias), shape: [keepOut.length] });
    } else if (call.className === 'DepthwiseConv2D') {
      const kernel = w.get('depthwise_kernel')!;
      result.set('depthwise_kernel', {
        value: slice(kernel.value, kernel.shape, [null, null, keepIn, null]),
        shape: [kernel.shape[0], kernel.shape[1], keepIn.length, kernel.shape[3]],
      });
      const bias = w.get('bias');
      if (bias) result.set('bias', { value: slice(bias.value, bias.shape, [keepOut]), shape: [keepOut.length] });
    } else if (call.className === 'BatchNormalization') {
      for (const [role, value] of w) result.set(role, { value: slice(value.value, value.shape, [keepOut]), shape: [keepOut.length] });
    } else {
      continue;
    }
    out.set(call.layer.name, result);
  }
  return out;
}

function keptParameters(a: Analysis): number {
  const shrunk = shrunkWeights(a);
  let n = 0;
  for (const call of a.graph.calls) {
    const s = shrunk.get(call.layer.name);
    if (s) for (const v of s.values()) n += v.value.length;
    else n += call.layer.weights.reduce((m, w) => m + w.shape.reduce((p: number, d) => p * (d as number), 1), 0);
  }
  return n;
}

type JsonLayer = { class_name: string; config: Record<string, unknown> };

function topologyLayers(topology: { class_name: string; config: unknown }): JsonLayer[] {
  const config = topology.config as { layers?: JsonLayer[] } | JsonLayer[];
  return Array.isArray(config) ? config : (config.layers ?? []);
}

/**
 * The smaller dense model of `model` with its dead neurons, filters and channels removed (see the module
 * comment): a new, uncompiled LayersModel of the same class, layer names and outputs (to float32 rounding,
 * ≤ 1e-5 in the tests), independent of the original. Layers it does not know (and layers called twice)
 * are kept whole, with their inputs and outputs, and named in one warning. Dead means exactly zero:
 * prune (and strip) first. The caller disposes both models.
 */
export async function shrink(model: tf.LayersModel, options: ShrinkOptions = {}): Promise<tf.LayersModel> {
  const a = analyse(model);
  const warn = options.warn === undefined ? console.warn : options.warn;
  if (a.unsupported.length > 0 && warn) {
    warn(`shrink: kept whole (with their inputs and outputs): ${a.unsupported.map((u) => `${u.name} (${u.reason})`).join('; ')}`);
  }
  const weights = shrunkWeights(a);
  const topology = model.toJSON(null, false) as unknown as { class_name: string; config: unknown };
  const sizes = new Map<string, number>();
  for (const call of a.graph.calls) {
    if (call.className === 'Dense' || call.className === 'Conv2D')
      sizes.set(call.layer.name, keptIndices(a.tensors.get(call.outputs[0].id)!, a.removed).length);
  }
  for (const layer of topologyLayers(topology)) {
    const name = layer.config.name as string;
    const size = sizes.get(name);
    if (size === undefined) continue;
    layer.config[layer.class_name === 'Dense' ? 'units' : 'filters'] = size;
    if (weights.get(name)?.has('bias')) layer.config.use_bias = true;
  }
  const shrunk = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as tf.io.ModelJSON);
  for (const layer of shrunk.layers) {
    const fresh = weights.get(layer.name);
    const original = model.getLayer(layer.name);
    const values = layer.weights.map((w, k) => {
      const role = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
      const v = fresh?.get(role);
      return v ? tf.tensor(v.value, v.shape) : original.weights[k].read().clone();
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
  return options.plan === false ? shrunk : withInferencePlan(shrunk);
}
