import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, FUSED_WASM, groupLayout, groupSquareSums, type LoopKernel } from '@sparsify/core';

/**
 * The scalar and group-vector arithmetic between core's full-size passes, as loop kernels: each is one
 * kernel call instead of a dozen tiny tfjs ops (whose per-op cost, not their arithmetic, dominated the
 * penalties' step time). They read a few numbers per tensor or per group, so a JS loop serves every
 * loop backend. Arithmetic in float64; δ floors the denominator, and the gradient is 0 where it is active.
 */

export interface RatioAttrs {
  /** 'hoyer': A/max(√Q, δ); 'hoyerSquare': A²/max(Q, δ). */
  square: boolean;
  delta: number;
}

/**
 * From A = Σ|w| and Q = Σw²: the value, and c0, c1 with ∂value/∂w = c0·sign(w) + c1·w
 * (penalties.md §5.2–5.3):
 * Hoyer, d = max(√Q, δ): value A/d, c0 = 1/d, c1 = −A/d³; Hoyer-Square, d = max(Q, δ): value A²/d,
 * c0 = 2A/d, c1 = −2A²/d². Both c's are 0 where the floor is active (an all-zero tensor).
 */
export const RATIO: LoopKernel<RatioAttrs> = {
  name: 'SparsifyHoyerRatio',
  outputShapes: () => [[], [], []],
  run([sumAbs, sumSquares], [value, c0, c1], { square, delta }) {
    const [A, Q] = [sumAbs[0], sumSquares[0]];
    const D = square ? Q : Math.sqrt(Q);
    const d = Math.max(D, delta);
    const live = D >= delta ? 1 : 0;
    const ratio = A / d;
    value[0] = square ? A * ratio : ratio;
    c0[0] = (square ? 2 * ratio : 1 / d) * live;
    c1[0] = -(square ? 2 * ratio * ratio : ratio / d / d) * live;
  },
  composite: ([A, Q], { square, delta }) => {
    const D = square ? Q : tf.sqrt(Q);
    const d = tf.maximum(D, tf.scalar(delta));
    const live = tf.cast(tf.greaterEqual(D, tf.scalar(delta)), 'float32');
    const ratio = tf.div(A, d);
    const c0 = square ? tf.mul(ratio, tf.scalar(2)) : tf.div(tf.scalar(1), d);
    const c1 = square ? tf.mul(tf.square(ratio), tf.scalar(-2)) : tf.neg(tf.div(tf.div(ratio, d), d));
    return [square ? tf.mul(A, ratio) : ratio, tf.mul(c0, live), tf.mul(c1, live)];
  },
};

/**
 * Hoyer's or Hoyer-Square's whole tape-free step over n tensors as one kernel call: from their sums
 * [A₁, Q₁, …, Aₙ, Qₙ] and upstream dy, the value Σⱼ valueⱼ (float32 sums in order, as `tf.addN` adds)
 * and each tensor's a = dy·c0, b = dy·c1 (rounded as a tfjs Mul rounds them). RATIO per tensor, then
 * 2n Muls and an addN, give the same numbers in 3n + 1 calls, each costing ≈ 10–20 µs in the engine.
 */
export const RATIO_STEP: LoopKernel<RatioAttrs> = {
  name: 'SparsifyHoyerRatioStep',
  outputShapes: (shapes) => shapes.map(() => []),
  run(inputs, [value, ...ab], attrs) {
    const n = (inputs.length - 1) / 2;
    const dy = inputs[2 * n][0];
    const [v, c0, c1] = [new Float32Array(1), new Float32Array(1), new Float32Array(1)];
    let total = 0;
    for (let j = 0; j < n; j++) {
      RATIO.run([inputs[2 * j], inputs[2 * j + 1]], [v, c0, c1], attrs);
      total = j === 0 ? v[0] : Math.fround(total + v[0]);
      // float32 × float32 is exact in float64: storing rounds once, as a float32 Mul does
      ab[2 * j][0] = dy * c0[0];
      ab[2 * j + 1][0] = dy * c1[0];
    }
    value[0] = total;
  },
  composite: (inputs, attrs) => {
    const n = (inputs.length - 1) / 2;
    const dy = inputs[2 * n];
    const parts = Array.from({ length: n }, (_, j) => RATIO.composite([inputs[2 * j], inputs[2 * j + 1]], attrs));
    const values = parts.map(([value]) => value);
    return [values.length === 1 ? values[0] : tf.addN(values), ...parts.flatMap(([, c0, c1]) => [tf.mul(dy, c0), tf.mul(dy, c1)])];
  },
};

