import * as tf from '@tensorflow/tfjs';
import { withLayerCalls, type LayerCall } from './layer-calls.js';

/**
 * While training, tfjs runs a Conv2D layer without activation through `tf.fused.conv2d` (its
 * `shouldFuse` keeps linear convs fused under a tape), whose custom gradient computes the gradient of
 * every input. For a conv fed by the model's input that includes the input batch's gradient, which
 * nothing uses: the first layer's `Conv2DBackpropInput` (on LeNet-5: docs/performance.md). As
 * `conv2d` + bias, tfjs's per-kernel gradients skip inputs that need none. Same math; the bias is
 * added after the products instead of before, so values can differ in the last bit.
 */

interface ConvLayerInternals {
  kernel: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
  useBias: boolean;
  strides: number[];
  padding: string;
  dilationRate: number | number[];
  dataFormat: string;
  rank: number;
  activation: { getClassName(): string };
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor | tf.Tensor[];
}

const candidates = new WeakMap<tf.LayersModel, ConvLayerInternals[]>();

/** Conv2D layers (linear, channelsLast, `valid`/`same`) whose every call takes a model input. */
function inputConvs(model: tf.LayersModel): ConvLayerInternals[] {
  let layers = candidates.get(model);
  if (!layers) {
    const inputs = new Set(model.inputs);
    layers = model.layers
      .filter((layer) => {
        const conv = layer as unknown as ConvLayerInternals;
        return (
          layer.getClassName() === 'Conv2D' &&
          conv.rank === 2 &&
          conv.activation?.getClassName() === 'linear' &&
          conv.dataFormat === 'channelsLast' &&
          (conv.padding === 'valid' || conv.padding === 'same') &&
          layer.inboundNodes.length > 0 &&
          layer.inboundNodes.every((node) => node.inputTensors.every((t) => inputs.has(t)))
        );
      })
      .map((layer) => layer as unknown as ConvLayerInternals);
    candidates.set(model, layers);
  }
  return layers;
}

function unfusedCall(conv: ConvLayerInternals): ConvLayerInternals['call'] {
  return (inputs) =>
    tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const dilations = conv.dilationRate as number | [number, number];
      const y = tf.conv2d(
        x,
        conv.kernel.read() as tf.Tensor4D,
        conv.strides as [number, number],
        conv.padding as 'valid' | 'same',
        'NHWC',
        dilations,
      );
      return conv.useBias && conv.bias ? tf.add(y, conv.bias.read()) : y;
    });
}

/** The Conv2D layers fed by the model's input, each with its `conv2d` + bias call. */
export function inputConvCalls(model: tf.LayersModel): LayerCall[] {
  return inputConvs(model).map((layer) => ({ layer, call: unfusedCall(layer) }));
}

/**
 * Runs `forward` (a training forward pass of `model`) with the Conv2D layers that take the model's
 * input computed as `conv2d` + bias, so that the backward pass skips the input's gradient. Layers are
 * restored afterwards, even if `forward` throws.
 */
export function withUnfusedInputConvs<T>(model: tf.LayersModel, forward: () => T): T {
  return withLayerCalls(inputConvCalls(model), forward);
}
