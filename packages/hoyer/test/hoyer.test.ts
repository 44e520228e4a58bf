import * as tf from '@tensorflow/tfjs';
import {
  createPenalty,
  createTrainStep,
  disposeOptimizer,
  groupAxes,
  penaltyFromConfig,
  registerPlugin,
  SparsifyConfigError,
  type Param,
  describeOptions,
} from '@sparsify/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  groupHoyerSquare,
  groupHoyerSquareTerm,
  hoyer,
  hoyerSquare,
  hoyerSquareTerm,
  hoyerTerm,
  plugin,
  type GroupMode,
} from '../src/index.js';
import { coord, gaussian, gradsOf, makeParam, relErr, useCpu } from './helpers.js';

beforeAll(useCpu);

const live: Param[] = [];
function param(...args: Parameters<typeof makeParam>): Param {
  const p = makeParam(...args);
  live.push(p);
  return p;
}
afterEach(() => {
  for (const p of live.splice(0)) p.variable.dispose();
});

const ctx = { step: 0, epoch: 0 };
const scalarOf = (f: () => tf.Scalar) => tf.tidy(() => f().dataSync()[0]);

// ---- float64 host references (the README's formulas) ----
const l1 = (w: ArrayLike<number>) => Array.from(w).reduce((s, v) => s + Math.abs(v), 0);
const sq = (w: ArrayLike<number>) => Array.from(w).reduce((s, v) => s + v * v, 0);

function hsRef(w: ArrayLike<number>): { value: number; grad: number[] } {
  const A = l1(w);
  const Q = sq(w);
  // ∂HS/∂w = 2·sign(w)·‖w‖₁/‖w‖₂⁴·(‖w‖₂² − |w|·‖w‖₁)
  return { value: (A * A) / Q, grad: Array.from(w, (v) => ((2 * Math.sign(v) * A) / (Q * Q)) * (Q - Math.abs(v) * A)) };
}

function hoyerRef(w: ArrayLike<number>): { value: number; grad: number[] } {
  const A = l1(w);
  const Q = sq(w);
  // ∂H/∂w = sign(w)·(‖W‖₂² − |w|·‖W‖₁)/‖W‖₂³
  return { value: A / Math.sqrt(Q), grad: Array.from(w, (v) => (Math.sign(v) * (Q - Math.abs(v) * A)) / Q ** 1.5) };
}

/** Group norms n_g along `axis` (the axis indexing the groups). */
function groupNorms(w: ArrayLike<number>, shape: number[], axis: number): number[] {
  const sums = new Array(shape[axis]).fill(0);
  for (let i = 0; i < w.length; i++) sums[coord(i, shape, axis)] += w[i] * w[i];
  return sums.map(Math.sqrt);
}

/** Generic Group-HS of one grouping: G = (Σn)²/Σn², ∂G/∂w = 2(Σn)/(Σn²)²·w·(Σn²/n_g − Σn). */
function genericGroupRef(w: ArrayLike<number>, shape: number[], axis: number): { value: number; grad: number[] } {
  const n = groupNorms(w, shape, axis);
  const S = n.reduce((a, b) => a + b, 0);
  const Q = sq(w);
  return {
    value: (S * S) / Q,
    grad: Array.from(w, (v, i) => {
      const ng = n[coord(i, shape, axis)];
      return ng === 0 ? 0 : ((2 * S) / (Q * Q)) * v * (Q / ng - S);
    }),
  };
}

/** R = [(Σn_in)² + ρ(Σn_out)²]/‖W‖₂² and its gradient, from the generic form of each grouping. */
function layerGroupRef(w: ArrayLike<number>, shape: number[], inAxis: number, outAxis: number, rho = 1) {
  const a = genericGroupRef(w, shape, inAxis);
  const b = genericGroupRef(w, shape, outAxis);
  return { value: a.value + rho * b.value, grad: a.grad.map((g, i) => g + rho * b.grad[i]) };
}

