import * as tf from '@tensorflow/tfjs';
import { check, checkPositive, SparsifyConfigError, type Param } from '@sparsify/core';

export const PACKAGE_NAME = '@sparsify/adaptive-lasso';

/** Default relative ε: ε = 1e-2·mean|w| per tensor (see the README, "ε and the guards"). */
export const DEFAULT_EPSILON_REL = 1e-2;
/**
 * Floor of a relative ε (default 1e-8): a tensor whose reference weights are all zero (a zero-initialised
 * bias) would otherwise get ε = 0 and an infinite weight v or log-penalty.
 */
export const DEFAULT_EPSILON_MIN = 1e-8;

/** How ε is chosen: an absolute value for every tensor, or relative to each tensor's mean |w|. */
export type EpsilonRule =
  | { readonly kind: 'absolute'; readonly value: number }
  | { readonly kind: 'relative'; readonly rel: number; readonly min: number };

/** Validates `epsilon` / `epsilonRel` / `epsilonMin` (and the alias `b` for an absolute ε). */
export function epsilonRule(
  what: string,
  options: { epsilon?: number; epsilonRel?: number; epsilonMin?: number; b?: number },
): EpsilonRule {
  const given = (['epsilon', 'epsilonRel', 'b'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) {
    throw new SparsifyConfigError(
      `${what}: options ${given.map((k) => JSON.stringify(k)).join(' and ')} both set ε; give one (b is the hierarchical-prior alias of an absolute epsilon)`,
    );
  }
  const absolute = options.epsilon ?? options.b;
  if (absolute !== undefined) {
    checkPositive(`${what} ${options.b !== undefined ? 'b' : 'epsilon'}`, absolute);
    if (options.epsilonMin !== undefined) {
      throw new SparsifyConfigError(`${what}: option "epsilonMin" only applies to a relative ε (epsilonRel); got an absolute ε too`);
    }
    return { kind: 'absolute', value: absolute };
  }
  const rel = options.epsilonRel ?? DEFAULT_EPSILON_REL;
  const min = options.epsilonMin ?? DEFAULT_EPSILON_MIN;
  checkPositive(`${what} epsilonRel`, rel);
  checkPositive(`${what} epsilonMin`, min);
  return { kind: 'relative', rel, min };
}

/** ε for one tensor of reference weights (detached, not on a tape). Relative: max(rel·mean|ŵ|, min). */
export function epsilonOf(rule: EpsilonRule, reference: tf.Tensor): number {
  if (rule.kind === 'absolute') return rule.value;
  const mean = tf.tidy(() => tf.mean(tf.abs(reference)).dataSync()[0]);
  return Math.max(rule.rel * mean, rule.min);
}

/**
 * A copy of a variable's current values with no link to it on any gradient tape (TF.js has no
 * stop-gradient): read back to the host and uploaded again. The caller disposes it.
 */
export function detached(param: Param): tf.Tensor {
  return tf.tensor(param.variable.dataSync(), param.variable.shape, 'float32');
}

/** Sum of per-tensor scalars. */
export function addAll(terms: tf.Tensor[]): tf.Scalar {
  return (terms.length === 1 ? terms[0] : tf.addN(terms)) as tf.Scalar;
}

/** Linear-interpolation quantiles of an ascending array. */
export function quantilesOfSorted(sorted: ArrayLike<number>, qs: readonly number[]): number[] {
  const n = sorted.length;
  return qs.map((q) => {
    if (n === 0) return NaN;
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  });
}

/** Min, median and max of the values of several tensors (one read-back each). */
export function summary(tensors: readonly tf.Tensor[]): { min: number; median: number; max: number } {
  const total = tensors.reduce((s, t) => s + t.size, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const t of tensors) {
    all.set(t.dataSync(), offset);
    offset += t.size;
  }
  all.sort();
  const [min, median, max] = quantilesOfSorted(all, [0, 0.5, 1]);
  return { min, median, max };
}

/** A tensor as plain JSON data (`getState()`). */
export interface TensorState {
  shape: number[];
  values: number[];
}

/** Reads a tensor back to the host as `{ shape, values }`. */
export function tensorState(tensor: tf.Tensor): TensorState {
  return { shape: tensor.shape.slice(), values: Array.from(tensor.dataSync()) };
}

/**
 * Validates one `{ shape, values }` per bound parameter, each with that parameter's shape and finite
 * values; throws a SparsifyConfigError naming the first bad entry. Creates no tensors.
 */
export function checkTensorStates(what: string, value: unknown, params: readonly Param[]): { shape: number[]; values: Float32Array }[] {
  check(
    Array.isArray(value) && value.length === params.length,
    what,
    Array.isArray(value) ? `an array of length ${value.length}` : value,
    `an array with one {shape, values} per bound parameter (${params.length})`,
  );
  return (value as unknown[]).map((item, i) => {
    const e = item as Partial<TensorState> | null;
    check(
      typeof e === 'object' && e !== null && Array.isArray(e.shape) && Array.isArray(e.values),
      `${what}[${i}]`,
      item,
      '{shape: number[], values: number[]}',
    );
    const shape = e!.shape!;
    const p = params[i];
    if (shape.length !== p.shape.length || shape.some((d, k) => d !== p.shape[k])) {
      throw new SparsifyConfigError(
        `${what}[${i}] has shape [${shape.join(', ')}]; the bound parameter ${p.name} has shape [${p.shape.join(', ')}]`,
      );
    }
    const values = e!.values!;
    check(values.length === p.size, `${what}[${i}].values.length`, values.length, `${p.size} (the size of shape [${shape.join(', ')}])`);
    const bad = values.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
    if (bad >= 0) check(false, `${what}[${i}].values[${bad}]`, values[bad], 'a finite number');
    return { shape: shape.slice(), values: Float32Array.from(values) };
  });
}

/** Validates ε per bound tensor in a state: an array of finite numbers > 0, one per parameter. */
export function checkEpsilonState(what: string, value: unknown, count: number): number[] {
  check(Array.isArray(value) && value.length === count, what, value, `an array of ${count} number(s) > 0, one per bound parameter`);
  (value as unknown[]).forEach((e, i) => checkPositive(`${what}[${i}]`, e));
  return (value as number[]).slice();
}

/** A state must be a plain object; `what` names the penalty. */
export function checkStateObject(what: string, state: unknown): Record<string, unknown> {
  check(typeof state === 'object' && state !== null && !Array.isArray(state), `${what} state`, state, 'an object (from getState())');
  return state as Record<string, unknown>;
}
