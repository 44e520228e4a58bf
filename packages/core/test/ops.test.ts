import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedDiv, safeAbs, safeL1, safeNorm, stopGradient } from '../src/index.js';
import { useBackend } from './helpers.js';

/** Central finite differences of a scalar function of one tensor, in float32. */
function numericGradient(f: (x: tf.Tensor) => tf.Scalar, values: number[], shape: number[], h = 1e-3): number[] {
  return values.map((_, i) => {
    const at = (d: number) =>
      tf.tidy(
        () =>
          f(
            tf.tensor(
              values.map((v, j) => (j === i ? v + d : v)),
              shape,
            ),
          ).dataSync()[0],
      );
    return (at(h) - at(-h)) / (2 * h);
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`zero-safe primitives on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('safeAbs has gradient sign(x): 0 at 0 (tf.abs gives −1 there)', () => {
      const x = tf.tensor1d([1.5, -2, 0, 0.25]);
      const safe = tf.grad((v: tf.Tensor) => tf.sum(safeAbs(v)))(x);
      expect(Array.from(safe.dataSync())).toEqual([1, -1, 0, 1]);
      const builtin = tf.grad((v: tf.Tensor) => tf.sum(tf.abs(v)))(x);
      expect(builtin.dataSync()[2]).toBe(-1); // the pitfall this primitive exists for
      expect(safeAbs(x).dataSync()).toEqual(new Float32Array([1.5, 2, 0, 0.25]));
    });

    it('safeL1 gradient matches finite differences away from 0', () => {
      const values = [0.3, -0.7, 1.2, -0.05];
      const analytic = tf
        .grad((v: tf.Tensor) => tf.mul(safeL1(v), tf.scalar(3)))(tf.tensor1d(values))
        .dataSync();
      const numeric = numericGradient((v) => tf.mul(safeL1(v), tf.scalar(3)) as tf.Scalar, values, [4]);
      analytic.forEach((g, i) => expect(g).toBeCloseTo(numeric[i], 2));
    });

    it('safeL1 of several tensors is one op: Σ over all of them, each gradient sign(x)·dy, 0 at 0', () => {
      const xs = [
        tf.tensor1d([0.3, -0.7, 0]),
        tf.tensor2d([
          [1.2, -0.05],
          [0, 2],
        ]),
        tf.scalar(-4),
      ];
      expect(safeL1(...xs).dataSync()[0]).toBeCloseTo(0.3 + 0.7 + 1.2 + 0.05 + 2 + 4, 5);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.mul(safeL1(a, b, c), tf.scalar(3)))(xs);
      expect(grads.map((g) => Array.from(g.dataSync()))).toEqual([[3, -3, 0], [3, -3, 0, 3], [-3]]);
      expect(grads.map((g) => g.shape)).toEqual(xs.map((x) => x.shape));
      expect(() => safeL1()).toThrow(/at least one tensor/);
    });

    it('safeNorm matches finite differences and is finite (0) at an all-zero group', () => {
      const values = [0.3, -0.7, 1.2, -0.4, 0.9, 0.1];
      const f = (v: tf.Tensor) => tf.sum(tf.square(safeNorm(tf.reshape(v, [2, 3]), 1))) as tf.Scalar;
      const g = (v: tf.Tensor) => tf.sum(safeNorm(tf.reshape(v, [2, 3]), 1)) as tf.Scalar;
      const analytic = tf.grad(g)(tf.tensor1d(values)).dataSync();
      const numeric = numericGradient(g, values, [6]);
      analytic.forEach((a, i) => expect(a).toBeCloseTo(numeric[i], 2));
      expect(f(tf.tensor1d(values)).dataSync()[0]).toBeCloseTo(
        values.reduce((s, v) => s + v * v, 0),
        4,
      );

      const zeros = tf.tensor2d([
        [0, 0, 0],
        [1, 2, 2],
      ]);
      const grad = tf
        .grad((v: tf.Tensor) => tf.sum(safeNorm(v, 1)))(zeros)
        .dataSync();
      expect(Array.from(grad).every(Number.isFinite)).toBe(true);
      expect(Array.from(grad.slice(0, 3))).toEqual([0, 0, 0]);
      expect(Array.from(grad.slice(3))).toEqual([1 / 3, 2 / 3, 2 / 3].map((v) => Math.fround(v)));
      // Plain sqrt(sum(square)) is NaN there: the reason safeNorm exists.
      const plain = tf
        .grad((v: tf.Tensor) => tf.sum(tf.sqrt(tf.sum(tf.square(v), 1))))(zeros)
        .dataSync();
      expect(Number.isNaN(plain[0])).toBe(true);
    });

    it('guardedDiv gives 0 for 0/0 and a plain quotient otherwise', () => {
      expect(Array.from(guardedDiv(tf.tensor1d([0, 6]), tf.tensor1d([0, 3])).dataSync())).toEqual([0, 2]);
    });
  });
}

describe('guardedDiv gradient', () => {
  beforeAll(() => useBackend('cpu'));
  it('is finite (0) where the guard is active, and a/b’s gradient elsewhere', () => {
    const f = (x: tf.Tensor) => guardedDiv(safeL1(x), safeNorm(x)) as tf.Scalar;
    expect(
      Array.from(
        tf
          .grad(f)(tf.zeros([3]))
          .dataSync(),
      ),
    ).toEqual([0, 0, 0]);
    const values = [0.3, -0.6, 0.9];
    const analytic = tf.grad(f)(tf.tensor1d(values)).dataSync();
    const numeric = numericGradient(f, values, [3]);
    analytic.forEach((g, i) => expect(g).toBeCloseTo(numeric[i], 2));
  });
});

describe('stopGradient', () => {
  beforeAll(() => useBackend('cpu'));
  it('passes the value and blocks the gradient', () => {
    const x = tf.tensor1d([1, 2, 3]);
    // d/dx [x · sg(x)] = sg(x) = x, not 2x.
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, stopGradient(v))))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(stopGradient(x).dataSync())).toEqual([1, 2, 3]);
  });
});
