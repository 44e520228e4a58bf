import * as tf from '@tensorflow/tfjs';
import {
  createPenalty,
  createTrainStep,
  disposeOptimizer,
  globalMagnitudeThreshold,
  penaltyFromConfig,
  registerPlugin,
  SparsifyConfigError,
  type Param,
  type TrainingContext,
  describeOptions,
} from '@sparsify/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HYPERSPARSE_C, hyperSparse, plugin, sech2 } from '../src/index.js';
import { gaussian, gradsOf, hyperSparseRef, makeParam, relErr, seeded, useCpu } from './helpers.js';

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

const ctx: TrainingContext = { step: 0, epoch: 0 };
const sech2Host = (x: number) => 1 / Math.cosh(x) ** 2;

function bound(values: Float32Array[], shapes: number[][], kappa: number, strength: number | 'default' = 1) {
  const params = values.map((v, i) => param(v, shapes[i], shapes[i].length === 4 ? 'conv2d' : 'dense'));
  const penalty = hyperSparse(strength === 'default' ? { sparsity: kappa } : { sparsity: kappa, strength });
  penalty.bind(params);
  return { params, penalty };
}

describe('value and gradient', () => {
  it('the value is exactly 0 for every configuration', () => {
    for (const kappa of [0, 0.3, 0.9, 0.99]) {
      const { penalty } = bound(
        [gaussian(300, 1), gaussian(72, 2)],
        [
          [20, 15],
          [3, 3, 2, 4],
        ],
        kappa,
        0.7,
      );
      expect(tf.tidy(() => penalty.loss(ctx).dataSync()[0])).toBe(0);
      const { value } = gradsOf(() => penalty.loss(ctx), penalty.params);
      expect(value).toBe(0);
      penalty.dispose();
    }
  });

  it('the gradient is α·sign(w)·c·sech²(s|w|) with t, s, c over all bound tensors (float64 reference)', () => {
    const w1 = gaussian(400, 3);
    const w2 = gaussian(90, 4, 0.3);
    w1[5] = 0;
    for (const kappa of [0.5, 0.9, 0.98]) {
      const { params, penalty } = bound(
        [w1, w2],
        [
          [20, 20],
          [3, 3, 2, 5],
        ],
        kappa,
        0.25,
      );
      const { grads } = gradsOf(() => penalty.loss(ctx), params);
      const ref = hyperSparseRef([w1, w2], kappa, 0.25);
      expect(relErr([...grads[0], ...grads[1]], [...ref.grads[0], ...ref.grads[1]])).toBeLessThan(1e-4);
      expect(grads[0][5]).toBe(0); // sign(0) = 0
      const d = penalty.diagnostics(ctx);
      expect(d.t).toBe(ref.t); // the same float32 magnitude, found by quickselect
      expect(Math.abs((d.s as number) / ref.s - 1)).toBeLessThan(1e-6);
      expect(Math.abs((d.c as number) / ref.c - 1)).toBeLessThan(1e-5);
      expect(d).toEqual({ alpha: 0.25, t: d.t, s: d.s, c: d.c, kappa });
      penalty.dispose();
    }
  });

  it('matches float64 finite differences of the surrogate A·T/sg(T) − A (t, s, sg(T) frozen at the base point)', () => {
    const w = gaussian(60, 5);
    const { params, penalty } = bound([w], [[6, 10]], 0.8, 0.5);
    const { grads } = gradsOf(() => penalty.loss(ctx), params);
    const ref = hyperSparseRef([w], 0.8, 0.5);
    const base = Array.from(w);
    const numeric = base.map((v, j) => {
      const h = 1e-6 * Math.max(1, Math.abs(v));
      const at = (delta: number) => {
        const x = base.slice();
        x[j] = v + delta;
        return ref.surrogate([x]);
      };
      return (at(h) - at(-h)) / (2 * h);
    });
    expect(relErr(grads[0], numeric)).toBeLessThan(1e-4);
    // The surrogate's value at the base point is 0 too (up to rounding).
    expect(Math.abs(ref.surrogate([base]))).toBeLessThan(1e-12);
    penalty.dispose();
  });

  it('is scale-invariant: scaling all weights by k leaves the gradient unchanged', () => {
    const w = gaussian(500, 6);
    const base = (() => {
      const { params, penalty } = bound([w], [[25, 20]], 0.9);
      const g = gradsOf(() => penalty.loss(ctx), params).grads[0];
      penalty.dispose();
      return g;
    })();
    for (const k of [1e-3, 0.5, 7, 100]) {
      const { params, penalty } = bound([w.map((v) => v * k)], [[25, 20]], 0.9);
      const g = gradsOf(() => penalty.loss(ctx), params).grads[0];
      expect(relErr(g, base), `k = ${k}`).toBeLessThan(1e-5);
      penalty.dispose();
    }
  });

  it('sech² is computed without overflow: 4u/(1+u)², u = e^(−2x)', () => {
    const xs = [0, 0.3, 0.6585, 2, 10, 44, 45, 60, 1e3, 1e30];
    const got = tf.tidy(() => sech2(tf.tensor1d(xs)).dataSync());
    xs.forEach((x, i) => {
      expect(Number.isFinite(got[i])).toBe(true);
      const want = x > 700 ? 0 : sech2Host(x);
      expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(1e-6 * Math.max(want, 1e-30) + 1e-37);
    });
    expect(got[2]).toBeCloseTo(2 / 3, 4); // sech²(atanh(1/√3)) = 2/3
  });
});