describe('Hoyer-Square value', () => {
  it('k equal-magnitude non-zeros give exactly k, whatever their sign and the zeros around them', () => {
    for (const k of [1, 2, 5, 17]) {
      const values = new Float32Array(40);
      for (let i = 0; i < k; i++) values[i * 2] = i % 2 ? -0.37 : 0.37;
      expect(scalarOf(() => hoyerSquareTerm(tf.tensor2d(values, [8, 5])))).toBeCloseTo(k, 4);
      expect(scalarOf(() => hoyerTerm(tf.tensor2d(values, [8, 5])))).toBeCloseTo(Math.sqrt(k), 5);
    }
  });

  it('a one-hot tensor gives 1 (Hoyer and HS)', () => {
    const values = new Float32Array(30);
    values[13] = -4.2;
    expect(scalarOf(() => hoyerSquareTerm(tf.tensor(values, [2, 3, 5])))).toBeCloseTo(1, 6);
    expect(scalarOf(() => hoyerTerm(tf.tensor(values, [2, 3, 5])))).toBeCloseTo(1, 6);
  });

  it('matches the float64 reference on Gaussian weights, and lies in [1, N]', () => {
    const w = gaussian(300, 4);
    const hs = scalarOf(() => hoyerSquareTerm(tf.tensor2d(w, [20, 15])));
    expect(hs / hsRef(w).value - 1).toBeLessThan(1e-5);
    expect(hs).toBeGreaterThan(1);
    expect(hs).toBeLessThan(300);
    // Dense Gaussian weights: HS ≈ (2/π)·N (README, "The math").
    expect(hs / 300).toBeGreaterThan(0.55);
    expect(hs / 300).toBeLessThan(0.72);
    expect(Math.abs(scalarOf(() => hoyerTerm(tf.tensor1d(w))) / hoyerRef(w).value - 1)).toBeLessThan(1e-5);
  });

  it('Hoyer and HS are scale-invariant', () => {
    const w = gaussian(60, 9);
    for (const fn of [hoyerTerm, hoyerSquareTerm]) {
      const base = scalarOf(() => fn(tf.tensor1d(w)));
      for (const k of [1e-4, 0.3, -2, 1e3]) {
        expect(Math.abs(scalarOf(() => fn(tf.mul(tf.tensor1d(w), k))) / base - 1)).toBeLessThan(1e-5);
      }
    }
  });
});

