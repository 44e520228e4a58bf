import * as tf from '@tensorflow/tfjs';
import { groupLayout, kthSmallest, LAYER_KERNELS, MOMENTUM_UPDATE_KERNEL, PASS_KERNELS } from '@sparsify/core';
import { groupValueAndFactors, haloFromSums, PENALTY_KERNEL_NAMES, ratio, upstream, type GroupAttrs, type HaloTermAttrs } from './penalty-kernels.js';

/**
 * Kernels for the `tensorflow` backend (tfjs-node): each op of core and of the built-in penalties as a
 * few TensorFlow ops issued straight to libtensorflow through tfjs-node's binding, with the scalar
 * arithmetic on the host. A tfjs op costs the engine's bookkeeping on top of TensorFlow's own dispatch,
 * several times the latter; a penalty is a few dozen small ops, so that bookkeeping, not the arithmetic,
 * was most of its cost on this backend. Results equal the plain ops' to float32 rounding.
 */

/** What these kernels use of tfjs-node's binding (`backend.binding`). */
interface Binding {
  executeOp(name: string, attrs: OpAttr[], inputs: number[], outputs: number): { id: number; shape: number[]; dtype: number }[];
  deleteTensor(id: number): void;
  createTensor(shape: number[], dtype: number, values: Float32Array | Int32Array): number;
  tensorDataSync(id: number): Float32Array;
  readonly TF_FLOAT: number;
  readonly TF_INT32: number;
  readonly TF_BOOL: number;
  readonly TF_ATTR_TYPE: number;
  readonly TF_ATTR_BOOL: number;
  readonly TF_ATTR_INT: number;
  readonly TF_ATTR_FLOAT: number;
  readonly TF_ATTR_STRING: number;
}

interface OpAttr {
  name: string;
  type: number;
  value: number | boolean | string;
}

/** What these kernels use of tfjs-node's backend object. */
interface NodeBackend {
  readonly binding: Binding;
  readonly tensorMap: { set(dataId: tf.DataId, info: { shape: number[]; dtype: number; id: number; values: null; refCount: number }): void };
  getInputTensorIds(tensors: readonly tf.TensorInfo[]): number[];
}

/** A TensorFlow tensor handle and its shape. */
interface Handle {
  readonly id: number;
  readonly shape: number[];
}

/**
 * One kernel call's TensorFlow ops: handles it creates are freed by `free()` unless handed out with
 * `output`. Inputs are the caller's.
 */
class Graph {
  private readonly temps: number[] = [];
  readonly b: Binding;

  constructor(readonly backend: NodeBackend) {
    this.b = backend.binding;
  }

  inputs(infos: readonly tf.TensorInfo[]): Handle[] {
    const ids = this.backend.getInputTensorIds(infos);
    return infos.map((info, i) => ({ id: ids[i], shape: info.shape }));
  }

  private type(name = 'T', dtype = this.b.TF_FLOAT): OpAttr {
    return { name, type: this.b.TF_ATTR_TYPE, value: dtype };
  }

  private run(name: string, inputs: number[], attrs: OpAttr[], outputs = 1): Handle[] {
    const out = this.b.executeOp(name, attrs, inputs, outputs);
    for (const o of out) this.temps.push(o.id);
    return out.map((o) => ({ id: o.id, shape: o.shape }));
  }

  op(name: string, ...xs: Handle[]): Handle {
    return this.run(name, xs.map((x) => x.id), [this.type()])[0];
  }

  /** A float32 constant (freed with the graph). */
  constant(values: number[] | Float32Array, shape: number[] = []): Handle {
    const id = this.b.createTensor(shape, this.b.TF_FLOAT, Float32Array.from(values));
    this.temps.push(id);
    return { id, shape };
  }

  private ints(values: number[]): number {
    const id = this.b.createTensor([values.length], this.b.TF_INT32, Int32Array.from(values));
    this.temps.push(id);
    return id;
  }

  abs = (x: Handle) => this.op('Abs', x);
  square = (x: Handle) => this.op('Square', x);
  sign = (x: Handle) => this.op('Sign', x);
  exp = (x: Handle) => this.op('Exp', x);
  add = (x: Handle, y: Handle) => this.op('Add', x, y);
  sub = (x: Handle, y: Handle) => this.op('Sub', x, y);
  mul = (x: Handle, y: Handle) => this.op('Mul', x, y);
  div = (x: Handle, y: Handle) => this.op('RealDiv', x, y);

  /** Σ over `axes` (default all). */
  sum(x: Handle, axes: number[] = x.shape.map((_, i) => i)): Handle {
    const attrs = [{ name: 'keep_dims', type: this.b.TF_ATTR_BOOL, value: false }, this.type(), this.type('Tidx', this.b.TF_INT32)];
    return this.run('Sum', [x.id, this.ints(axes)], attrs)[0];
  }

