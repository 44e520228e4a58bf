import * as tf from '@tensorflow/tfjs';
import { check, checkOneOf, hasKernel, SparsifyConfigError } from '@sparsify/core';
import { modelGraph, type LayerCall } from './graph.js';
import { captureArtifacts } from './io.js';
import { csrArrays, csrToDense, SPARSE_MATMUL_KERNEL, sparseMatMul, type CsrMatrix, type FusedActivation } from './sparse-matmul.js';
import { compileCommonStep, compileInferencePlan, type InferencePlan, type StepCompiler } from './sparse-plan.js';

/** How `loadSparse` runs the model: `sparse` gives a `SparseModel`. */
export interface SparseExecutionOptions {
  execute: 'sparse';
  /**
   * Dense and 1×1 conv kernels at least this sparse run as sparse × dense products; the rest run dense
   * (default 0.7: below it tfjs's dense kernels win on wasm, docs/performance.md).
   */
  minSparsity?: number;
}

export const DEFAULT_MIN_SPARSITY = 0.7;

/** How one layer of a `SparseModel` runs. */
export interface SparseLayerInfo {
  readonly name: string;
  /** The layer's class in the saved model (`Dense`, `Conv2D`, …). */
  readonly className: string;
  readonly execution: 'sparse' | 'dense';
  /** For Dense and 1×1 Conv2D layers: the kernel's sparsity and non-zeros. */
  readonly sparsity?: number;
  readonly nonZeros?: number;
}

interface SparseDenseArgs {
  name: string;
  units: number;
  inputUnits: number;
  nonZeros: number;
  activation?: string;
  useBias?: boolean;
  /** Set for a 1×1 Conv2D (channels last): its strides. */
  strides?: [number, number] | null;
  trainable?: boolean;
  batchInputShape?: (number | null)[];
  dtype?: tf.DataType;
}

const FUSED: readonly string[] = ['linear', 'relu'];

/**
 * A Dense layer (or a 1×1 Conv2D, channels last) whose kernel is held in CSR and applied with
 * `sparseMatMul`: weights `values`, `columns`, `row_starts` (see `CsrMatrix`) and `bias`. Inference only.
 * `loadSparse(dir, { execute: 'sparse' })` puts it in place of the layers it runs sparse; registered
 * with tfjs's serialization by `registerSparseLayers()`.
 */
export class SparseDense extends tf.layers.Layer {
  static readonly className = 'SparsifySparseDense';
  readonly units: number;
  readonly inputUnits: number;
  readonly nonZeros: number;
  readonly activationName: string;
  readonly useBias: boolean;
  readonly strides: [number, number] | null;
  private matrix: CsrMatrix | null = null;
  private bias: tf.LayerVariable | null = null;
  private readonly activationLayer: tf.layers.Layer | null;
  /** Where no sparse kernel is registered: the kernel scattered to dense, for one backend and one set of weights. */
  private dense: { backend: string; of: tf.DataId[]; kernel: tf.Tensor2D } | null = null;

  constructor(args: SparseDenseArgs) {
    super({ ...args, trainable: false });
    this.units = args.units;
    this.inputUnits = args.inputUnits;
    this.nonZeros = args.nonZeros;
    this.activationName = args.activation ?? 'linear';
    this.useBias = args.useBias ?? true;
    this.strides = args.strides ?? null;
    this.activationLayer = FUSED.includes(this.activationName) ? null : tf.layers.activation({ activation: this.activationName as never });
  }

