import * as tf from '@tensorflow/tfjs';
import { cacheAbsAndSquareSums, groupLayout, groupScale, groupScaleAt, signLinear, signLinearAt, wantsAbsAndSquareSums } from './fused.js';
import { FUSED_WASM } from './fused.wasm.js';
import { loopKernelImplementation, runLoopKernel, type LoopKernel } from './loop-kernels.js';
import { cacheMagnitudeBand, takeMagnitudeBandRequest } from './magnitude-band.js';
import type { PenaltyGradient } from './penalty.js';

interface MomentumAttrs {
  nesterov: boolean;
  /**
   * A penalty's part p of the gradient, g = g₁ + p, from the inputs after [value, acc, g₁, m, c]:
   * 'tensor' [p]; 'scaled' [t, k], p = t·k; 'signLinear' [a, b], p = a·sign(value) + b·value (as
   * signLinear computes it); 'groupScale' [rows, cols], p = value·(rows[i] + cols[o]) (as groupScale
   * computes it; its last axis a multiple of 4); 'none' [].
   */
  addend: AddendKind;
  /** Also output [Σ|value'|, Σvalue'²], computed as `absAndSquareSums` computes them. */
  sums: boolean;
  /**
   * [lo, hi, capacity] (magnitude keys): also output the magnitude band of value' (magnitude-band.ts)
   * as i32 [lo, hi, capacity, #{key < lo}, #{lo ≤ key < hi}, the first `capacity` keys in the band…].
   * Empty: none.
   */
  band: number[];
}

type AddendKind = 'none' | 'tensor' | 'scaled' | 'signLinear' | 'groupScale';

const BAND_HEADER = 5;

/**
 * tfjs's momentum step for one variable (momentum_optimizer.ts) as one pass instead of four tfjs ops:
 * acc' = m·acc + g; value' = c·acc' + value, or c·(g + m·acc') + value with Nesterov (c = −learning
 * rate). Every product and sum is rounded to float32 as tfjs's separate ops round them, so the result
 * is the same, bit for bit. Inputs [value, acc, g, m, c], or with g = g₁ + p (a gradient in two parts,
 * added here as a tfjs Add would) [value, acc, g₁, m, c, …p's inputs] (`MomentumAttrs.addend`).
 */
export const MOMENTUM_UPDATE: LoopKernel<MomentumAttrs> = {
  name: 'SparsifyMomentumUpdate',
  outputShapes: ([value], { sums, band }) => [
    value.slice(),
    value.slice(),
    ...(sums ? [[2]] : []),
    ...(band.length > 0 ? [[BAND_HEADER + band[2]]] : []),
  ],
  run([value, accumulation, gradient, mTensor, cTensor, p1, p2], [newValue, newAccumulation, ...extra], { nesterov, addend: kind, sums: wantSums, band }) {
    const sums = wantSums ? extra[0] : undefined;
    const last = extra[extra.length - 1];
    const bandOut = band.length > 0 ? new Int32Array(last.buffer, last.byteOffset, last.length) : undefined;
    const f = Math.fround;
    const m = mTensor[0];
    const c = cTensor[0];
    let [a1, q1] = [0, 0];
    const penalty = addendFunction(kind, value, p1, p2);
    for (let i = 0; i < value.length; i++) {
      const g = penalty ? f(gradient[i] + penalty(i)) : gradient[i];
      const a = f(f(m * accumulation[i]) + g);
      newAccumulation[i] = a;
      newValue[i] = f(c * (nesterov ? f(g + f(a * m)) : a)) + value[i];
      // The stored (rounded) value, summed as absAndSquareSums sums it.
      const v = newValue[i];
      a1 += Math.abs(v);
      q1 += v * v;
    }
    if (sums) [sums[0], sums[1]] = [a1, q1];
    if (bandOut) collectBand(newValue, band, bandOut);
  },
  composite: ([value, accumulation, gradient1, m, c, p1, p2], { nesterov, addend: kind, sums, band }) => {
    const addend = addendTensor(kind, value, p1, p2);
    const gradient = addend ? tf.add(gradient1, addend) : gradient1;
    const a = tf.add(tf.mul(m, accumulation), gradient);
    const newValue = tf.add(tf.mul(c, nesterov ? tf.add(gradient, tf.mul(a, m)) : a), value);
    const out = [newValue, a];
    if (sums) out.push(tf.stack([tf.sum(tf.abs(newValue)), tf.sum(tf.square(newValue))]));
    if (band.length > 0) {
      // Not on a fast path (applyGradients asks for bands only where loops run): read back.
      const found = new Int32Array(BAND_HEADER + band[2]);
      collectBand(newValue.dataSync() as Float32Array, band, found);
      out.push(tf.tensor(new Float32Array(found.buffer)));
    }
    return out;
  },
  simd: {
    code: FUSED_WASM,
    call: (e, [value, accumulation, gradient, m, c, p1, p2], [newValue, newAccumulation, ...extra], [shape], { nesterov, addend: kind, sums, band }, memory) => {
      const bandOut = band.length > 0 ? extra[extra.length - 1] : 0;
      // The header: the band's bounds and capacity in, the two counts (zeroed) out.
      if (bandOut) new Int32Array(memory.buffer, bandOut, BAND_HEADER).set([...band, 0, 0]);
      const [grad2, k] = kind === 'tensor' ? [p1, 0] : kind === 'scaled' ? [p1, p2] : [0, 0];
      const [a, b] = kind === 'signLinear' ? [p1, p2] : [0, 0];
      const [rows, cols, I, O] = kind === 'groupScale' ? [p1, p2, ...groupLayout(shape).slice(1)] : [0, 0, 0, 0];
      e.momentumUpdate(value, accumulation, gradient, grad2, k, a, b, rows, cols, I, O, m, c, tf.util.sizeFromShape(shape), nesterov ? 1 : 0, newValue, newAccumulation, sums ? extra[0] : 0, bandOut);
    },
  },
};