describe('c ≥ 1 (L1-like for small weights)', () => {
  it('on Gaussian weights, for κ from 0.5 to 0.998: c ≥ 1, and ≈ 1.03–1.10 for κ ∈ [0.9, 0.998]', () => {
    const w = gaussian(100_000, 7);
    const measured: Record<string, number> = {};
    for (const kappa of [0.5, 0.9, 0.98, 0.995, 0.998]) {
      const { penalty } = bound([w], [[400, 250]], kappa);
      penalty.loss(ctx).dispose();
      const c = penalty.diagnostics(ctx).c as number;
      measured[kappa] = c;
      expect(c).toBeGreaterThanOrEqual(1);
      if (kappa >= 0.9) {
        expect(c).toBeGreaterThan(1.02);
        expect(c).toBeLessThan(1.12);
      }
      penalty.dispose();
    }
    console.log(`c on 100k Gaussian weights by κ: ${JSON.stringify(measured)}`);
  });

  it('on other distributions, including all-equal magnitudes (c = C/tanh C) and many zeros', () => {
    const random = seeded(8);
    const cases: Record<string, Float32Array> = {
      uniform: Float32Array.from({ length: 2000 }, () => random() - 0.5),
      equal: Float32Array.from({ length: 2000 }, (_, i) => (i % 2 ? 0.3 : -0.3)),
      heavy: Float32Array.from({ length: 2000 }, () => (random() - 0.5) / (random() + 1e-3)),
      zeros: Float32Array.from({ length: 2000 }, (_, i) => (i % 3 ? 0 : random() + 0.01)),
    };
    for (const [name, w] of Object.entries(cases)) {
      for (const kappa of [0.2, 0.5, 0.6, 0.9]) {
        const { penalty } = bound([w], [[40, 50]], kappa);
        penalty.loss(ctx).dispose();
        const { c, t } = penalty.diagnostics(ctx) as { c: number; t: number };
        if (t > 0) expect(c, `${name} κ=${kappa}`).toBeGreaterThanOrEqual(1);
        if (name === 'equal') expect(c).toBeCloseTo(HYPERSPARSE_C / Math.tanh(HYPERSPARSE_C), 5);
        penalty.dispose();
      }
    }
  });
});

describe('the ratio table of the README', () => {
  it('the gradient relative to w ≈ 0 is sech²(C·r), r = |w|/t: 1, 0.90, 0.667, 0.25, 0.074, 0.0055', () => {
    // 1000 weights, κ = 0.9, constructed so that t = a(900) = 0.1 exactly, with probes at r·t.
    const t = Math.fround(0.1);
    const random = seeded(9);
    const below = Array.from({ length: 898 }, () => 0.001 + 0.089 * random());
    const above = Array.from({ length: 96 }, () => 0.12 + 0.88 * random());
    const rs = [0, 0.5, 1, 2, 3, 5];
    const probes = rs.map((r) => (r === 0 ? 1e-6 * t : r * t));
    const magnitudes = [...below, probes[0], probes[1], probes[2], ...above, probes[3], probes[4], probes[5]];
    expect(magnitudes.length).toBe(1000);
    const w = Float32Array.from(magnitudes, (m) => (random() < 0.5 ? -m : m));
    const { params, penalty } = bound([w], [[40, 25]], 0.9);
    const { grads } = gradsOf(() => penalty.loss(ctx), params);
    expect(penalty.diagnostics(ctx).t).toBe(t);
    const index = (m: number) => magnitudes.indexOf(m);
    const g0 = Math.abs(grads[0][index(probes[0])]);
    const ratios = probes.map((m) => Math.abs(grads[0][index(m)]) / g0);
    const table = [1, 0.9, 0.667, 0.25, 0.074, 0.0055];
    const tolerance = [0.005, 0.005, 0.0005, 0.005, 0.0005, 0.00005]; // half a unit of the table's last digit
    rs.forEach((r, i) => {
      expect(Math.abs(ratios[i] - sech2Host(HYPERSPARSE_C * r)), `r = ${r}`).toBeLessThan(1e-4);
      expect(Math.abs(ratios[i] - table[i]), `r = ${r}`).toBeLessThan(tolerance[i]);
    });
    console.log(`measured ratios at r = ${rs.join(', ')}: ${ratios.map((x) => x.toPrecision(4)).join(', ')}`);
    penalty.dispose();
  });
});

