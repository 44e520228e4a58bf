import type * as tf from '@tensorflow/tfjs';

export interface ParameterCounts {
  /** Every weight (BatchNorm moving statistics included). */
  total: number;
  /** Everything but the BatchNorm moving statistics. */
  trainable: number;
  /** BatchNorm moving mean and variance. */
  nonTrainable: number;
  /** Conv2D kernel elements. */
  convKernels: number;
  /** Dense kernel elements. */
  denseKernels: number;
  /** Conv and dense kernels: what penalties and pruning act on by default. */
  kernels: number;
  /** Conv and dense biases. */
  biases: number;
  /** BatchNorm γ and β. */
  batchNorm: number;
}

const size = (shape: readonly (number | null)[]) => shape.reduce<number>((a, b) => a * (b ?? 1), 1);

/** Parameter counts of a model by kind, from its layers' weights (no tensors are read). */
export function parameterCounts(model: tf.LayersModel): ParameterCounts {
  const c: ParameterCounts = {
    total: 0,
    trainable: 0,
    nonTrainable: 0,
    convKernels: 0,
    denseKernels: 0,
    kernels: 0,
    biases: 0,
    batchNorm: 0,
  };
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    // By role, not by the layer's current `trainable` flag, so freezing a layer does not move its counts.
    for (const w of layer.weights) {
      const n = size(w.shape);
      const role = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
      if (role === 'moving_mean' || role === 'moving_variance') {
        c.nonTrainable += n;
        continue;
      }
      c.trainable += n;
      if (role === 'kernel' && cls === 'Conv2D') c.convKernels += n;
      else if (role === 'kernel' && cls === 'Dense') c.denseKernels += n;
      else if (role === 'bias') c.biases += n;
      else if (cls === 'BatchNormalization') c.batchNorm += n;
    }
  }
  c.kernels = c.convKernels + c.denseKernels;
  c.total = c.trainable + c.nonTrainable;
  return c;
}
