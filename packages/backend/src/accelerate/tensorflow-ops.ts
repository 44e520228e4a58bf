import * as tf from '@tensorflow/tfjs';
import { LAYER_KERNELS } from '@sparsify/core';
import { orderedInputs } from './loop-kernels.js';
import { outputHandle, type NodeBackend, type OpAttr } from './tfjs-node.js';

/**
 * Core's layer ops on the tensorflow backend (tfjs-node) as TensorFlow's own fused ops, issued through
 * the binding: a training-mode BatchNormalization as FusedBatchNormV3 / FusedBatchNormGradV3 (one
 * multi-threaded op each way, on the tensors where they live, where tfjs-layers issues ≈ 30 tfjs ops),
 * ReLU as Relu and its gradient as ReluGrad. Unlike the penalties' passes (host-loops.ts) these read whole activations,
 * so copying them to the host and back would cost more than the op. Results equal the plain ops' to
 * float32 rounding (op-kernels test on the tensorflow leg).
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

  private type(name = 'T', dtype = this.b.TF_FLOAT): OpAttr {
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

  /** An empty float32 vector (the statistics the training-mode ops take and ignore). */
  none(): Handle {
    return this.make([0], this.b.TF_FLOAT, new Float32Array(0));
  }

  batchNormAttrs(epsilon: number): OpAttr[] {
    return [
      this.type(),
      this.type('U'),
      { name: 'epsilon', type: this.b.TF_ATTR_FLOAT, value: epsilon },
      { name: 'data_format', type: this.b.TF_ATTR_STRING, value: 'NHWC' },
      { name: 'is_training', type: this.b.TF_ATTR_BOOL, value: true },
    ];
  }

  float(name: string, value: number): OpAttr {
    return { name, type: this.b.TF_ATTR_FLOAT, value };
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

type OpsKernel = (g: Ops, inputs: Handle[], attrs: { epsilon?: number }) => tf.TensorInfo[];

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
};

function kernelFunc(kernel: OpsKernel): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const g = new Ops(backend as unknown as NodeBackend);
    try {
      return kernel(g, g.inputs(orderedInputs(inputs)), attrs as { epsilon?: number });
    } finally {
      g.free();
    }
  };
}

/** The kernel names registered for the tensorflow backend as TensorFlow ops. */
export const TENSORFLOW_OP_KERNELS: readonly string[] = Object.keys(KERNELS);

export function registerTensorflowOpKernels(): void {
  for (const [name, kernel] of Object.entries(KERNELS)) {
    if (tf.getKernel(name, 'tensorflow')) tf.unregisterKernel(name, 'tensorflow');
    tf.registerKernel({ kernelName: name, backendName: 'tensorflow', kernelFunc: kernelFunc(kernel) });
  }
}

export function unregisterTensorflowOpKernels(): void {
  for (const name of TENSORFLOW_OP_KERNELS) if (tf.getKernel(name, 'tensorflow')) tf.unregisterKernel(name, 'tensorflow');
}