describe('guards', () => {
  it('t = 0 (more than ⌊κN⌋ exact zeros): the step is skipped, no NaN, zero gradient', () => {
    const w = new Float32Array(1000);
    for (let i = 0; i < 50; i++) w[i * 20] = 0.1 + i * 0.01; // 95% exact zeros, κ = 0.9
    const { params, penalty } = bound([w], [[40, 25]], 0.9);
    const { value, grads } = gradsOf(() => penalty.loss(ctx), params);
    expect(value).toBe(0);
    for (const g of grads[0]) expect(g).toBe(0);
    expect(penalty.diagnostics(ctx)).toEqual({ alpha: 1, t: 0, s: 0, c: 0, kappa: 0.9 });
    penalty.dispose();
  });

  it('many exact zeros below the threshold (t > 0): finite gradient, 0 on the zeros', () => {
    const w = gaussian(1000, 10);
    for (let i = 0; i < 1000; i += 2) w[i] = 0; // 50% zeros, κ = 0.9: t > 0
    const { params, penalty } = bound([w], [[40, 25]], 0.9);
    const { grads } = gradsOf(() => penalty.loss(ctx), params);
    for (let i = 0; i < 1000; i++) {
      expect(Number.isFinite(grads[0][i])).toBe(true);
      if (i % 2 === 0) expect(grads[0][i]).toBe(0);
    }
    expect(relErr(grads[0], hyperSparseRef([w], 0.9).grads[0])).toBeLessThan(1e-4);
    penalty.dispose();
  });

  it('a denormal threshold (0 < t < 1e-12) is clamped: s stays finite, no NaN or Inf', () => {
    const w = new Float32Array(100);
    for (let i = 0; i < 100; i++) w[i] = i < 95 ? 1e-40 * (i + 1) : 0.5;
    const { params, penalty } = bound([w], [[10, 10]], 0.9);
    const { grads } = gradsOf(() => penalty.loss(ctx), params);
    for (const g of grads[0]) expect(Number.isFinite(g)).toBe(true);
    const d = penalty.diagnostics(ctx) as { t: number; s: number; c: number };
    expect(d.t).toBeGreaterThan(0);
    expect(d.s).toBeCloseTo(HYPERSPARSE_C / 1e-12, -3);
    expect(Number.isFinite(d.c)).toBe(true);
    penalty.dispose();
  });

  it('κ = 0: no HyperSparse at all (value 0, no gradient)', () => {
    const w = gaussian(100, 11);
    const { params, penalty } = bound([w], [[10, 10]], 0, 3);
    const { value, grads } = gradsOf(() => penalty.loss(ctx), params);
    expect(value).toBe(0);
    for (const g of grads[0]) expect(g).toBe(0);
    expect(penalty.diagnostics(ctx)).toEqual({ alpha: 3, t: 0, s: 0, c: 0, kappa: 0 });
    penalty.dispose();
  });
});

describe('threshold', () => {
  it('is the global quantile a(⌊κN⌋) over all bound tensors, the same as core’s global magnitude threshold', () => {
    const ws = [gaussian(300, 12), gaussian(54, 13, 3), gaussian(20, 14, 0.01)];
    const shapes = [
      [20, 15],
      [3, 3, 2, 3],
      [4, 5],
    ];
    const { params, penalty } = bound(ws, shapes, 0.7);
    penalty.loss(ctx).dispose();
    const core = globalMagnitudeThreshold(
      params.map((p) => p.variable),
      0.7,
    );
    expect(penalty.diagnostics(ctx).t).toBe(core.value);
    penalty.dispose();
  });

  it('is recomputed every step by default, every k steps with thresholdEvery: k (opt-in)', () => {
    const w = gaussian(100, 15);
    for (const every of [1, 3]) {
      const p = param(w, [10, 10], 'dense');
      const penalty = hyperSparse({ sparsity: 0.5, strength: 1, thresholdEvery: every });
      penalty.bind([p]);
      const ts: number[] = [];
      for (let step = 0; step < 5; step++) {
        penalty.loss({ step, epoch: 0 }).dispose();
        ts.push(penalty.diagnostics({ step, epoch: 0 }).t as number);
        tf.tidy(() => p.variable.assign(tf.mul(p.variable, 2)));
      }
      const t0 = ts[0];
      expect(ts).toEqual(every === 1 ? [t0, 2 * t0, 4 * t0, 8 * t0, 16 * t0] : [t0, t0, t0, 8 * t0, 8 * t0]);
      penalty.dispose();
    }
  });
});