  reshape(x: Handle, shape: number[]): Handle {
    return this.run('Reshape', [x.id, this.ints(shape)], [this.type(), this.type('Tshape', this.b.TF_INT32)])[0];
  }

  /** Scalars (or vectors) packed into one vector, for one read-back. */
  pack(xs: Handle[]): Handle {
    if (xs.length === 1) return this.reshape(xs[0], [-1]);
    const flat = xs.map((x) => (x.shape.length === 1 ? x : this.reshape(x, [-1])));
    const axis = this.b.createTensor([], this.b.TF_INT32, Int32Array.of(0));
    this.temps.push(axis);
    const attrs = [{ name: 'N', type: this.b.TF_ATTR_INT, value: flat.length }, this.type(), this.type('Tidx', this.b.TF_INT32)];
    return this.run('ConcatV2', [...flat.map((x) => x.id), axis], attrs)[0];
  }

  /**
   * FusedBatchNormV3 in training mode (statistics of the batch) on x [.., C] as NHWC: [y, mean,
   * variance], the variance biased (its `reserve_space_2`; its `batch_variance` is Bessel-corrected).
   */
  fusedBatchNorm(x: Handle, gamma: Handle, beta: Handle, epsilon: number): [Handle, Handle, Handle] {
    const x4 = this.nhwc(x);
    const none = this.constant([], [0]);
    const attrs = [...this.batchNormAttrs(epsilon), { name: 'exponential_avg_factor', type: this.b.TF_ATTR_FLOAT, value: 1 }];
    const [y, , , mean, variance] = this.run('FusedBatchNormV3', [x4.id, gamma.id, beta.id, none.id, none.id], attrs, 6);
    return [x4 === x ? y : this.reshape(y, x.shape), mean, variance];
  }

  /** FusedBatchNormGradV3 of `fusedBatchNorm` (training mode): [dx, dγ, dβ]. */
  fusedBatchNormGrad(dy: Handle, x: Handle, gamma: Handle, mean: Handle, variance: Handle, epsilon: number): [Handle, Handle, Handle] {
    const none = this.constant([], [0]);
    const [dx, dGamma, dBeta] = this.run('FusedBatchNormGradV3', [this.nhwc(dy).id, this.nhwc(x).id, gamma.id, mean.id, variance.id, none.id], this.batchNormAttrs(epsilon), 5);
    return [x.shape.length === 4 ? dx : this.reshape(dx, x.shape), dGamma, dBeta];
  }

  private batchNormAttrs(epsilon: number): OpAttr[] {
    return [
      this.type(),
      this.type('U'),
      { name: 'epsilon', type: this.b.TF_ATTR_FLOAT, value: epsilon },
      { name: 'data_format', type: this.b.TF_ATTR_STRING, value: 'NHWC' },
      { name: 'is_training', type: this.b.TF_ATTR_BOOL, value: true },
    ];
  }

  /** x as rank 4 for the NHWC batch-norm ops: as is, or [1, rows, 1, C]. */
  private nhwc(x: Handle): Handle {
    if (x.shape.length === 4) return x;
    const C = x.shape[x.shape.length - 1];
    return this.reshape(x, [1, x.shape.reduce((p, d) => p * d, 1) / C, 1, C]);
  }

  read(x: Handle): Float32Array {
    return this.b.tensorDataSync(x.id);
  }

  /** Hands `x` out as a kernel output (the engine owns it from here). */
  output(x: Handle): tf.TensorInfo {
    const at = this.temps.indexOf(x.id);
    if (at >= 0) this.temps.splice(at, 1);
    else throw new Error('sparsify: a kernel output must be a tensor the kernel made');
    const dataId = {};
    this.backend.tensorMap.set(dataId, { shape: x.shape, dtype: this.b.TF_FLOAT, id: x.id, values: null, refCount: 1 });
    return { dataId, shape: x.shape, dtype: 'float32' };
  }

  /** Host values as a kernel output. */
  values(values: ArrayLike<number>, shape: number[]): tf.TensorInfo {
    return this.output(this.constant(Float32Array.from(values), shape));
  }

  free(): void {
    for (const id of this.temps) this.b.deleteTensor(id);
    this.temps.length = 0;
  }
}

type TfKernel = (g: Graph, inputs: Handle[], attrs: Record<string, unknown>) => tf.TensorInfo[];

function kernelFunc(kernel: TfKernel): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const infos = Object.keys(inputs)
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
      .map((k) => inputs[k] as tf.TensorInfo);
    const g = new Graph(backend as unknown as NodeBackend);
    try {
      return kernel(g, g.inputs(infos), attrs as Record<string, unknown>);
    } finally {
      g.free();
    }
  };
}

