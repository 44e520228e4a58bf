import * as tf from '@tensorflow/tfjs';
import { vi } from 'vitest';
import { BasePenalty, safeL1, unaryCustomGrad, type Param, type TrainingContext } from '@sparsify/core';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Plain L1 (test-only; the real one is in a penalty package). */
export class TestL1 extends BasePenalty {
  readonly name = 'test-l1';
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.params.reduce((s, p) => tf.add(s, safeL1(p.variable)), tf.scalar(0)) as tf.Scalar;
  }
}

/**
 * HALO-shaped test penalty: one trainable scale λ per param, term Σ λ·|w| − log λ, so λ has a gradient
 * of its own and is trained by its own optimizer.
 */
export class TestLearnedScale extends BasePenalty {
  readonly name = 'test-learned-scale';
  private lambdas: tf.Variable[] = [];
  protected override init(params: readonly Param[]): void {
    this.lambdas = params.map(() => this.own(tf.variable(tf.scalar(1), true)));
  }
  override trainableVariables(): tf.Variable[] {
    return this.lambdas;
  }
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.params.reduce(
      (s, p, i) => tf.add(s, tf.sub(tf.mul(this.lambdas[i], safeL1(p.variable)), tf.log(this.lambdas[i]))),
      tf.scalar(0),
    ) as tf.Scalar;
  }
}

/** HyperSparse-shaped test penalty: value ≡ 0, gradient sign(w) (a custom gradient only). */
export class TestGradientOnly extends BasePenalty {
  readonly name = 'test-gradient-only';
  private static readonly zeroValued = unaryCustomGrad((x, save) => {
    save([x]);
    return { value: tf.scalar(0), gradFunc: (dy, [saved]) => tf.mul(dy, tf.sign(saved)) };
  });
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.params.reduce((s, p) => tf.add(s, TestGradientOnly.zeroValued(p.variable)), tf.scalar(0)) as tf.Scalar;
  }
}

/** A seeded MLP with softmax outputs, compiled for `fit`. */
export function compiledMlp(seed: number, sizes = [16, 32, 4], optimizer: tf.Optimizer = tf.train.momentum(0.05, 0.9)): tf.LayersModel {
  const model = tf.sequential();
  for (let i = 1; i < sizes.length; i++) {
    model.add(
      tf.layers.dense({
        ...(i === 1 ? { inputShape: [sizes[0]] } : {}),
        units: sizes[i],
        activation: i === sizes.length - 1 ? 'softmax' : 'relu',
        kernelInitializer: tf.initializers.glorotNormal({ seed: seed + i }),
      }),
    );
  }
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Seeded, linearly separable classes: x ~ N(0, 1), y = one-hot argmax(x·W), W fixed by `ruleSeed`. */
export function classes(seed: number, n: number, inputs = 16, k = 4, ruleSeed = 99): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, inputs], 0, 1, 'float32', seed) as tf.Tensor2D;
    const w = tf.randomNormal([inputs, k], 0, 1, 'float32', ruleSeed);
    const y = tf.oneHot(tf.argMax(tf.matMul(x, w), 1), k) as tf.Tensor2D;
    return { x: tf.cast(x, 'float32') as tf.Tensor2D, y: tf.cast(y, 'float32') as tf.Tensor2D };
  });
}

/** The kernels' values, one host array per layer. */
export function kernels(model: tf.LayersModel): Float32Array[] {
  return model.layers.filter((l) => l.getWeights().length > 0).map((l) => l.getWeights()[0].dataSync() as Float32Array);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

/**
 * `fit`'s `shuffle: true` draws from `Math.random` (tfjs `util.shuffle`); seeding it keeps a test that
 * shuffles deterministic. Returns the restore function.
 */
export function seedMathRandom(seed: number): () => void {
  let state = seed >>> 0;
  const spy = vi.spyOn(Math, 'random').mockImplementation(() => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0; // Numerical Recipes LCG
    return state / 2 ** 32;
  });
  return () => spy.mockRestore();
}
