import * as tf from '@tensorflow/tfjs';
import { hasKernel } from '@sparsify/core';
import { modelGraph } from './graph.js';
import { activeWebglBackend, softmaxFits, WebglDenseChain, type WebglDenseLayer } from './webgl-dense.js';

/**
 * Inference plans: a model that is a chain of Dense, Flatten, activation and dropout layers (one input,
 * one output, each layer reading the one before), run as direct op calls — one fused
 * matmul + bias + activation per Dense layer, a reshape per Flatten — inside one `tf.tidy`, without
 * `LayersModel.predict`'s per-call machinery (input standardisation, batching, feed dicts, symbolic
 * bookkeeping) or `Layer.apply`'s. At batch 1 that machinery, not arithmetic, is most of a small model's
 * time. The ops are the ones the layers' own `call` runs, on the same weights (read at each call, so
 * `setWeights` and training stay visible), so outputs equal `predict`'s to float32 rounding.
 *
 * On webgl at batch 1, consecutive Dense layers (and a softmax after the last) run as WebGL programs of
 * their own instead (webgl-dense.ts): one draw per layer, the softmax included, hidden activations laid
 * out four units to a texel. Each such step chooses at each call, so a plan follows `tf.setBackend`.
 */

type Step = (x: tf.Tensor) => tf.Tensor;

/** A layer that contributes a step to a plan, given its input's rank (or null: no plan for this model). */
export type StepCompiler = (layer: tf.layers.Layer, inputRank: number) => Step | null;

/** Layers that are the identity at inference (noise and dropout act only in training). */
const IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/** Stateless layers whose `call` is one elementwise function: called directly, without `apply`. */
const ELEMENTWISE = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'Softmax']);

/** The activations tfjs's Dense runs fused into its matmul (tfjs-layers' `mapActivationToFusedKernel`). */
const FUSED_IN_DENSE: Readonly<Record<string, 'relu' | 'linear' | 'elu'>> = { relu: 'relu', linear: 'linear', elu: 'elu' };

const run = (kernel: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor;
const reshape = (x: tf.Tensor, shape: number[]) => run(tf.Reshape, { x }, { shape });

interface DenseInternals {
  kernel?: tf.LayerVariable;
  bias?: tf.LayerVariable | null;
}

/** Steps of the layers every plan knows (Dense on rank-2 inputs, Flatten, activations, dropout). */
export const compileCommonStep: StepCompiler = (layer, inputRank) => {
  const className = layer.getClassName();
  if (IDENTITY.has(className)) return (x) => x;
  if (ELEMENTWISE.has(className)) return (x) => layer.call(x, {}) as tf.Tensor;
  if (className === 'Flatten') {
    const format = (layer.getConfig() as { dataFormat?: string }).dataFormat ?? 'channelsLast';
    if (format !== 'channelsLast') return null;
    return (x) => (x.rank === 2 ? x : reshape(x, [x.shape[0], tf.util.sizeFromShape(x.shape.slice(1))]));
  }
  if (className === 'Dense' && inputRank === 2) {
    const { kernel, bias } = layer as unknown as DenseInternals;
    const activation = FUSED_IN_DENSE[(layer.getConfig() as { activation?: string }).activation ?? 'linear'];
    if (!kernel) return null;
    // Dense.call on a rank-2 input: one fused matmul where the activation fuses, else its ops in turn.
    if (!activation) return (x) => layer.call(x, {}) as tf.Tensor;
    return denseStep(kernel, bias ?? null, activation);
  }
  return null;
};

/**
 * The kernel name of a plan's Dense step, act(x · kernel + bias) on x [batch, inputs] (inputs x0 = x,
 * x1 = kernel, x2 = bias if any; attribute `activation`: linear, relu or elu). An accelerator may register
 * a kernel under it (@sparsify/backend does for tensorflow, where tfjs's fused matmul issues twice the
 * native ops); where none is registered the step runs `_FusedMatMul` as below.
 */
export const DENSE_INFERENCE_KERNEL = 'SparsifyDenseInference';

/**
 * act(x · kernel + bias) as tfjs's `_FusedMatMul` kernel, the one `tf.fused.matMul` (and so `Dense.call`)
 * runs, called without the op's wrapper (argument conversion and a custom-gradient scope per call;
 * docs/performance.md has its cost): on [1, batch, in] × [1, in, out], as that op reshapes them. Or the
 * `DENSE_INFERENCE_KERNEL` registered for the active backend.
 */
function denseStep(kernel: tf.LayerVariable, bias: tf.LayerVariable | null, activation: string): Step {
  const attrs = { transposeA: false, transposeB: false, activation } as unknown as tf.NamedAttrMap;
  const ownAttrs = { activation } as unknown as tf.NamedAttrMap;
  return (x) => {
    const w = kernel.read();
    if (hasKernel(DENSE_INFERENCE_KERNEL)) {
      const inputs: tf.NamedTensorMap = bias ? { x0: x, x1: w, x2: bias.read() } : { x0: x, x1: w };
      // A kernel may return its one output alone or in a list.
      const out = tf.engine().runKernel(DENSE_INFERENCE_KERNEL, inputs, ownAttrs) as tf.Tensor | tf.Tensor[];
      return Array.isArray(out) ? out[0] : out;
    }
    const [batch, inputs] = x.shape;
    const y = run(
      tf._FusedMatMul,
      { a: reshape(x, [1, batch, inputs]), b: reshape(w, [1, ...w.shape]), ...(bias ? { bias: bias.read() } : {}) },
      attrs,
    );
    return reshape(y, [batch, w.shape[1] as number]);
  };
}

/** A compiled chain: `run` gives what `predict` gives for inputs that `accepts`. */
export class InferencePlan {
  private readonly layers: readonly tf.layers.Layer[];

  constructor(
    private readonly model: tf.LayersModel,
    private readonly steps: readonly Step[],
    private readonly inputShape: readonly (number | null)[],
  ) {
    this.layers = model.layers.slice();
  }

  /**
   * Whether `run(x)` may stand in for `predict(x)`: one float32 tensor of the model's input shape, and
   * the model still has the layers the plan was compiled from.
   */
  accepts(x: unknown): x is tf.Tensor {
    if (!(x instanceof tf.Tensor) || x.dtype !== 'float32' || x.rank !== this.inputShape.length) return false;
    for (let i = 1; i < x.rank; i++) if (this.inputShape[i] !== null && this.inputShape[i] !== x.shape[i]) return false;
    const layers = this.model.layers;
    return layers.length === this.layers.length && layers.every((l, i) => l === this.layers[i]);
  }

  run(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const step of this.steps) h = step(h);
      return h === x ? tf.clone(x) : h;
    });
  }
}