export interface GroupAttrs {
  /** ρ of the input and output groupings (0 leaves one out). */
  rhoIn: number;
  rhoOut: number;
  delta: number;
}

/**
 * From the group sums of squares (core's `groupSquareSums`): the norms n = √(sum), the value
 * N/d with S_G = Σ n_G, N = ρ_in·S_in² + ρ_out·S_out², d = max(Q, δ), Q = Σ rows, and
 * `stats` = [N, d, live, S_in, S_out] for the gradient.
 */
export const GROUP_FORWARD: LoopKernel<GroupAttrs> = {
  name: 'SparsifyGroupHoyerSquareForward',
  outputShapes: ([rows, cols]) => [[], rows.slice(), cols.slice(), [5]],
  run([rows, cols], [value, nIn, nOut, stats], { rhoIn, rhoOut, delta }) {
    let Q = 0;
    let sIn = 0;
    let sOut = 0;
    for (let i = 0; i < rows.length; i++) {
      Q += rows[i];
      sIn += (nIn[i] = Math.sqrt(rows[i]));
    }
    for (let o = 0; o < cols.length; o++) sOut += (nOut[o] = Math.sqrt(cols[o]));
    const N = rhoIn * sIn * sIn + rhoOut * sOut * sOut;
    const d = Math.max(Q, delta);
    value[0] = N / d;
    stats.set([N, d, Q >= delta ? 1 : 0, sIn, sOut]);
  },
  composite: ([rows, cols], { rhoIn, rhoOut, delta }) => {
    const [nIn, nOut] = [tf.sqrt(rows), tf.sqrt(cols)];
    const [sIn, sOut] = [tf.sum(nIn), tf.sum(nOut)];
    const N = tf.add(tf.mul(tf.square(sIn), tf.scalar(rhoIn)), tf.mul(tf.square(sOut), tf.scalar(rhoOut)));
    const Q = tf.sum(rows);
    const d = tf.maximum(Q, tf.scalar(delta));
    const live = tf.cast(tf.greaterEqual(Q, tf.scalar(delta)), 'float32');
    return [tf.div(N, d), nIn, nOut, tf.stack([N, d, live, sIn, sOut])];
  },
};

/**
 * The per-group factors of ∂value/∂w = w·(rows[i] + cols[o]) for upstream dy (core's `groupScale`):
 * rows[i] = dy·live·[(2ρ_in·S_in/d)/n_in,i − 2N/d²], cols[o] = dy·live·(2ρ_out·S_out/d)/n_out,o, with 1/n
 * taken as 0 for an all-zero group.
 */
export const GROUP_FACTORS: LoopKernel<GroupAttrs> = {
  name: 'SparsifyGroupHoyerSquareFactors',
  outputShapes: ([nIn, nOut]) => [nIn.slice(), nOut.slice()],
  run([nIn, nOut, stats, dy], [rows, cols], { rhoIn, rhoOut }) {
    const [N, d, live, sIn, sOut] = stats;
    const scale = dy[0] * live;
    const offset = (2 * N) / d / d;
    const a = (2 * rhoIn * sIn) / d;
    const b = (2 * rhoOut * sOut) / d;
    for (let i = 0; i < nIn.length; i++) rows[i] = ((nIn[i] > 0 ? a / nIn[i] : 0) - offset) * scale;
    for (let o = 0; o < nOut.length; o++) cols[o] = (nOut[o] > 0 ? b / nOut[o] : 0) * scale;
  },
  composite: ([nIn, nOut, stats, dy], { rhoIn, rhoOut }) => {
    const [N, d, live, sIn, sOut] = tf.unstack(stats);
    const scale = tf.mul(dy, live);
    const offset = tf.div(tf.div(tf.mul(N, tf.scalar(2)), d), d);
    const factor = (s: tf.Tensor, n: tf.Tensor, rho: number) => tf.divNoNan(tf.div(tf.mul(s, tf.scalar(2 * rho)), d), n);
    return [tf.mul(tf.sub(factor(sIn, nIn, rhoIn), offset), scale), tf.mul(factor(sOut, nOut, rhoOut), scale)];
  },
};