/** +0 where a result may be −0 (as the plain ops' `+ 0`). */
const plusZero = (g: Graph, x: Handle) => g.add(x, g.constant([0]));

const KERNELS: Record<string, TfKernel> = {
  [PASS_KERNELS.absAndSquareSums]: (g, [x]) => [g.output(g.sum(g.abs(x))), g.output(g.sum(g.square(x)))],
  [PASS_KERNELS.absSum]: (g, [x]) => [g.output(g.sum(g.abs(x)))],

  [LAYER_KERNELS.batchNormTraining]: (g, [x, gamma, beta], { epsilon }) => g.fusedBatchNorm(x, gamma, beta, epsilon as number).map((h) => g.output(h)),
  [LAYER_KERNELS.batchNormTrainingGrad]: (g, [dy, x, gamma, mean, variance], { epsilon }) =>
    g.fusedBatchNormGrad(dy, x, gamma, mean, variance, epsilon as number).map((h) => g.output(h)),
  // dy·[y > 0], TensorFlow's own ReLU gradient.
  [LAYER_KERNELS.reluGrad]: (g, [dy, y]) => [g.output(g.op('ReluGrad', dy, y))],

  // c·(a·sign(x) + b·x) + 0; with b and c left out, a·sign(x) + 0.
  [PASS_KERNELS.signLinear]: (g, [x, a, b, c]) => {
    let y = g.mul(g.sign(x), a);
    if (b) y = g.add(y, g.mul(x, b));
    if (c) y = g.mul(y, c);
    return [g.output(plusZero(g, y))];
  },

  [PASS_KERNELS.groupSquareSums]: (g, [x]) => {
    const squares = g.reshape(g.square(x), groupLayout(x.shape));
    return [g.output(g.sum(squares, [0, 2])), g.output(g.sum(squares, [0, 1]))];
  },

  [PASS_KERNELS.groupScale]: (g, [x, rows, cols]) => {
    const [K, I, O] = groupLayout(x.shape);
    const factor = g.add(g.reshape(rows, [1, I, 1]), g.reshape(cols, [1, 1, O]));
    return [g.output(g.reshape(plusZero(g, g.mul(g.reshape(x, [K, I, O]), factor)), x.shape))];
  },

  // The magnitudes read back once, then the same exact select as the plain op.
  [PASS_KERNELS.kthSmallestMagnitude]: (g, xs, { k }) => {
    const magnitudes = g.abs(g.pack(xs));
    return [g.values([kthSmallest(g.read(magnitudes), k as number)], [])];
  },

  [MOMENTUM_UPDATE_KERNEL]: (g, [value, acc, g1, m, c, g2], { nesterov, decay }) => {
    let grad = g2 ? g.add(g1, g2) : g1;
    if (decay !== 0) grad = g.add(grad, g.mul(value, g.constant([decay as number])));
    const a = g.add(g.mul(m, acc), grad);
    return [g.output(g.add(g.mul(c, nesterov ? g.add(grad, g.mul(a, m)) : a), value)), g.output(a)];
  },

  // Hoyer, Hoyer-Square: the sums packed and read once; value, a and b on the host.
  [PENALTY_KERNEL_NAMES.hoyerRatioStep]: (g, inputs, { square, delta }) => {
    const host = g.read(g.pack(inputs));
    const n = (inputs.length - 1) / 2;
    const dy = host[2 * n];
    const out: number[] = [0];
    for (let j = 0; j < n; j++) {
      const [v, c0, c1] = ratio(host[2 * j], host[2 * j + 1], square as boolean, delta as number);
      out[0] = j === 0 ? Math.fround(v) : Math.fround(out[0] + Math.fround(v));
      out.push(dy * Math.fround(c0), dy * Math.fround(c1));
    }
    return out.map((v) => g.values([v], []));
  },

  // Group-HS: each kernel's group sums on the device, then the value and factors on the host.
  [PENALTY_KERNEL_NAMES.groupHoyerSquareStep]: (g, inputs, attrs) => {
    const kernels = inputs.slice(0, -1);
    const sums = kernels.flatMap((x) => {
      const squares = g.reshape(g.square(x), groupLayout(x.shape));
      return [g.sum(squares, [0, 2]), g.sum(squares, [0, 1])];
    });
    const host = g.read(g.pack([...sums, inputs[inputs.length - 1]]));
    const dy = host[host.length - 1];
    let total = 0;
    let at = 0;
    const factors: tf.TensorInfo[] = [];
    kernels.forEach((x, j) => {
      const [, I, O] = groupLayout(x.shape);
      const rows = host.slice(at, (at += I));
      const cols = host.slice(at, (at += O));
      const v = Math.fround(groupValueAndFactors(rows, cols, dy, attrs as unknown as GroupAttrs));
      total = j === 0 ? v : Math.fround(total + v);
      factors.push(g.values(rows, [I]), g.values(cols, [O]));
    });
    return [g.values([total], []), ...factors];
  },

  // HALO: W = Σ|w|·r and L = Σ|λ| per tensor on the device, added and finished on the host.
  [PENALTY_KERNEL_NAMES.haloTerm]: (g, inputs, attrs) => {
    const n = inputs.length / 2;
    const m2 = g.constant([attrs.minLambdaSquared as number]);
    const sums = inputs.slice(0, n).flatMap((w, j) => {
      const lambda = inputs[n + j];
      return [g.sum(g.div(g.abs(w), g.add(g.square(lambda), m2))), g.sum(g.abs(lambda))];
    });
    const host = g.read(g.pack(sums));
    let [weighted, lambdaL1] = [0, 0];
    for (let j = 0; j < n; j++) {
      weighted += host[2 * j];
      lambdaL1 += host[2 * j + 1];
    }
    const [value, slope] = haloFromSums(weighted, lambdaL1, attrs as unknown as HaloTermAttrs);
    return [g.values([value], []), g.values([slope], [])];
  },

  // dw = g·sign(w)·r, dλ = −2g·|w|·λ·r² + h·sign(λ), r = 1/(λ² + m²), g = dy·ξ, h = dy·slope.
  [PENALTY_KERNEL_NAMES.haloGradients]: (g, inputs, { minLambdaSquared, xi }) => {
    const n = (inputs.length - 2) / 2;
    const host = g.read(g.pack(inputs.slice(2 * n)));
    const [gScale, h] = upstream(host[0], host[1], xi as number);
    const [gs, minus2g, hs, m2] = [g.constant([gScale]), g.constant([-2 * gScale]), g.constant([h]), g.constant([minLambdaSquared as number])];
    const dws: tf.TensorInfo[] = [];
    const dls: tf.TensorInfo[] = [];
    for (let j = 0; j < n; j++) {
      const [w, lambda] = [inputs[j], inputs[n + j]];
      const r = g.div(g.constant([1]), g.add(g.square(lambda), m2));
      dws.push(g.output(plusZero(g, g.mul(g.mul(g.sign(w), r), gs))));
      const shrink = g.mul(g.mul(g.mul(g.abs(w), lambda), g.square(r)), minus2g);
      dls.push(g.output(plusZero(g, g.add(shrink, g.mul(g.sign(lambda), hs)))));
    }
    return [...dws, ...dls];
  },

  // HyperSparse: A and T per tensor on the device, c on the host, then (α·c)·sign(w)·sech²(s|w|).
  [PENALTY_KERNEL_NAMES.hyperSparseGradients]: (g, ws, { s, alpha }) => {
    const [minus2s, one, four] = [g.constant([-2 * (s as number)]), g.constant([1]), g.constant([4])];
    const parts = ws.map((w) => {
      const m = g.abs(w);
      const u = g.exp(g.mul(m, minus2s));
      const d = g.add(u, one);
      return { w, u, d, sums: [g.sum(m), g.sum(g.div(g.sub(one, u), d))] };
    });
    const host = g.read(g.pack(parts.flatMap((p) => p.sums)));
    let [A, T] = [0, 0];
    parts.forEach((_, j) => {
      A += host[2 * j];
      T += host[2 * j + 1];
    });
    const c = ((s as number) * A) / T;
    const scale = Math.fround(alpha as number) * c;
    const k = g.constant([scale]);
    const gradients = parts.map(({ w, u, d }) => g.output(g.mul(plusZero(g, g.mul(g.sign(w), g.div(g.mul(u, four), g.square(d)))), k)));
    return [g.values([c, scale], [2]), ...gradients];
  },
};

/** The kernel names registered for the tensorflow backend (a subset of SPARSIFY_KERNELS). */
export const TENSORFLOW_OP_KERNELS: readonly string[] = Object.keys(KERNELS);

export function registerTensorflowOpKernels(): void {
  for (const [name, kernel] of Object.entries(KERNELS)) {
    if (tf.getKernel(name, 'tensorflow')) tf.unregisterKernel(name, 'tensorflow');
    tf.registerKernel({ kernelName: name, backendName: 'tensorflow', kernelFunc: kernelFunc(kernel) });
  }
}

export function unregisterTensorflowOpKernels(): void {
  for (const name of Object.keys(KERNELS)) if (tf.getKernel(name, 'tensorflow')) tf.unregisterKernel(name, 'tensorflow');
}