describe('gradients against the closed forms (float64 host references)', () => {
  const shapes: [number[], 'dense' | 'conv2d'][] = [
    [[7, 5], 'dense'],
    [[3, 3, 4, 2], 'conv2d'],
  ];
  for (const [shape, layout] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    it(`HS on a ${layout} kernel: 2·sign(w)·‖w‖₁/‖w‖₂⁴·(‖w‖₂² − |w|·‖w‖₁)`, () => {
      const w = gaussian(size, 11);
      w[3] = 0; // an exact zero: the zero-safe abs gives it gradient 0, as sign(0) = 0
      const p = param(w, shape, layout);
      const penalty = hoyerSquare({ strength: 1 });
      penalty.bind([p]);
      const { value, grads } = gradsOf(() => penalty.loss(ctx), [p]);
      const ref = hsRef(w);
      expect(Math.abs(value / ref.value - 1)).toBeLessThan(1e-5);
      expect(relErr(grads[0], ref.grad)).toBeLessThan(1e-4);
      expect(grads[0][3]).toBe(0);
      penalty.dispose();
    });

    it(`Hoyer on a ${layout} kernel: sign(w)·(‖W‖₂² − |w|·‖W‖₁)/‖W‖₂³`, () => {
      const w = gaussian(size, 12);
      w[0] = 0;
      const p = param(w, shape, layout);
      const penalty = hoyer({ strength: 1 });
      penalty.bind([p]);
      const { value, grads } = gradsOf(() => penalty.loss(ctx), [p]);
      const ref = hoyerRef(w);
      expect(Math.abs(value / ref.value - 1)).toBeLessThan(1e-5);
      expect(relErr(grads[0], ref.grad)).toBeLessThan(1e-4);
      expect(grads[0][0]).toBe(0);
      penalty.dispose();
    });

    for (const [groups, rho] of [
      ['auto', 1],
      ['both', 0.25],
      ['input', 1],
      ['output', 1],
    ] as [GroupMode, number][]) {
      it(`Group-HS (${groups}${rho !== 1 ? `, outputRatio ${rho}` : ''}) on a ${layout} kernel: the generic form per grouping`, () => {
        const w = gaussian(size, 13);
        const p = param(w, shape, layout);
        const axes = groupAxes(p)!;
        const penalty = groupHoyerSquare(rho === 1 ? { strength: 1, groups } : { strength: 1, groups, outputRatio: rho });
        penalty.bind([p]);
        const { value, grads } = gradsOf(() => penalty.loss(ctx), [p]);
        const ref =
          groups === 'input'
            ? genericGroupRef(w, shape, axes.inputAxis)
            : groups === 'output'
              ? genericGroupRef(w, shape, axes.outputAxis)
              : layerGroupRef(w, shape, axes.inputAxis, axes.outputAxis, rho);
        expect(Math.abs(value / ref.value - 1)).toBeLessThan(1e-5);
        expect(relErr(grads[0], ref.grad)).toBeLessThan(1e-4);
        penalty.dispose();
      });
    }
  }

  it('the strength multiplies value and gradient; terms of several tensors are summed', () => {
    const w1 = gaussian(12, 21);
    const w2 = gaussian(6, 22);
    const p1 = param(w1, [4, 3], 'dense');
    const p2 = param(w2, [6], 'vector', 'bias');
    const penalty = hoyerSquare({ strength: 0.01 });
    penalty.bind([p1, p2]);
    const { value, grads } = gradsOf(() => penalty.loss(ctx), [p1, p2]);
    expect(Math.abs(value / (0.01 * (hsRef(w1).value + hsRef(w2).value)) - 1)).toBeLessThan(1e-5);
    expect(
      relErr(
        grads[0],
        hsRef(w1).grad.map((g) => 0.01 * g),
      ),
    ).toBeLessThan(1e-4);
    expect(
      relErr(
        grads[1],
        hsRef(w2).grad.map((g) => 0.01 * g),
      ),
    ).toBeLessThan(1e-4);
    penalty.dispose();
  });
});

describe('the induced trimming threshold |w| = ‖W‖₂²/‖W‖₁', () => {
  it('HS and Hoyer gradients flip sign there: descent shrinks smaller weights and grows larger ones', () => {
    // w = [3, −1, 2.5]: ‖W‖₂² = 16.25, ‖W‖₁ = 6.5, threshold 2.5 exactly (all exact in float32).
    const w = [3, -1, 2.5];
    const p = param(w, [3], 'vector');
    for (const fn of [hoyerSquareTerm, hoyerTerm]) {
      const { grads } = gradsOf(() => fn(p.variable), [p]);
      const g = grads[0];
      expect(g[0] * w[0]).toBeLessThan(0); // |w| > threshold: −g points away from 0
      expect(g[1] * w[1]).toBeGreaterThan(0); // |w| < threshold: −g points toward 0
      expect(Math.abs(g[2])).toBeLessThan(1e-7); // at the threshold
    }
  });

  it('on random weights, every non-zero moves toward 0 under descent iff |w| < ‖W‖₂²/‖W‖₁', () => {
    const w = gaussian(200, 31);
    const threshold = sq(w) / l1(w);
    const p = param(w, [20, 10], 'dense');
    const { grads } = gradsOf(() => hoyerSquareTerm(p.variable), [p]);
    let below = 0;
    let above = 0;
    w.forEach((v, i) => {
      if (Math.abs(Math.abs(v) - threshold) < 1e-4) return;
      if (Math.abs(v) < threshold) {
        below++;
        expect(grads[0][i] * v).toBeGreaterThan(0);
      } else {
        above++;
        expect(grads[0][i] * v).toBeLessThan(0);
      }
    });
    expect(below).toBeGreaterThan(20);
    expect(above).toBeGreaterThan(20);
  });
});