describe('strength, options and the registry', () => {
  it('defaults to the ART schedule α = 5e-6·1.05^epoch; α scales the gradient', () => {
    const w = gaussian(100, 16);
    const { params, penalty } = bound([w], [[10, 10]], 0.9, 'default');
    expect(penalty.getConfig().options.strength).toEqual({ kind: 'exponentialGrowth', initial: 5e-6, rate: 1.05, beginEpoch: 0 });
    const at = { step: 0, epoch: 4 };
    expect(penalty.strengthAt(at)).toBeCloseTo(5e-6 * 1.05 ** 4, 18);
    const { grads } = gradsOf(() => penalty.loss(at), params);
    expect(relErr(grads[0], hyperSparseRef([w], 0.9, 5e-6 * 1.05 ** 4).grads[0])).toBeLessThan(1e-4);
    expect(penalty.diagnostics(at).alpha).toBe(penalty.strengthAt(at));
    penalty.dispose();
  });

  it('bad options throw SparsifyConfigError naming the value and what is valid', () => {
    expect(() => hyperSparse({} as never)).toThrow(SparsifyConfigError);
    expect(() => hyperSparse({} as never)).toThrow(/option "sparsity" is required/);
    expect(() => hyperSparse({ sparsity: 1 })).toThrow('hyperSparse sparsity must be a fraction in [0, 1); got 1');
    expect(() => hyperSparse({ sparsity: 0.9, C: 0 })).toThrow('hyperSparse C must be a finite number > 0; got 0');
    expect(() => hyperSparse({ sparsity: 0.9, thresholdEvery: 0.5 })).toThrow('hyperSparse thresholdEvery must be an integer ≥ 1; got 0.5');
    expect(() => hyperSparse({ sparsity: 0.9, strength: -1 })).toThrow(/strength must be a finite number ≥ 0; got -1/);
    expect(() => hyperSparse({ sparsity: 0.9, kappa: 0.9 } as never)).toThrow(
      /unknown option "kappa"; valid options: sparsity, strength, C, thresholdEvery/,
    );
  });

  it('registers "hypersparse"; the config is JSON with every default and round-trips', () => {
    registerPlugin(plugin);
    const penalty = createPenalty('hypersparse', { sparsity: 0.98 });
    const config = penalty.getConfig();
    expect(config).toEqual({
      name: 'hypersparse',
      package: '@sparsify/hypersparse',
      options: {
        sparsity: 0.98,
        strength: { kind: 'exponentialGrowth', initial: 5e-6, rate: 1.05, beginEpoch: 0 },
        C: 0.6585,
        thresholdEvery: 1,
      },
    });
    expect(penaltyFromConfig(JSON.parse(JSON.stringify(config))).getConfig()).toEqual(config);
    const defaults = Object.fromEntries(Object.entries(describeOptions(plugin.penalties[0].schema)).map(([k, v]) => [k, v.default]));
    expect(defaults).toEqual({ ...config.options, sparsity: undefined });
    expect(describeOptions(plugin.penalties[0].schema).sparsity.required).toBe(true);
  });
});

describe('memory', () => {
  it('tf.memory().numTensors is constant over training steps that also read diagnostics', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
        tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
      ],
    });
    const x = tf.randomNormal([16, 8], 0, 1, 'float32', 3);
    const y = tf.tensor1d(
      Array.from({ length: 16 }, (_, i) => i % 4),
      'int32',
    );
    const penalty = hyperSparse({ sparsity: 0.9, strength: 1e-2 });
    const optimizer = tf.train.momentum(0.05, 0.9);
    const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty] });
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        step.run(x, y);
        penalty.diagnostics(step.context);
      }
    };
    run(3);
    const before = tf.memory().numTensors;
    run(200);
    expect(tf.memory().numTensors).toBe(before);
    const d = penalty.diagnostics(step.context) as Record<string, number>;
    expect(d.c).toBeGreaterThanOrEqual(1);
    step.dispose();
    penalty.dispose();
    disposeOptimizer(optimizer);
    [model, x, y].forEach((t) => t.dispose());
  });
});