/** The penalty's part of the gradient as a tensor (tfjs ops and core's loop kernels), or undefined for none. */
function addendTensor(kind: AddendKind, value: tf.Tensor, p1: tf.Tensor, p2: tf.Tensor): tf.Tensor | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    case 'tensor':
      return p1;
    case 'scaled':
      return tf.mul(p1, p2);
    case 'signLinear':
      return signLinear(value, p1, p2);
    case 'groupScale':
      return groupScale(value, p1 as tf.Tensor1D, p2 as tf.Tensor1D);
  }
}

/** p(i), the penalty's part of the gradient at i in the JS loop, rounded to float32 as the tfjs op or signLinear rounds it. */
function addendFunction(kind: AddendKind, value: Float32Array, p1: Float32Array, p2: Float32Array): ((i: number) => number) | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    case 'tensor':
      return (i) => p1[i];
    case 'scaled': {
      const k = p2[0];
      return (i) => Math.fround(p1[i] * k);
    }
    case 'groupScale': {
      const [I, O] = [p1.length, p2.length];
      // value laid out [K, I, O]
      return (i) => groupScaleAt(value[i], p1[Math.floor(i / O) % I], p2[i % O]);
    }
    case 'signLinear': {
      const [a, b] = [p1[0], p2[0]];
      return (i) => signLinearAt(value[i], a, b);
    }
  }
}

/** The band [lo, hi) of `values`' magnitude keys with its header, as momentumUpdate's $magnitudeBand writes it. */
function collectBand(values: Float32Array, [lo, hi, capacity]: number[], out: Int32Array): void {
  const keys = new Int32Array(values.buffer, values.byteOffset, values.length);
  let [below, count] = [0, 0];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] & 0x7fffffff;
    if (key < lo) below++;
    else if (key < hi) {
      if (count < capacity) out[BAND_HEADER + count] = key;
      count++;
    }
  }
  out.set([lo, hi, capacity, below, count]);
}

/** What `tf.MomentumOptimizer.applyGradients` reads and writes (tfjs 4.22). */
interface MomentumInternals {
  accumulations: ({ originalName: string; variable: tf.Variable } | undefined)[];
  m: tf.Tensor;
  c: tf.Tensor;
  useNesterov: boolean;
  incrementIterations(): void;
}

function fusedMomentum(optimizer: tf.Optimizer): MomentumInternals | null {
  // Exactly tfjs's class (a subclass may override the update), with the state its update uses.
  if (Object.getPrototypeOf(optimizer) !== tf.MomentumOptimizer.prototype) return null;
  const o = optimizer as unknown as Partial<MomentumInternals>;
  const ok =
    Array.isArray(o.accumulations) &&
    o.m instanceof tf.Tensor &&
    o.c instanceof tf.Tensor &&
    typeof o.incrementIterations === 'function' &&
    loopKernelImplementation(MOMENTUM_UPDATE) !== 'composite';
  return ok ? (o as MomentumInternals) : null;
}