  override build(): void {
    const zeros = tf.initializers.zeros();
    const vector = (name: string, n: number) => this.addWeight(name, [n], 'float32', zeros, undefined, false);
    const values = vector('values', this.nonZeros);
    const columns = vector('columns', this.nonZeros);
    const rowStarts = vector('row_starts', this.units + 1);
    this.bias = this.useBias ? vector('bias', this.units) : null;
    this.matrix = {
      rows: this.units,
      cols: this.inputUnits,
      get values() {
        return values.read() as tf.Tensor1D;
      },
      get columns() {
        return columns.read() as tf.Tensor1D;
      },
      get rowStarts() {
        return rowStarts.read() as tf.Tensor1D;
      },
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (!this.strides) return [...shape.slice(0, -1), this.units];
    const [b, h, w] = shape;
    return [b, h === null ? null : Math.ceil(h / this.strides[0]), w === null ? null : Math.ceil(w / this.strides[1]), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (this.strides && (this.strides[0] > 1 || this.strides[1] > 1)) {
        x = tf.stridedSlice(x, [0, 0, 0, 0], x.shape, [1, this.strides[0], this.strides[1], 1]);
      }
      if (x.rank === 2) return this.multiply(x as tf.Tensor2D);
      return tf.reshape(this.multiply(tf.reshape(x, [-1, this.inputUnits])), [...x.shape.slice(0, -1), this.units]);
    });
  }

  /**
   * act(x · kernel + bias) for x [batch, inputUnits] (the layer on rank-2 input; no tidy of its own):
   * `sparseMatMul` where its kernel is registered (cpu, wasm); elsewhere (webgl, tensorflow) tfjs's fused
   * matMul by the kernel scattered to dense once and kept — the op's plain version would scatter it
   * again at every call.
   */
  multiply(x: tf.Tensor2D): tf.Tensor {
    const activation = (this.activationLayer ? 'linear' : this.activationName) as FusedActivation;
    const bias = this.bias ? (this.bias.read() as tf.Tensor1D) : undefined;
    const y = hasKernel(SPARSE_MATMUL_KERNEL)
      ? sparseMatMul(x, this.matrix!, { bias, activation })
      : tf.fused.matMul({ a: x, b: this.denseKernel(), bias, activation });
    return this.activationLayer ? (this.activationLayer.apply(y) as tf.Tensor) : y;
  }

  private denseKernel(): tf.Tensor2D {
    const m = this.matrix!;
    const of = [m.values.dataId, m.columns.dataId, m.rowStarts.dataId];
    const backend = tf.getBackend();
    if (!this.dense || this.dense.backend !== backend || this.dense.of.some((id, i) => id !== of[i])) {
      this.dense?.kernel.dispose();
      this.dense = { backend, of, kernel: tf.keep(csrToDense(m)) };
    }
    return this.dense.kernel;
  }

  override dispose(): ReturnType<tf.layers.Layer['dispose']> {
    this.dense?.kernel.dispose();
    this.dense = null;
    return super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      inputUnits: this.inputUnits,
      nonZeros: this.nonZeros,
      activation: this.activationName,
      useBias: this.useBias,
      strides: this.strides,
    };
  }
}

/** Registers `SparseDense` with tfjs's serialization (idempotent), so that models holding it load. */
export function registerSparseLayers(): void {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  if (!(SparseDense.className in map)) tf.serialization.registerClass(SparseDense);
}

/** Plan steps of a `SparseModel`: `SparseDense` on rank-2 input as one `sparseMatMul`, and the common ones. */
const compileSparseStep: StepCompiler = (layer, inputRank) =>
  layer instanceof SparseDense && !layer.strides && inputRank === 2
    ? (x) => layer.multiply(x as tf.Tensor2D)
    : compileCommonStep(layer, inputRank);

/**
 * A model whose sparse Dense and 1×1 conv layers run as sparse × dense products (`sparseMatMul`), from
 * `loadSparse(dir, { execute: 'sparse' })` or `toSparseModel(model)`. `predict` runs the whole batch
 * through the layers in order with no per-call bookkeeping beyond one `tf.tidy`: a chain of Dense,
 * sparse Dense, Flatten and activation layers as its inference plan (sparse-plan.ts: one kernel call
 * per layer), any other model layer by layer; `model` is the same
 * network as a plain LayersModel (its `predict`, `summary` and `save` work; `SparseDense` must be
 * registered where it is loaded again).
 */
export class SparseModel {
  readonly layers: readonly SparseLayerInfo[];
  private readonly calls: readonly LayerCall[];
  private readonly inputIds: readonly number[];
  private readonly outputIds: readonly number[];
  private readonly plan: InferencePlan | null;

