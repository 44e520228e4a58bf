import * as tf from '@tensorflow/tfjs';
import { BasePenalty, safeL1, type TrainingContext } from '../src/index.js';

export async function useBackend(name: 'cpu' | 'wasm' = 'cpu'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

/** A tiny seeded MLP: 8 → 16 → 4, logits out. */
export function tinyModel(seed = 1): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed }) }));
  model.add(tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }) }));
  return model;
}

export function tinyBatch(seed = 3, n = 32): { x: tf.Tensor; y: tf.Tensor } {
  const x = tf.randomNormal([n, 8], 0, 1, 'float32', seed);
  const y = tf.tidy(() => tf.cast(tf.argMax(tf.matMul(x, tf.randomNormal([8, 4], 0, 1, 'float32', seed + 1)), 1), 'int32'));
  return { x, y };
}

/** Plain L1 for core's own tests (the real one lives in @sparsify/adaptive-lasso). */
export class TestL1 extends BasePenalty {
  readonly name = 'test-l1';
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.params.reduce((sum, p) => tf.add(sum, safeL1(p.variable)), tf.scalar(0)) as tf.Scalar;
  }
}