/**
 * From a kernel's group sums of squares (overwritten with the gradient's factors) and upstream dy:
 * the kernel's value. GROUP_FORWARD, then GROUP_FACTORS, on host arrays.
 */
function valueAndFactors(rows: Float32Array, cols: Float32Array, dy: number, attrs: GroupAttrs): number {
  const [value, nIn, nOut, stats] = [new Float32Array(1), new Float32Array(rows.length), new Float32Array(cols.length), new Float32Array(5)];
  GROUP_FORWARD.run([rows, cols], [value, nIn, nOut, stats], attrs);
  GROUP_FACTORS.run([nIn, nOut, stats, Float32Array.of(dy)], [rows, cols], attrs);
  return value[0];
}

export interface GroupStepAttrs extends GroupAttrs {
  /** [I₁, O₁, I₂, O₂, …]: each kernel's input and output group counts. */
  layouts: number[];
}

/**
 * Group-Hoyer-Square's whole tape-free step over kernels x₁…xₙ (input and output axes last) and upstream
 * dy, as one kernel call: the value Σⱼ valueⱼ (float32 sums in order, as `tf.addN` adds), and for each
 * kernel the factors [rowsⱼ, colsⱼ] of its gradient xⱼ·(rows[i] + cols[o]), which the fused momentum
 * update applies in its own pass (core's `PenaltyGradient`). The same passes and arithmetic as
 * `groupSquareSums`, GROUP_FORWARD and GROUP_FACTORS called one by one, so the same numbers; but one
 * call instead of 3n and an addN, whose cost in the tfjs engine was about that of the small kernels'
 * work. Outputs: [value, rows₁, cols₁, rows₂, cols₂, …], each pair holding the group sums on the way.
 */
export const GROUP_STEP: LoopKernel<GroupStepAttrs> = {
  name: 'SparsifyGroupHoyerSquareStep',
  outputShapes: (_shapes, { layouts }) => [[], ...layouts.map((count) => [count])],
  run(inputs, [value, ...factors], attrs) {
    const n = inputs.length - 1;
    const dy = inputs[n][0];
    let total = 0;
    for (let j = 0; j < n; j++) {
      const [rows, cols] = [factors[2 * j], factors[2 * j + 1]];
      FUSED_KERNELS.groupSquareSums.run([inputs[j]], [rows, cols], {});
      const v = valueAndFactors(rows, cols, dy, attrs);
      total = j === 0 ? v : Math.fround(total + v);
    }
    value[0] = total;
  },
  composite: (inputs, attrs) => {
    const [xs, dy] = [inputs.slice(0, -1), inputs[inputs.length - 1]];
    const parts = xs.map((x) => {
      const [value, nIn, nOut, stats] = GROUP_FORWARD.composite(groupSquareSums(x), attrs);
      return { value, factors: GROUP_FACTORS.composite([nIn, nOut, stats, dy], attrs) };
    });
    const values = parts.map((p) => p.value);
    return [values.length === 1 ? values[0] : tf.addN(values), ...parts.flatMap((p) => p.factors)];
  },
  simd: {
    code: FUSED_WASM,
    call: (e, inputs, [value, ...factors], shapes, attrs, memory) => {
      const n = inputs.length - 1;
      const dy = new Float32Array(memory.buffer, inputs[n], 1)[0];
      let total = 0;
      for (let j = 0; j < n; j++) {
        const [K, I, O] = groupLayout(shapes[j]);
        const [rows, cols] = [factors[2 * j], factors[2 * j + 1]];
        e.groupSquareSums(inputs[j], K, I, O, rows, cols);
        const v = valueAndFactors(new Float32Array(memory.buffer, rows, I), new Float32Array(memory.buffer, cols, O), dy, attrs);
        total = j === 0 ? v : Math.fround(total + v);
      }
      new Float32Array(memory.buffer, value, 1)[0] = total;
    },
  },
};