/**
 * `optimizer.applyGradients(gradients)`, with tfjs's `MomentumOptimizer` (`tf.train.momentum`) done as
 * one pass per variable where loop kernels run (cpu, wasm): the same state (accumulations, iterations,
 * `getWeights()`), the same float32 results, a quarter of the passes over the weights. Any other
 * optimizer (and momentum elsewhere) runs its own `applyGradients`.
 *
 * A variable whose sums a penalty reads (`absAndSquareSums`) gets them computed by the same pass, for
 * the penalty's next step; one whose threshold `kthSmallestMagnitude` tracks, the magnitude band it asked for.
 *
 * `addends`: a second part of some of the gradients (a penalty's, from its own tape or from
 * `Penalty.lossAndGradients`), added to `gradients[name]` in the momentum pass itself where that is
 * fused, else with `tf.add` first. The result is the same as applying the sums.
 */
export function applyGradients(optimizer: tf.Optimizer, gradients: tf.NamedTensorMap, addends: Record<string, tf.Tensor | PenaltyGradient> = {}): void {
  const momentum = fusedMomentum(optimizer);
  if (!momentum) {
    tf.tidy(() => optimizer.applyGradients(sumGradients(gradients, addends)));
    return;
  }
  Object.keys(gradients).forEach((name, i) => {
    const value = tf.engine().registeredVariables[name];
    // Slots are positional and created on first use, as tfjs does.
    momentum.accumulations[i] ??= {
      originalName: `${name}/momentum`,
      variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
    };
    const accumulation = momentum.accumulations[i]!.variable;
    const gradient = gradients[name];
    if (gradient == null) return;
    const addend = addends[name];
    tf.tidy(() => {
      const [kind, addendInputs] = addendParts(addend);
      const inputs = [value, accumulation, gradient, momentum.m, momentum.c, ...addendInputs];
      const sums = wantsAbsAndSquareSums(value);
      const request = takeMagnitudeBandRequest(value);
      const band = request ? [request.lo, request.hi, request.capacity] : [];
      const [newValue, newAccumulation, ...extra] = runLoopKernel(MOMENTUM_UPDATE, inputs, { nesterov: momentum.useNesterov, addend: kind, sums, band });
      if (sums) {
        const [a, q] = extra[0].dataSync();
        cacheAbsAndSquareSums(newValue.dataId, [a, q]);
      }
      if (request) {
        // dataSync's array is the band's alone (a copy, or the freed tensor's own storage): a view of it keeps.
        const found = extra[extra.length - 1].dataSync();
        const header = new Int32Array(found.buffer, found.byteOffset, found.length);
        const [lo, hi, capacity, below, count] = header;
        cacheMagnitudeBand(newValue.dataId, { lo, hi, below, count, keys: header.subarray(BAND_HEADER, BAND_HEADER + Math.min(count, capacity)) });
      }
      accumulation.assign(newAccumulation);
      value.assign(newValue);
    });
  });
  momentum.incrementIterations();
}

/** The momentum kernel's addend kind and inputs for `addend`. */
function addendParts(addend: tf.Tensor | PenaltyGradient | undefined): [AddendKind, tf.Tensor[]] {
  if (!addend) return ['none', []];
  if (addend instanceof tf.Tensor) return ['tensor', [addend]];
  if ('tensor' in addend) return addend.scale ? ['scaled', [addend.tensor, addend.scale]] : ['tensor', [addend.tensor]];
  if ('rows' in addend) {
    // The SIMD loop takes four columns at a time within one row: other widths get the tensor
    // groupScale writes (the same numbers).
    const O = addend.cols.size;
    return O % 4 === 0 ? ['groupScale', [addend.rows, addend.cols]] : ['tensor', [gradientTensor(addend)]];
  }
  return ['signLinear', [addend.a, addend.b]];
}

/**
 * A penalty's gradient as a plain tensor: `scale·tensor` (a tfjs Mul), `a·sign(w) + b·w` (core's
 * `signLinear`) or `w·(rows[i] + cols[o])` (core's `groupScale`), the same numbers the fused momentum
 * update adds.
 */
export function gradientTensor(gradient: PenaltyGradient): tf.Tensor {
  if ('tensor' in gradient) return gradient.scale ? tf.mul(gradient.tensor, gradient.scale) : gradient.tensor;
  if ('rows' in gradient) return groupScale(gradient.variable, gradient.rows, gradient.cols);
  return signLinear(gradient.variable, gradient.a, gradient.b);
}

/** gradients[name] + addends[name] for each name of `gradients` (an addend without a gradient is ignored). */
function sumGradients(gradients: tf.NamedTensorMap, addends: Record<string, tf.Tensor | PenaltyGradient>): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = { ...gradients };
  for (const [name, addend] of Object.entries(addends)) {
    if (out[name]) out[name] = tf.add(out[name], addend instanceof tf.Tensor ? addend : gradientTensor(addend));
  }
  return out;
}
