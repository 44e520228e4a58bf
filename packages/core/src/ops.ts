import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError } from './errors.js';
import { absSum, signLinear } from './passes.js';

/**
 * A typed `tf.customGrad` for the common case of one tensor input: `forward(x, save)` returns the value
 * and a gradient function of (dy, saved tensors). (tf.customGrad's own typing is variadic and awkward.)
 */
export function unaryCustomGrad<T extends tf.Tensor = tf.Tensor>(
  forward: (x: tf.Tensor, save: tf.GradSaveFunc) => { value: T; gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor },
): (x: tf.Tensor) => T {
  const f = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return (x) => f(x) as T;
}

/**
 * A typed `tf.customGrad` for any number of tensor inputs (a penalty over all its tensors as one op):
 * `forward(xs, save)` returns the value and a gradient function giving one gradient per input.
 */
export function variadicCustomGrad<T extends tf.Tensor = tf.Tensor>(
  forward: (xs: tf.Tensor[], save: tf.GradSaveFunc) => { value: T; gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor[] },
): (...xs: tf.Tensor[]) => T {
  const f = tf.customGrad(((...args: unknown[]) =>
    forward(args.slice(0, -1) as tf.Tensor[], args[args.length - 1] as tf.GradSaveFunc)) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...xs) => f(...xs) as T;
}

/**
 * Identity whose gradient is 0: TF.js has no StopGradient op (tensorflow/tfjs#967). Use it for
 * quantities that must be treated as constants inside a differentiated function.
 */
export const stopGradient = unaryCustomGrad((x) => ({ value: tf.clone(x), gradFunc: (dy) => tf.zerosLike(dy) }));

/**
 * |x| whose gradient is sign(x), i.e. 0 at 0. TF.js's own `abs` gradient is −1 at 0
 * (Abs_grad uses step(x, −1)), which pushes exact zeros (pruned weights, zero biases) off zero.
 */
export const safeAbs = unaryCustomGrad((x, save) => {
  save([x]);
  return { value: tf.abs(x), gradFunc: (dy, [saved]) => tf.mul(dy, tf.sign(saved)) };
});

/**
 * Σ|x| over every tensor given (one vector: the tensors of a model, say), with the zero-safe gradient
 * sign(x)·dy, as one custom op: one pass per tensor each way where the passes have kernels
 * (`absSum`, `signLinear`). Autodiff through `sum(safeAbs(x))` would add the sum's broadcast
 * (a full-size fill and product) to every step, and one op per tensor plus their sum would lengthen
 * the tape.
 */
export function safeL1(...xs: tf.Tensor[]): tf.Scalar {
  if (xs.length === 0) throw new SparsifyConfigError('safeL1 needs at least one tensor; got none');
  return l1Op(...xs);
}

const l1Op = variadicCustomGrad<tf.Scalar>((xs, save) => {
  save(xs);
  const sums = xs.map(absSum);
  return {
    value: (sums.length === 1 ? sums[0] : tf.addN(sums)) as tf.Scalar,
    gradFunc: (dy, saved) => saved.map((x) => signLinear(x, dy)),
  };
});

/**
 * √(Σx² over `axis`) with gradient x/‖x‖ and 0 (not NaN) where the norm is 0. TF.js gives NaN
 * for the gradient of sqrt(sum(square(x))) at x = 0 (see docs/conventions.md, "Numerical pitfalls").
 */
export function safeNorm(x: tf.Tensor, axis?: number | number[]): tf.Tensor {
  return unaryCustomGrad((v, save) => {
    const norm = tf.sqrt(tf.sum(tf.square(v), axis));
    save([v, norm]);
    return {
      value: norm,
      gradFunc: (dy, [vs, ns]) => {
        const keep = axis === undefined ? vs.shape.map(() => 1) : keptShape(vs.shape, axis);
        // dy/‖x‖ on the (small) norm tensor, then one full-size product: divNoNan over the full
        // tensor is an Equal and a Select of its size, slow on wasm (docs/performance.md).
        return tf.mul(vs, tf.reshape(tf.divNoNan(dy, ns), keep));
      },
    };
  })(x);
}

function keptShape(shape: number[], axis: number | number[]): number[] {
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + shape.length : a));
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * a / max(b, δ), for ratios whose denominator is 0 only when the numerator is 0 too (Hoyer of an
 * all-zero tensor gives 0). The gradient is written out: TF.js's Div gradient, −dy·a/b², underflows b²
 * to 0 at b = δ = 1e-30 and gives 0/0 = NaN. Here ∂a = dy/d and ∂b = −dy·q/d with d = max(b, δ),
 * q = a/d, both 0 where the guard is active.
 */
export function guardedDiv(numerator: tf.Tensor, denominator: tf.Tensor, delta = 1e-30): tf.Tensor {
  const f = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const d = tf.maximum(b, tf.scalar(delta));
    const q = tf.div(a, d);
    save([d, q, tf.cast(tf.greaterEqual(b, tf.scalar(delta)), 'float32')]);
    return {
      value: q,
      gradFunc: (dy: tf.Tensor, [ds, qs, active]: tf.Tensor[]) => [
        tf.mul(tf.div(dy, ds), active),
        tf.neg(tf.mul(tf.div(tf.mul(dy, qs), ds), active)),
      ],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(numerator, denominator);
}
