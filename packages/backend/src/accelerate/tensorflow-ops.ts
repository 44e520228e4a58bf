import * as tf from '@tensorflow/tfjs';
import { LAYER_KERNELS, MOMENTUM_UPDATE_KERNEL } from '@sparsify/core';
import { heldOnHost, hostKernelFunc } from './host-loops.js';
import { orderedInputs } from './loop-kernels.js';
import { MOMENTUM_UPDATE } from './passes.js';
import { outputHandle, type NodeBackend, type OpAttr } from './tfjs-node.js';

/**
 * Core's layer ops on the tensorflow backend (tfjs-node) as TensorFlow's own fused ops, issued through
 * the binding: a training-mode BatchNormalization as FusedBatchNormV3 / FusedBatchNormGradV3 (one
 * multi-threaded op each way, on the tensors where they live, where tfjs-layers issues ≈ 30 tfjs ops),
 * ReLU as Relu and its gradient as ReluGrad. Unlike the penalties' passes (host-loops.ts) these read whole activations,
 * so copying them to the host and back would cost more than the op. Results equal the plain ops' to
 * float32 rounding (op-kernels test on the tensorflow leg). The momentum update runs here too, as
 * TensorFlow's ops or as the host loop, whichever copies less (`momentumKernelFunc`).
 */

interface Handle {
  readonly id: number;
  readonly shape: number[];
}

/** One kernel call's TensorFlow ops: the handles it makes are freed by `free()` unless handed out by `output`. */
class Ops {
  private readonly temps: number[] = [];

  constructor(private readonly backend: NodeBackend) {}

  private get b() {
    return this.backend.binding;
  }

  inputs(infos: readonly tf.TensorInfo[]): Handle[] {
    const ids = this.backend.getInputTensorIds(infos);
    return infos.map((info, i) => ({ id: ids[i], shape: info.shape }));
  }

  type(name = 'T', dtype = this.b.TF_FLOAT): OpAttr {
    return { name, type: this.b.TF_ATTR_TYPE, value: dtype };
  }

  run(name: string, inputs: Handle[], attrs: OpAttr[] = [this.type()], outputs = 1): Handle[] {
    const out = this.b.executeOp(
      name,
      attrs,
      inputs.map((x) => x.id),
      outputs,
    );
    for (const o of out) this.temps.push(o.id);
    return out.map((o) => ({ id: o.id, shape: o.shape }));
  }

  private make(shape: number[], dtype: number, values: Float32Array | Int32Array): Handle {
    const id = this.b.createTensor(shape, dtype, values);
    this.temps.push(id);
    return { id, shape };
  }

  reshape(x: Handle, shape: number[]): Handle {
    const to = this.make([shape.length], this.b.TF_INT32, Int32Array.from(shape));
    return this.run('Reshape', [x, to], [this.type(), this.type('Tshape', this.b.TF_INT32)])[0];
  }

  /** x as rank 4 for the NHWC batch-norm ops: as is, or [1, rows, 1, C]. */
  nhwc(x: Handle): Handle {
    if (x.shape.length === 4) return x;
    const C = x.shape[x.shape.length - 1];
    return this.reshape(x, [1, x.shape.reduce((p, d) => p * d, 1) / C, 1, C]);
  }

  scalar(value: number): Handle {
    return this.make([], this.b.TF_FLOAT, Float32Array.of(value));
  }

  /** An empty float32 vector (the statistics the training-mode ops take and ignore). */
  none(): Handle {
    return this.make([0], this.b.TF_FLOAT, new Float32Array(0));
  }

  batchNormAttrs(epsilon: number): OpAttr[] {
    return [
      this.type(),
      this.type('U'),
      { name: 'epsilon', type: this.b.TF_ATTR_FLOAT, value: epsilon },
      this.string('data_format', 'NHWC'),
      this.bool('is_training', true),
    ];
  }

  float(name: string, value: number): OpAttr {
    return { name, type: this.b.TF_ATTR_FLOAT, value };
  }

  bool(name: string, value: boolean): OpAttr {
    return { name, type: this.b.TF_ATTR_BOOL, value };
  }

  string(name: string, value: string): OpAttr {
    return { name, type: this.b.TF_ATTR_STRING, value };
  }

  /** Hands `x` out as a kernel output, as `shape`. */
  output(x: Handle, shape = x.shape): tf.TensorInfo {
    const y = tf.util.arraysEqual(shape, x.shape) ? x : this.reshape(x, shape);
    this.temps.splice(this.temps.indexOf(y.id), 1);
    return outputHandle(this.backend, y.id, shape);
  }

  free(): void {
    for (const id of this.temps) this.b.deleteTensor(id);
    this.temps.length = 0;
  }
}

type OpsKernel = (
  g: Ops,
  inputs: Handle[],
  attrs: { epsilon?: number; nesterov?: boolean; decay?: number; activation?: string },
) => tf.TensorInfo[];

/** The kernel name of @sparsify/layers' Dense step in inference plans (its `DENSE_INFERENCE_KERNEL`). */
export const DENSE_INFERENCE_KERNEL_NAME = 'SparsifyDenseInference';

/** The activations of `DENSE_INFERENCE_KERNEL_NAME` as TensorFlow ops ('linear': none). */
const DENSE_ACTIVATION_OPS: Readonly<Record<string, string | null>> = { linear: null, relu: 'Relu', elu: 'Elu' };