describe('Group-HS structure', () => {
  it('groups of size 1 give Hoyer-Square', () => {
    const w = gaussian(9, 41);
    const hs = hsRef(w).value;
    const cases: [number[], 'dense' | 'conv2d', GroupMode][] = [
      [[9, 1], 'dense', 'input'], // one output neuron: each input group is one weight
      [[1, 9], 'dense', 'output'],
      [[1, 1, 9, 1], 'conv2d', 'input'],
      [[1, 1, 1, 9], 'conv2d', 'output'],
    ];
    for (const [shape, layout, groups] of cases) {
      const p = param(w, shape, layout);
      const v = scalarOf(() => groupHoyerSquareTerm(p.variable, groupAxes(p), groups));
      expect(Math.abs(v / hs - 1), `${layout} ${shape} ${groups}`).toBeLessThan(1e-6);
    }
    // Both groupings on [9, 1]: HS from the inputs + 1 from the single output group.
    const p = param(w, [9, 1], 'dense');
    expect(scalarOf(() => groupHoyerSquareTerm(p.variable, groupAxes(p), 'both'))).toBeCloseTo(hs + 1, 4);
  });

  it('a kernel whose only non-zeros form one (input, output) slice gives 2, the minimum', () => {
    const dense = new Float32Array(6 * 4);
    dense[2 * 4 + 3] = -0.8;
    const conv = new Float32Array(3 * 3 * 5 * 4);
    const sh = [3, 3, 5, 4];
    const slice = gaussian(9, 43);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) conv[((y * 3 + x) * 5 + 1) * 4 + 2] = slice[y * 3 + x];
    const pd = param(dense, [6, 4], 'dense');
    const pc = param(conv, sh, 'conv2d');
    const penalty = groupHoyerSquare({ strength: 1 });
    penalty.bind([pd]);
    expect(scalarOf(() => penalty.loss(ctx))).toBeCloseTo(2, 5);
    penalty.dispose();
    expect(scalarOf(() => groupHoyerSquareTerm(pc.variable, groupAxes(pc), 'both'))).toBeCloseTo(2, 5);
    // Any other kernel gives more than 2.
    const pr = param(
      gaussian(
        sh.reduce((a, b) => a * b),
        44,
      ),
      sh,
      'conv2d',
    );
    expect(scalarOf(() => groupHoyerSquareTerm(pr.variable, groupAxes(pr), 'both'))).toBeGreaterThan(2);
  });

  it('uses input groups (one per input feature/channel) and output groups (one per neuron/filter) of TF.js layouts', () => {
    // Dense [in=3, out=2]: zeroing a whole input row removes one input group.
    const w = [1, 2, 0, 0, 3, 4];
    const p = param(w, [3, 2], 'dense');
    const nIn = [Math.sqrt(5), 0, 5];
    const nOut = [Math.sqrt(10), Math.sqrt(20)];
    const expected = ((nIn[0] + nIn[1] + nIn[2]) ** 2 + (nOut[0] + nOut[1]) ** 2) / 30;
    expect(scalarOf(() => groupHoyerSquareTerm(p.variable, groupAxes(p), 'both'))).toBeCloseTo(expected, 5);
  });

  it('biases fall back to Hoyer-Square in every mode; kernels without groups only with "auto"', () => {
    const b = gaussian(7, 51);
    const pb = param(b, [7], 'vector', 'bias');
    for (const groups of ['auto', 'both', 'input', 'output'] as GroupMode[]) {
      const penalty = groupHoyerSquare({ strength: 1, groups });
      penalty.bind([pb]);
      expect(Math.abs(scalarOf(() => penalty.loss(ctx)) / hsRef(b).value - 1)).toBeLessThan(1e-6);
      penalty.dispose();
    }
    const dw = gaussian(3 * 3 * 2 * 1, 52);
    const pdw = param(dw, [3, 3, 2, 1], 'depthwiseConv2d');
    const auto = groupHoyerSquare({ strength: 1 });
    auto.bind([pdw]);
    expect(auto.groupAxesOf()).toEqual([null]);
    expect(Math.abs(scalarOf(() => auto.loss(ctx)) / hsRef(dw).value - 1)).toBeLessThan(1e-6);
    auto.dispose();
    const strict = groupHoyerSquare({ strength: 1, groups: 'both' });
    expect(() => strict.bind([pdw])).toThrow(/has no input\/output groups, so groups "both" cannot apply/);
    strict.dispose();
  });
});