/**
 * The plan of `model`, or null where it is not a chain of layers `compileStep` knows (then `predict`
 * runs as it is).
 */
export function compileInferencePlan(model: tf.LayersModel, compileStep: StepCompiler = compileCommonStep): InferencePlan | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  let graph: ReturnType<typeof modelGraph>;
  try {
    graph = modelGraph(model);
  } catch {
    return null;
  }
  if (graph.shared.size > 0) return null;
  const steps: Step[] = [];
  const inputRanks: number[] = [];
  let current = graph.inputs[0];
  for (const call of graph.calls) {
    if (call.inputs.length !== 1 || call.outputs.length !== 1 || call.inputs[0] !== current) return null;
    const step = compileStep(call.layer, current.shape.length);
    if (!step) return null;
    steps.push(step);
    inputRanks.push(current.shape.length);
    current = call.outputs[0];
  }
  if (current !== graph.outputs[0]) return null;
  return new InferencePlan(
    model,
    withWebglDenseChains(
      graph.calls.map((c) => c.layer),
      inputRanks,
      steps,
    ),
    graph.inputs[0].shape,
  );
}

/** A Dense layer as the webgl chain runs it (on a rank-2 input, with an activation it applies), or null. */
function webglDenseLayer(layer: tf.layers.Layer, inputRank: number): WebglDenseLayer | null {
  const { kernel, bias } = layer as unknown as DenseInternals;
  const activation = (layer.getConfig() as { activation?: string }).activation ?? 'linear';
  if (layer.getClassName() !== 'Dense' || inputRank !== 2 || !kernel) return null;
  if (activation !== 'linear' && activation !== 'relu' && activation !== 'softmax') return null;
  const [inputs, units] = kernel.shape as [number, number];
  const shape = { inputs, units, bias: Boolean(bias), activation } as const;
  return activation === 'softmax' && !softmaxFits(shape) ? null : { shape, kernel, bias: bias ?? null };
}

/** A layer whose `call` is a softmax over the last axis. */
function isSoftmaxLayer(layer: tf.layers.Layer): boolean {
  const config = layer.getConfig() as { activation?: string; axis?: number };
  const className = layer.getClassName();
  return (className === 'Activation' && config.activation === 'softmax') || (className === 'Softmax' && (config.axis ?? -1) === -1);
}

/**
 * `steps`, with each run of consecutive Dense layers (dropout and noise layers between them, and a
 * softmax layer after a linear last one, taken in) as one step: at batch 1 on webgl the chain of
 * webgl-dense.ts, else the run's own steps in turn.
 */
function withWebglDenseChains(layers: readonly tf.layers.Layer[], inputRanks: readonly number[], steps: readonly Step[]): Step[] {
  const out: Step[] = [];
  let i = 0;
  while (i < layers.length) {
    const chain: WebglDenseLayer[] = [];
    let end = i;
    while (end < layers.length && chain.at(-1)?.shape.activation !== 'softmax') {
      const layer = layers[end];
      const dense = webglDenseLayer(layer, inputRanks[end]);
      const last = chain.at(-1);
      if (dense) chain.push(dense);
      else if (last && IDENTITY.has(layer.getClassName())) {
        // the identity at inference: nothing to run
      } else if (last?.shape.activation === 'linear' && isSoftmaxLayer(layer) && softmaxFits({ ...last.shape, activation: 'softmax' })) {
        chain[chain.length - 1] = { ...last, shape: { ...last.shape, activation: 'softmax' } };
      } else break;
      end++;
    }
    if (chain.length === 0) {
      out.push(steps[i++]);
      continue;
    }
    const own = steps.slice(i, end);
    const webgl = new WebglDenseChain(chain);
    out.push((x) => {
      const backend = x.shape[0] === 1 ? activeWebglBackend() : null;
      return backend ? webgl.run(backend, x) : own.reduce((h, step) => step(h), x);
    });
    i = end;
  }
  return out;
}

/**
 * Makes `model.predict` run its inference plan for the inputs the plan accepts (and the general path for
 * the rest: several inputs, other shapes or dtypes). Returns `model`, unchanged where no plan compiles.
 */
export function withInferencePlan<M extends tf.LayersModel>(model: M, compileStep?: StepCompiler): M {
  const plan = compileInferencePlan(model, compileStep);
  if (!plan) return model;
  const general = model.predict.bind(model);
  model.predict = (x: tf.Tensor | tf.Tensor[], args?: Parameters<M['predict']>[1]) => (plan.accepts(x) ? plan.run(x) : general(x, args));
  return model;
}