  constructor(
    readonly model: tf.LayersModel,
    layers: readonly SparseLayerInfo[],
  ) {
    this.layers = layers;
    const graph = modelGraph(model);
    this.calls = graph.calls;
    this.inputIds = graph.inputs.map((t) => t.id);
    this.outputIds = graph.outputs.map((t) => t.id);
    this.plan = compileInferencePlan(model, compileSparseStep);
  }

  /** Whether `predict` runs an inference plan (the model is a chain of layers plans know) for a single input. */
  get planned(): boolean {
    return this.plan !== null;
  }

  /** The outputs for `x` (one tensor per model input), as `LayersModel.predict` gives them, in one batch. */
  predict(x: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    if (this.plan?.accepts(x)) return this.plan.run(x);
    const xs = Array.isArray(x) ? x : [x];
    check(xs.length === this.inputIds.length, 'SparseModel.predict inputs', xs.length, `${this.inputIds.length} (one per model input)`);
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>();
      this.inputIds.forEach((id, i) => values.set(id, xs[i]));
      for (const call of this.calls) {
        const ins = call.inputs.map((t) => values.get(t.id)!);
        const outs = call.layer.apply(ins.length === 1 ? ins[0] : ins) as tf.Tensor | tf.Tensor[];
        (Array.isArray(outs) ? outs : [outs]).forEach((t, k) => values.set(call.outputs[k].id, t));
      }
      const outputs = this.outputIds.map((id) => values.get(id)!);
      return outputs.length === 1 ? outputs[0] : outputs;
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}

type JsonLayer = { class_name: string; name?: string; config: Record<string, unknown>; inbound_nodes?: unknown };

function jsonLayers(topology: { config?: unknown }): JsonLayer[] {
  const config = topology.config as { layers?: JsonLayer[] } | JsonLayer[] | undefined;
  return Array.isArray(config) ? config : (config?.layers ?? []);
}

/** A float32 weight of the artifacts by name, with its place in the specs. */
interface NamedWeight {
  spec: tf.io.WeightsManifestEntry;
  values: Float32Array | null;
  bytes: Uint8Array;
}

function readWeights(artifacts: tf.io.ModelArtifacts): NamedWeight[] {
  const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const out: NamedWeight[] = [];
  let offset = 0;
  for (const spec of artifacts.weightSpecs ?? []) {
    if (spec.quantization)
      throw new SparsifyConfigError(`weight ${JSON.stringify(spec.name)} is quantized; sparse execution takes float weights`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const byteLength = size * (spec.dtype === 'bool' ? 1 : 4);
    check(
      offset + byteLength <= data.byteLength,
      `weight data length (for ${JSON.stringify(spec.name)})`,
      data.byteLength,
      `≥ ${offset + byteLength}`,
    );
    const bytes = new Uint8Array(data.slice(offset, offset + byteLength));
    out.push({ spec, bytes, values: spec.dtype === 'float32' ? new Float32Array(bytes.buffer) : null });
    offset += byteLength;
  }
  return out;
}

/** The layers a saved topology would run sparse at `minSparsity`, rewritten, and the weights they take instead. */
function sparsify(artifacts: tf.io.ModelArtifacts, minSparsity: number): { artifacts: tf.io.ModelArtifacts; layers: SparseLayerInfo[] } {
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new SparsifyConfigError('sparse execution needs the JSON topology of a LayersModel');
  }
  const topology = structuredClone(artifacts.modelTopology) as { model_config?: { config?: unknown }; config?: unknown };
  const layersJson = jsonLayers((topology.model_config ?? topology) as { config?: unknown });
  const weights = readWeights(artifacts);
  const byName = new Map(weights.map((w) => [w.spec.name, w]));
  const replaced = new Map<string, NamedWeight[]>();
  const layers: SparseLayerInfo[] = [];
  for (const layer of layersJson) {
    const name = (layer.config.name ?? layer.name) as string;
    const config = layer.config;
    const kernel = byName.get(`${name}/kernel`);
    const isDense = layer.class_name === 'Dense';
    const ks = config.kernel_size as number[] | number | undefined;
    const isPointwise =
      layer.class_name === 'Conv2D' &&
      (Array.isArray(ks) ? ks.every((k) => k === 1) : ks === 1) &&
      (config.data_format ?? 'channels_last') === 'channels_last' &&
      (config.groups ?? 1) === 1;
    if ((!isDense && !isPointwise) || !kernel?.values) {
      layers.push({ name, className: layer.class_name, execution: 'dense' });
      continue;
    }
    const [inputs, outputs] = kernel.spec.shape.slice(-2);
    let nonZeros = 0;
    for (const v of kernel.values) if (v !== 0) nonZeros++;
    const sparsity = kernel.values.length === 0 ? 0 : 1 - nonZeros / kernel.values.length;
    const info = { name, className: layer.class_name, sparsity, nonZeros };
    if (sparsity < minSparsity) {
      layers.push({ ...info, execution: 'dense' });
      continue;
    }
    layers.push({ ...info, execution: 'sparse' });
    const { values, columns, rowStarts } = csrArrays(kernel.values, inputs, outputs);
    const vector = (suffix: string, v: Float32Array): NamedWeight => ({
      spec: { name: `${name}/${suffix}`, shape: [v.length], dtype: 'float32' },
      values: v,
      bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    });
    replaced.set(kernel.spec.name, [vector('values', values), vector('columns', columns), vector('row_starts', rowStarts)]);
    const strides = config.strides as number[] | number | undefined;
    layer.class_name = SparseDense.className;
    layer.config = {
      name,
      trainable: false,
      units: outputs,
      input_units: inputs,
      non_zeros: nonZeros,
      activation: config.activation ?? 'linear',
      use_bias: config.use_bias ?? true,
      strides: isPointwise ? (Array.isArray(strides) ? strides : [strides ?? 1, strides ?? 1]) : null,
      ...(config.batch_input_shape ? { batch_input_shape: config.batch_input_shape } : {}),
      ...(config.dtype ? { dtype: config.dtype } : {}),
    };
  }
  const parts = weights.flatMap((w) => replaced.get(w.spec.name) ?? [w]);
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.bytes.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    weightData.set(p.bytes, at);
    at += p.bytes.byteLength;
  }
  return {
    artifacts: { ...artifacts, modelTopology: topology, weightSpecs: parts.map((p) => p.spec), weightData: weightData.buffer },
    layers,
  };
}