describe('zeros', () => {
  it('an all-zero layer gives 0 and a finite (zero) gradient for every penalty', () => {
    const dense = param(new Float32Array(12), [4, 3], 'dense');
    const conv = param(new Float32Array(3 * 3 * 2 * 2), [3, 3, 2, 2], 'conv2d');
    const bias = param(new Float32Array(3), [3], 'vector', 'bias');
    for (const make of [
      () => hoyer({ strength: 1 }),
      () => hoyerSquare({ strength: 1 }),
      () => groupHoyerSquare({ strength: 1 }),
      () => groupHoyerSquare({ strength: 1, groups: 'input' }),
    ]) {
      const penalty = make();
      penalty.bind([dense, conv, bias]);
      const { value, grads } = gradsOf(() => penalty.loss(ctx), [dense, conv, bias]);
      expect(value, penalty.name).toBe(0);
      for (const g of grads) for (const v of g) expect(v, penalty.name).toBe(0);
      penalty.dispose();
    }
  });

  it('an all-zero group inside a live kernel: finite gradient, 0 on that group, the generic form elsewhere', () => {
    const shape = [5, 4];
    const w = gaussian(20, 61);
    for (let o = 0; o < 4; o++) w[2 * 4 + o] = 0; // input feature 2 is dead
    const p = param(w, shape, 'dense');
    const { grads } = gradsOf(() => groupHoyerSquareTerm(p.variable, groupAxes(p), 'both'), [p]);
    for (const v of grads[0]) expect(Number.isFinite(v)).toBe(true);
    for (let o = 0; o < 4; o++) expect(grads[0][2 * 4 + o]).toBe(0);
    expect(relErr(grads[0], layerGroupRef(w, shape, 0, 1).grad)).toBeLessThan(1e-4);
  });

  it('exact zeros stay put under training (zero-safe abs): no gradient pushes them off 0', () => {
    const w = gaussian(20, 62);
    for (let i = 0; i < 20; i += 3) w[i] = 0;
    const p = param(w, [5, 4], 'dense');
    for (const make of [() => hoyer({ strength: 1 }), () => hoyerSquare({ strength: 1 }), () => groupHoyerSquare({ strength: 1 })]) {
      const penalty = make();
      penalty.bind([p]);
      const { grads } = gradsOf(() => penalty.loss(ctx), [p]);
      for (let i = 0; i < 20; i += 3) expect(grads[0][i], penalty.name).toBe(0);
      penalty.dispose();
    }
  });
});

