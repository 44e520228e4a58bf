import * as tf from '@tensorflow/tfjs';
import type { LayerCall } from './layer-calls.js';
import { batchNormTraining, relu } from './layer-ops.js';

/** What a tfjs-layers 4.22 BatchNormalization holds (normalization.js). */
interface BatchNormInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma?: { read(): tf.Tensor };
  beta?: { read(): tf.Tensor };
  movingMean: LayerVariableLike;
  movingVariance: LayerVariableLike;
  inputSpec?: { ndim?: number }[] | null;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

interface LayerVariableLike {
  read(): tf.Tensor;
  write(value: tf.Tensor): unknown;
}

const one = (inputs: tf.Tensor | tf.Tensor[]) => (Array.isArray(inputs) ? inputs[0] : inputs);

/** tfjs-layers' moving-average update, op for op: v ← v − (v − value)·(1 − momentum). */
function movingAverage(variable: LayerVariableLike, value: tf.Tensor, momentum: number): void {
  tf.tidy(() => {
    const current = variable.read();
    variable.write(tf.sub(current, tf.mul(tf.sub(current, value), 1 - momentum)));
  });
}

/**
 * A BatchNormalization over the last axis with γ and β, in training mode, as `batchNormTraining` plus
 * the layer's own moving-average updates; in inference mode, the layer's own call.
 */
function batchNormCall(layer: BatchNormInternals): LayerCall['call'] {
  const own = layer.call;
  return (inputs, kwargs) => {
    if (!kwargs?.training) return own.call(layer, inputs, kwargs);
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(one(inputs), layer.gamma!.read(), layer.beta!.read(), layer.epsilon);
      movingAverage(layer.movingMean, mean, layer.momentum);
      movingAverage(layer.movingVariance, variance, layer.momentum);
      return y;
    });
  };
}

const candidates = new WeakMap<tf.LayersModel, LayerCall[]>();

/**
 * The BatchNormalization layers (over the last axis, with γ and β) and ReLU layers (no maximum) of
 * `model`, with calls that run them as sparsify's layer ops (`batchNormTraining`, `relu`).
 */
export function layerOpCalls(model: tf.LayersModel): LayerCall[] {
  let calls = candidates.get(model);
  if (!calls) {
    calls = model.layers.flatMap((layer): LayerCall[] => {
      const name = layer.getClassName();
      if (name === 'ReLU' && (layer as unknown as { maxValue?: number | null }).maxValue == null) {
        return [{ layer, call: (inputs) => relu(one(inputs)) }];
      }
      if (name !== 'BatchNormalization') return [];
      const bn = layer as unknown as BatchNormInternals;
      const rank = bn.inputSpec?.[0]?.ndim;
      const lastAxis = rank !== undefined && (bn.axis === -1 || bn.axis === rank - 1);
      return lastAxis && rank >= 2 && bn.center && bn.scale && bn.gamma && bn.beta ? [{ layer, call: batchNormCall(bn) }] : [];
    });
    candidates.set(model, calls);
  }
  return calls;
}