/** Checks `loadSparse`'s execution options; returns `minSparsity`. */
export function checkExecutionOptions(options: SparseExecutionOptions): number {
  checkOneOf('execute', options.execute, ['sparse'] as const);
  const minSparsity = options.minSparsity ?? DEFAULT_MIN_SPARSITY;
  check(Number.isFinite(minSparsity) && minSparsity >= 0 && minSparsity <= 1, 'minSparsity', minSparsity, 'a number in [0, 1]');
  return minSparsity;
}

/** A `SparseModel` from saved model artifacts (see `loadSparse(dir, { execute: 'sparse' })`). */
export async function sparseModelFromArtifacts(
  artifacts: tf.io.ModelArtifacts,
  options: SparseExecutionOptions = { execute: 'sparse' },
): Promise<SparseModel> {
  const minSparsity = checkExecutionOptions(options);
  registerSparseLayers();
  const { artifacts: rewritten, layers } = sparsify(artifacts, minSparsity);
  const model = await tf.loadLayersModel(tf.io.fromMemory(rewritten));
  return new SparseModel(model, layers);
}

/**
 * The sparse-execution twin of a (pruned, stripped) model in memory: its Dense and 1×1 conv layers at
 * least `minSparsity` sparse run as sparse × dense products. Independent of `model`.
 */
export async function toSparseModel(model: tf.LayersModel, options: Omit<SparseExecutionOptions, 'execute'> = {}): Promise<SparseModel> {
  return sparseModelFromArtifacts(await captureArtifacts(model), { execute: 'sparse', ...options });
}