describe('options and the registry', () => {
  it('bad options throw SparsifyConfigError naming the value and what is valid', () => {
    expect(() => hoyer({} as never)).toThrow(SparsifyConfigError);
    expect(() => hoyer({} as never)).toThrow(/hoyer: option "strength" is required/);
    expect(() => hoyerSquare({ strength: -1 })).toThrow('hoyerSquare strength must be a finite number ≥ 0; got -1');
    expect(() => hoyerSquare({ strength: 1, groups: 'input' } as never)).toThrow(/unknown option "groups"; valid options: strength/);
    expect(() => groupHoyerSquare({ strength: 1, groups: 'rows' as never })).toThrow(
      'groupHoyerSquare groups must be one of "auto", "input", "output", "both"; got "rows"',
    );
    expect(() => groupHoyerSquare({ strength: 1, outputRatio: -0.5 })).toThrow(
      'groupHoyerSquare outputRatio must be a finite number ≥ 0; got -0.5',
    );
    expect(() => groupHoyerSquare({ strength: 1, groups: 'input', outputRatio: 2 })).toThrow(
      /outputRatio must be left out unless groups is "both" or "auto" \(groups is "input"\); got 2/,
    );
    expect(() => createPenalty('hoyer-square', { strength: 1, lambda: 2 })).toThrow(SparsifyConfigError);
  });

  it('registers the three names; configs are JSON and round-trip', () => {
    registerPlugin(plugin);
    expect(plugin.penalties.map((d) => d.name)).toEqual(['hoyer', 'hoyer-square', 'group-hoyer-square']);
    for (const d of plugin.penalties) {
      expect(d.package).toBe('@sparsify/hoyer');
      for (const info of Object.values(describeOptions(d.schema))) expect(info.description.length).toBeGreaterThan(10);
    }
    const ghs = createPenalty('group-hoyer-square', { strength: { kind: 'constant', value: 2e-3 }, groups: 'both', outputRatio: 0.5 });
    expect(ghs.getConfig()).toEqual({
      name: 'group-hoyer-square',
      package: '@sparsify/hoyer',
      options: { strength: { kind: 'constant', value: 2e-3 }, groups: 'both', outputRatio: 0.5 },
    });
    expect(groupHoyerSquare({ strength: 1 }).getConfig().options).toEqual({
      strength: { kind: 'constant', value: 1 },
      groups: 'auto',
      outputRatio: 1,
    });
    expect(groupHoyerSquare({ strength: 1, groups: 'output' }).getConfig().options).toEqual({
      strength: { kind: 'constant', value: 1 },
      groups: 'output',
    });
    const hs = hoyerSquare({ strength: 2e-4 });
    const json = JSON.parse(JSON.stringify(hs.getConfig()));
    expect(json).toEqual({ name: 'hoyer-square', package: '@sparsify/hoyer', options: { strength: { kind: 'constant', value: 2e-4 } } });
    expect(penaltyFromConfig(json).getConfig()).toEqual(json);
  });
});

describe('memory', () => {
  it('tf.memory().numTensors is constant over many training steps with all three penalties', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [6, 6, 2],
          filters: 3,
          kernelSize: 3,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
        }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
      ],
    });
    const x = tf.randomNormal([8, 6, 6, 2], 0, 1, 'float32', 3);
    const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
    const penalties = [hoyer({ strength: 1e-3 }), hoyerSquare({ strength: 1e-4 }), groupHoyerSquare({ strength: 1e-3 })];
    const optimizer = tf.train.adam(1e-3);
    const step = createTrainStep({ model, optimizer, penalties, penaltySelection: { biases: true } });
    for (let i = 0; i < 5; i++) step.run(x, y);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) step.run(x, y);
    expect(tf.memory().numTensors).toBe(before);
    step.dispose();
    penalties.forEach((p) => p.dispose());
    disposeOptimizer(optimizer);
    [model, x, y].forEach((d) => d.dispose());
  });
});

describe('Group-HS of a kernel whose group axes are not its last two', () => {
  beforeAll(useCpu);
  it('equals the term of its transpose with the axes last, gradient transposed back', () => {
    // [in, out, k] with input axis 0 and output axis 1, against [k, in, out] with the axes last.
    const w = tf.variable(tf.tensor3d(gaussian(4 * 3 * 2, 31), [4, 3, 2]), true, 'ghs_moved_axes');
    const moved = { input: [1, 2], output: [0, 2], inputAxis: 0, outputAxis: 1 };
    const last = { input: [0, 2], output: [0, 1], inputAxis: 1, outputAxis: 2 };
    const [value, grad] = tf.tidy(() => {
      const { value: v, grads } = tf.variableGrads(() => groupHoyerSquareTerm(w, moved, 'both', 0.5), [w]);
      return [v.dataSync()[0], Array.from(grads[w.name].dataSync())];
    });
    const wt = tf.transpose(w, [2, 0, 1]);
    const [valueT, gradT] = tf.tidy(() => {
      const g = tf.grad((x: tf.Tensor) => groupHoyerSquareTerm(x, last, 'both', 0.5))(wt);
      return [groupHoyerSquareTerm(wt, last, 'both', 0.5).dataSync()[0], Array.from(tf.transpose(g, [1, 2, 0]).dataSync())];
    });
    expect(Math.abs(value / valueT - 1)).toBeLessThan(1e-6);
    expect(relErr(grad, gradT)).toBeLessThan(1e-5);
    tf.dispose([w, wt]);
  });
});
