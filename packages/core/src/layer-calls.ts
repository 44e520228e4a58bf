import type * as tf from '@tensorflow/tfjs';

/** A layer's `call` replaced for one forward pass. */
export interface LayerCall {
  readonly layer: object;
  readonly call: (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
}

/**
 * Runs `forward` with each layer's `call` replaced (an own property shadows the class's method, for that
 * instance only), and restores them afterwards, even if `forward` throws.
 */
export function withLayerCalls<T>(calls: readonly LayerCall[], forward: () => T): T {
  if (calls.length === 0) return forward();
  const own = calls.map(({ layer }) => Object.getOwnPropertyDescriptor(layer, 'call'));
  for (const { layer, call } of calls) (layer as { call: LayerCall['call'] }).call = call;
  try {
    return forward();
  } finally {
    calls.forEach(({ layer }, i) => {
      const descriptor = own[i];
      if (descriptor) Object.defineProperty(layer, 'call', descriptor);
      else delete (layer as { call?: unknown }).call;
    });
  }
}