const KERNELS: Record<string, OpsKernel> = {
  // [y, mean, variance]: the biased variance is FusedBatchNormV3's reserve_space_2 (its batch_variance
  // is Bessel-corrected).
  [LAYER_KERNELS.batchNormTraining]: (g, [x, gamma, beta], { epsilon }) => {
    const attrs = [...g.batchNormAttrs(epsilon!), g.float('exponential_avg_factor', 1)];
    const [y, , , mean, variance] = g.run('FusedBatchNormV3', [g.nhwc(x), gamma, beta, g.none(), g.none()], attrs, 6);
    return [g.output(y, x.shape), g.output(mean), g.output(variance)];
  },
  // [dx, dγ, dβ] of the above.
  [LAYER_KERNELS.batchNormTrainingGrad]: (g, [dy, x, gamma, mean, variance], { epsilon }) => {
    const [dx, dGamma, dBeta] = g.run(
      'FusedBatchNormGradV3',
      [g.nhwc(dy), g.nhwc(x), gamma, mean, variance, g.none()],
      g.batchNormAttrs(epsilon!),
      5,
    );
    return [g.output(dx, x.shape), g.output(dGamma), g.output(dBeta)];
  },
  // TensorFlow's Relu, as tfjs-node's own kernel runs it: the op needs a kernel name of its own to carry
  // its gradient.
  [LAYER_KERNELS.relu]: (g, [x]) => [g.output(g.run('Relu', [x])[0])],
  // dy·[y > 0]
  [LAYER_KERNELS.reluGrad]: (g, [dy, y]) => [g.output(g.run('ReluGrad', [dy, y])[0])],
  // act(x · kernel + bias), x [batch, inputs]: MatMul, BiasAdd and the activation, three TensorFlow ops
  // in one kernel call, where tfjs-node's _FusedMatMul issues six through tfjs (three of them reshapes
  // to and from its batched form). At batch 1 those calls, not arithmetic, are a small model's time.
  [DENSE_INFERENCE_KERNEL_NAME]: (g, [x, kernel, bias], { activation = 'linear' }) => {
    const act = DENSE_ACTIVATION_OPS[activation];
    if (act === undefined) throw new Error(`${DENSE_INFERENCE_KERNEL_NAME}: activation ${activation}: expected linear, relu or elu`);
    let y = g.run('MatMul', [x, kernel], [g.type(), g.bool('transpose_a', false), g.bool('transpose_b', false)])[0];
    if (bias) y = g.run('BiasAdd', [y, bias], [g.type(), g.string('data_format', 'NHWC')])[0];
    if (act) y = g.run(act, [y])[0];
    return [g.output(y)];
  },
};

/**
 * The momentum update (core's `momentumUpdate`) where its tensors are in TensorFlow: TensorFlow's Mul and
 * Add, the ops tfjs-node runs for the plain version, issued through the binding; bit for bit the same.
 */
const momentumOps: OpsKernel = (g, [v, acc, g1, m, c, g2], { nesterov, decay }) => {
  const mul = (x: Handle, y: Handle) => g.run('Mul', [x, y])[0];
  const add = (x: Handle, y: Handle) => g.run('Add', [x, y])[0];
  let grad = g2 ? add(g1, g2) : g1;
  if (decay) grad = add(grad, mul(v, g.scalar(decay)));
  const a = add(mul(m, acc), grad);
  return [g.output(add(mul(c, nesterov ? add(grad, mul(a, m)) : a), v)), g.output(a)];
};

/**
 * The momentum update on tensorflow: the host loop (passes.ts) where the weights or the penalty's part
 * of the gradient are in host memory already (a penalty's kernels read the weights and wrote its
 * gradient; the last update wrote the weights and the accumulation), so that the task's gradient is
 * the one tensor copied out of TensorFlow, and the pass also computes what the penalty reads next step
 * (the sums, the magnitude band); else TensorFlow's ops (a variable no penalty touches).
 */
function momentumKernelFunc(): tf.KernelFunc {
  const host = hostKernelFunc(MOMENTUM_UPDATE);
  const ops = kernelFunc(momentumOps);
  return (args) => {
    const [value, , , , , addend] = orderedInputs(args.inputs);
    return (heldOnHost(value) || (addend !== undefined && heldOnHost(addend)) ? host : ops)(args);
  };
}

function kernelFunc(kernel: OpsKernel): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const g = new Ops(backend as unknown as NodeBackend);
    try {
      return kernel(g, g.inputs(orderedInputs(inputs)), attrs as Parameters<OpsKernel>[2]);
    } finally {
      g.free();
    }
  };
}

const KERNEL_FUNCS: Record<string, () => tf.KernelFunc> = {
  ...Object.fromEntries(Object.entries(KERNELS).map(([name, kernel]) => [name, () => kernelFunc(kernel)])),
  [MOMENTUM_UPDATE_KERNEL]: momentumKernelFunc,
};

/** The kernel names registered for the tensorflow backend as TensorFlow ops. */
export const TENSORFLOW_OP_KERNELS: readonly string[] = Object.keys(KERNEL_FUNCS);

export function registerTensorflowOpKernels(): void {
  for (const [name, make] of Object.entries(KERNEL_FUNCS)) {
    if (tf.getKernel(name, 'tensorflow')) tf.unregisterKernel(name, 'tensorflow');
    tf.registerKernel({ kernelName: name, backendName: 'tensorflow', kernelFunc: make() });
  }
}

export function unregisterTensorflowOpKernels(): void {
  for (const name of TENSORFLOW_OP_KERNELS) if (tf.getKernel(name, 'tensorflow')) tf.unregisterKernel(name, 'tensorflow');
}
