import * as tf from '@tensorflow/tfjs';
import type { Param, ParamLayout, ParamRole } from '@sparsify/core';

/** Deterministic pseudo-random numbers (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Values in ±[0.05, 1] with random signs: far enough from 0 that |w| is differentiable under finite
 * differences, and spread enough that magnitude-based penalties see distinct values.
 */
export function fixtureValues(size: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const magnitude = 0.05 + 0.95 * random();
    out[i] = random() < 0.5 ? -magnitude : magnitude;
  }
  return out;
}

let fixtureCounter = 0;

function param(name: string, shape: number[], role: ParamRole, layout: ParamLayout, layerClass: string, seed: number): Param {
  const unique = `conformance_${++fixtureCounter}/${name}`;
  // In tidy: tf.variable shares the initial tensor's data; the wrapper tensor itself must be freed.
  const variable = tf.tidy(() =>
    tf.variable(
      tf.tensor(
        fixtureValues(
          shape.reduce((a, b) => a * b, 1),
          seed,
        ),
        shape,
      ),
      true,
      unique,
    ),
  );
  return { name: unique, layerName: unique.split('/')[0], layerClass, role, layout, shape, size: variable.size, variable };
}

/**
 * Small parameters covering the layouts penalties must handle: a dense kernel [in, out], a conv
 * kernel [kh, kw, in, out] and a bias vector. The caller disposes the variables.
 */
export function fixtureParams(seed = 1): Param[] {
  return [
    param('dense/kernel', [6, 5], 'kernel', 'dense', 'Dense', seed),
    param('conv/kernel', [3, 3, 2, 3], 'kernel', 'conv2d', 'Conv2D', seed + 1),
    param('dense/bias', [5], 'bias', 'vector', 'Dense', seed + 2),
  ];
}

/** Kernels only, as most penalties bind by default. */
export function fixtureKernels(seed = 1): Param[] {
  const params = fixtureParams(seed);
  params.filter((p) => p.role !== 'kernel').forEach((p) => p.variable.dispose());
  return params.filter((p) => p.role === 'kernel');
}

export function disposeParams(params: readonly Param[]): void {
  for (const p of params) if (!p.variable.isDisposed) p.variable.dispose();
}

/** A tiny seeded MLP (8 → 12 → 4, logits) and a batch for training-loop checks. */
export function fixtureModel(seed = 1): { model: tf.LayersModel; x: tf.Tensor; y: tf.Tensor } {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ inputShape: [8], units: 12, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
  );
  model.add(tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  const x = tf.tensor2d(fixtureValues(16 * 8, seed + 2), [16, 8]);
  const y = tf.tensor1d(
    Array.from({ length: 16 }, (_, i) => i % 4),
    'int32',
  );
  return { model, x, y };
}
