import * as tf from '@tensorflow/tfjs';
import {
  createPenalty,
  createTrainStep,
  disposeOptimizer,
  penaltyFromConfig,
  registerPlugin,
  SparsifyConfigError,
  type Param,
  type Penalty,
  describeOptions,
} from '@sparsify/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  adaptiveLasso,
  type AdaptiveLassoPenalty,
  DEFAULT_EPSILON_MIN,
  lasso,
  logPenalty,
  plugin,
  reweightedL1,
  type AdaptiveLassoOptions,
} from '../src/index.js';
import { gradsOf, host, makeParam, relErr, useCpu, values } from './helpers.js';

beforeAll(useCpu);

const live: { dispose(): void }[] = [];
function track<T extends { dispose(): void }>(x: T): T {
  live.push(x);
  return x;
}
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

function param(v: ArrayLike<number>, shape: number[]): Param {
  const p = makeParam(v, shape);
  track(p.variable);
  return p;
}
function params(seed: number): Param[] {
  return [param(values(12, seed, 0.01, 1, 2), [3, 4]), param(values(24, seed + 1, 1e-4, 0.5, 3), [2, 2, 2, 3])];
}
const ctx0 = { step: 0, epoch: 0 };
const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);
const meanAbs = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + Math.abs(v), 0) / a.length;
const setValues = (p: Param, v: ArrayLike<number>) => p.variable.assign(tf.tensor(Array.from(v), p.variable.shape));
const lossOf = (penalty: Penalty, ctx = ctx0) => tf.tidy(() => penalty.loss(ctx).dataSync()[0]);

/** Checks value λ·Σ v|w| and gradient λ·v·sign(w) (0 at w = 0) against host float64 v's. */
function expectWeightedL1(penalty: Penalty, ps: Param[], strength: number, v: Float64Array[], ctx = ctx0): void {
  const ws = ps.map((p) => host(p.variable));
  const { value, grads } = gradsOf(
    () => penalty.loss(ctx),
    ps.map((p) => p.variable),
  );
  const expected = strength * ws.reduce((s, w, t) => s + w.reduce((a, x, j) => a + v[t][j] * Math.abs(x), 0), 0);
  expect(Math.abs(value - expected) / expected).toBeLessThan(1e-5);
  ws.forEach((w, t) => {
    expect(
      relErr(
        grads[t],
        w.map((x, j) => strength * v[t][j] * sign(x)),
      ),
    ).toBeLessThan(1e-5);
    w.forEach((x, j) => x === 0 && expect(grads[t][j]).toBe(0));
  });
}

describe('lasso', () => {
  it('value λ·Σ|w|, gradient λ·sign(w) with exactly 0 at w = 0 (TF.js abs would give −λ)', () => {
    const ps = params(1);
    expect(ps.flatMap((p) => Array.from(host(p.variable))).filter((x) => x === 0).length).toBeGreaterThan(0);
    const penalty = track(lasso({ strength: 0.3 }));
    penalty.bind(ps);
    expectWeightedL1(
      penalty,
      ps,
      0.3,
      ps.map((p) => new Float64Array(p.size).fill(1)),
    );
  });

  it('exact zeros stay exactly zero under training with the penalty alone', () => {
    const p = param([0, 0.5, -0.25, 0], [4]);
    const penalty = track(lasso({ strength: 0.1 }));
    penalty.bind([p]);
    const optimizer = tf.train.momentum(0.1, 0.9);
    const step = createTrainStep({ forward: (x) => x, variables: [p.variable], loss: () => tf.scalar(0), optimizer, penalties: [penalty] });
    const x = track(tf.zeros([1, 1]));
    for (let i = 0; i < 5; i++) step.run(x, x);
    const w = host(p.variable);
    expect(w[0]).toBe(0);
    expect(w[3]).toBe(0);
    expect(Math.abs(w[1])).toBeLessThan(0.5);
    step.dispose();
    disposeOptimizer(optimizer);
  });
});

describe('adaptive lasso', () => {
  for (const gamma of [0.5, 1, 2]) {
    it(`γ = ${gamma}: v = (|ŵ| + ε)^(−γ) with ε = 1e-2·mean|ŵ| per tensor, from a snapshot at bind`, () => {
      const ps = params(3);
      const estimate = ps.map((p) => host(p.variable));
      const penalty = track(adaptiveLasso({ strength: 0.01, gamma }));
      penalty.bind(ps);
      const v = estimate.map((e) => e.map((x) => (Math.abs(x) + 1e-2 * meanAbs(e)) ** -gamma));
      expectWeightedL1(penalty, ps, 0.01, v);
      // Training moves w; v stays (no refresh): the gradient uses the snapshot's v.
      ps.forEach((p, i) => setValues(p, values(p.size, 90 + i, 0.01, 1, 1)));
      expectWeightedL1(penalty, ps, 0.01, v);
      expect(penalty.diagnostics(ctx0).epsilon).toEqual(estimate.map((e) => expect.closeTo(1e-2 * meanAbs(e), 9)));
    });
  }

  it('normalize: v ← v/mean(v) per tensor', () => {
    const ps = params(5);
    const penalty = track(adaptiveLasso({ strength: 1, normalize: true, gamma: 2 }));
    penalty.bind(ps);
    for (const v of penalty.weights!) expect(meanAbs(v.dataSync())).toBeCloseTo(1, 5);
  });

  it('the relative ε caps v: an exact-zero or tiny estimate gets v = ε^(−γ), not 1e7', () => {
    const p = param([0, 1e-7, 0.5, -0.5, 1, -1], [6]);
    const penalty = track(adaptiveLasso({ strength: 1 }));
    penalty.bind([p]);
    const eps = 1e-2 * meanAbs(host(p.variable));
    const v = host(penalty.weights![0]);
    expect(v[0]).toBeCloseTo(1 / eps, 1);
    expect(v[1]).toBeCloseTo(1 / (1e-7 + eps), 1);
    expect(Math.max(...v)).toBeLessThanOrEqual(1 / eps + 1e-3);
    expect(1 / eps).toBeLessThan(1000); // vs 1e7 at |ŵ| = 1e-7 without the guard
    // An all-zero tensor (a zero-initialised bias) gets the floor ε = epsilonMin: finite v.
    const zero = param([0, 0, 0], [3]);
    const floored = track(adaptiveLasso({ strength: 1, epsilonMin: 1e-3 }));
    floored.bind([zero]);
    expect(Array.from(floored.weights![0].dataSync())).toEqual([1000, 1000, 1000].map((x) => expect.closeTo(x, 2)));
    expect(DEFAULT_EPSILON_MIN).toBe(1e-8);
  });

  it('warmupEpochs: penalty 0 with no gradient until the end of epoch warmupEpochs − 1, then ŵ is that epoch’s weights', () => {
    const ps = params(7);
    const penalty = track(adaptiveLasso({ strength: 0.5, warmupEpochs: 2 }));
    penalty.bind(ps);
    expect(penalty.weights).toBeNull();
    for (const epoch of [0, 1]) {
      expect(lossOf(penalty, { step: 3, epoch })).toBe(0);
      // Next to a task term Σw (gradient 1 everywhere), the penalty adds no gradient.
      const { grads } = gradsOf(
        () => tf.add(penalty.loss({ step: 3, epoch }), tf.addN(ps.map((p) => tf.sum(p.variable)))) as tf.Scalar,
        ps.map((p) => p.variable),
      );
      expect(grads.every((g) => g.every((x) => x === 1))).toBe(true);
    }
    expect(penalty.diagnostics(ctx0)).toEqual({ active: 0, updates: 0 });
    penalty.onEpochEnd({ step: 10, epoch: 0 });
    expect(penalty.weights).toBeNull();
    // The weights changed during the warm-up: ŵ is taken from the weights at the end of epoch 1.
    ps.forEach((p, i) => setValues(p, values(p.size, 70 + i, 0.05, 2)));
    const estimate = ps.map((p) => host(p.variable));
    penalty.onEpochEnd({ step: 20, epoch: 1 });
    expect(penalty.estimateEpoch).toBe(1);
    const v = estimate.map((e) => e.map((x) => 1 / (Math.abs(x) + 1e-2 * meanAbs(e))));
    expectWeightedL1(penalty, ps, 0.5, v, { step: 21, epoch: 2 });
  });

  it('a run resumed past the warm-up takes ŵ at its first loss, detached: the gradient is exactly λ·v·sign(w)', () => {
    const ps = params(9);
    const penalty = track(adaptiveLasso({ strength: 0.2, warmupEpochs: 2, gamma: 2 }));
    penalty.bind(ps);
    const estimate = ps.map((p) => host(p.variable));
    const v = estimate.map((e) => e.map((x) => (Math.abs(x) + 1e-2 * meanAbs(e)) ** -2));
    // First call at epoch 3, inside the gradient tape: without detaching, ∂v/∂w would leak into the gradient.
    expectWeightedL1(penalty, ps, 0.2, v, { step: 500, epoch: 3 });
    expect(penalty.estimateEpoch).toBe(2);
  });

  it('refreshEvery: ŵ re-estimated from the current weights every K epochs; old v freed', () => {
    const ps = params(11);
    const penalty = track(adaptiveLasso({ strength: 1, refreshEvery: 2 }));
    penalty.bind(ps);
    const first = penalty.weights!.map(host);
    ps.forEach((p, i) => setValues(p, values(p.size, 50 + i, 0.05, 2)));
    const tensors = tf.memory().numTensors;
    penalty.onEpochEnd({ step: 10, epoch: 0 });
    penalty.weights!.forEach((v, i) => expect(Array.from(host(v))).toEqual(Array.from(first[i])));
    penalty.onEpochEnd({ step: 20, epoch: 1 });
    expect(penalty.estimateEpoch).toBe(1);
    const now = ps.map((p) => host(p.variable));
    penalty.weights!.forEach((v, i) =>
      expect(
        relErr(
          host(v),
          now[i].map((x) => 1 / (Math.abs(x) + 1e-2 * meanAbs(now[i]))),
        ),
      ).toBeLessThan(1e-6),
    );
    expect(tf.memory().numTensors).toBe(tensors);
    expect(penalty.diagnostics(ctx0).updates).toBe(2);
  });

  it('a given estimate (tensors, {shape, values} or JSON text) is validated against the bound shapes', () => {
    const ps = params(13);
    const given = ps.map((p, i) => track(tf.tensor(values(p.size, 30 + i, 0.1, 1), p.variable.shape)));
    const penalty = track(adaptiveLasso({ strength: 0.1, estimate: given, gamma: 0.5 }));
    penalty.bind(ps);
    const v = given.map(host).map((e) => e.map((x) => (Math.abs(x) + 1e-2 * meanAbs(e)) ** -0.5));
    expectWeightedL1(penalty, ps, 0.1, v);
    // Round trip through the registry: the config records the estimate as JSON, the rebuilt penalty has the same v.
    registerPlugin(plugin);
    const config = JSON.parse(JSON.stringify(penalty.getConfig()));
    expect(config.options.estimate[1].shape).toEqual([2, 2, 2, 3]);
    const rebuilt = track(penaltyFromConfig(config) as AdaptiveLassoPenalty);
    expect(rebuilt.getConfig()).toEqual(penalty.getConfig());
    const text = track(adaptiveLasso({ strength: 0.1, gamma: 0.5, estimate: JSON.stringify(config.options.estimate) }));
    for (const other of [rebuilt, text]) {
      other.bind(ps);
      other.weights!.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(penalty.weights![i].dataSync())));
    }

    const wrong = track(tf.zeros([3, 4]));
    expect(() => adaptiveLasso({ strength: 1, estimate: [given[0], wrong] }).bind(ps)).toThrow(SparsifyConfigError);
    expect(() => adaptiveLasso({ strength: 1, estimate: [given[0], wrong] }).bind(ps)).toThrow(
      new RegExp(`adaptiveLasso estimate\\[1\\] has shape \\[3, 4\\]; the bound parameter ${ps[1].name} has shape \\[2, 2, 2, 3\\]`),
    );
    expect(() => adaptiveLasso({ strength: 1, estimate: [given[0]] }).bind(ps)).toThrow(
      /adaptiveLasso estimate has 1 tensor\(s\); the penalty is bound to 2 parameter\(s\) \(.*\[3, 4\], .*\[2, 2, 2, 3\]\)/,
    );
    expect(() => adaptiveLasso({ strength: 1, estimate: [{ shape: [2, 2], values: [1, 2, 3] }] })).toThrow(
      /adaptiveLasso estimate\[0\]\.values\.length must be 4 \(the size of shape \[2, 2\]\); got 3/,
    );
    expect(() => adaptiveLasso({ strength: 1, estimate: 'first' })).toThrow(
      /estimate must be "snapshot", or one tensor per bound parameter/,
    );
    expect(() => adaptiveLasso({ strength: 1, estimate: given, warmupEpochs: 2 })).toThrow(
      /warmupEpochs \(2\) applies to estimate "snapshot" only/,
    );
  });
});

describe('reweighted L1 and the log penalty', () => {
  it('v = 1/(|w| + ε) at bind, ε = 1e-2·mean|w| frozen at bind; refreshed from the current weights every K steps', () => {
    const ps = params(15);
    const w0 = ps.map((p) => host(p.variable));
    const eps = w0.map((w) => 1e-2 * meanAbs(w));
    const penalty = track(reweightedL1({ strength: 0.05, every: 3 }));
    penalty.bind(ps);
    expectWeightedL1(
      penalty,
      ps,
      0.05,
      w0.map((w, t) => w.map((x) => 1 / (Math.abs(x) + eps[t]))),
    );
    const optimizer = tf.train.sgd(0.01);
    const step = createTrainStep({
      forward: (x) => x,
      variables: ps.map((p) => p.variable),
      loss: () => tf.scalar(0),
      optimizer,
      penalties: [penalty],
    });
    const x = track(tf.zeros([1, 1]));
    step.run(x, x);
    step.run(x, x);
    expect(penalty.diagnostics(ctx0).updates).toBe(1); // not yet
    step.run(x, x); // the third step: refresh
    const w3 = ps.map((p) => host(p.variable));
    expect(relErr(w3[0], w0[0])).toBeGreaterThan(1e-4);
    expect(penalty.diagnostics(ctx0).updates).toBe(2);
    expect(penalty.diagnostics(ctx0).epsilon).toEqual(eps.map((e) => expect.closeTo(e, 9))); // ε frozen
    expectWeightedL1(
      penalty,
      ps,
      0.05,
      w3.map((w, t) => w.map((x) => 1 / (Math.abs(x) + eps[t]))),
    );
    step.dispose();
    disposeOptimizer(optimizer);
  });

  it('everyEpochs (default 1): refreshed at the end of every K-th epoch', () => {
    const ps = params(17);
    const penalty = track(reweightedL1({ strength: 1, everyEpochs: 2 }));
    penalty.bind(ps);
    penalty.onStepEnd({ step: 0, epoch: 0 });
    penalty.onEpochEnd({ step: 5, epoch: 0 });
    expect(penalty.diagnostics(ctx0).updates).toBe(1);
    penalty.onEpochEnd({ step: 10, epoch: 1 });
    expect(penalty.diagnostics(ctx0).updates).toBe(2);
    expect(reweightedL1({ strength: 1 }).everyEpochs).toBe(1);
  });

  it('hierarchical adaptive lasso aliases: v = (a+1)/(b + |w|); at a refresh the gradient equals the log penalty’s (MM)', () => {
    const ps = params(19);
    const a = 2;
    const b = 0.05;
    const reweighted = track(reweightedL1({ strength: 0.1, a, b }));
    const log = track(logPenalty({ strength: 0.1, a, b }));
    reweighted.bind(ps);
    log.bind(ps);
    const ws = ps.map((p) => host(p.variable));
    expectWeightedL1(
      reweighted,
      ps,
      0.1,
      ws.map((w) => w.map((x) => (a + 1) / (b + Math.abs(x)))),
    );
    const vars = ps.map((p) => p.variable);
    const gr = gradsOf(() => reweighted.loss(ctx0), vars).grads;
    const gl = gradsOf(() => log.loss(ctx0), vars).grads;
    gr.forEach((g, i) => expect(relErr(gl[i], g)).toBeLessThan(1e-5));
  });

  it('log penalty: value λ·Σ log(1 + |w|/ε), gradient λ·sign(w)/(ε + |w|) (0 at w = 0); relative ε frozen at bind', () => {
    const ps = params(21);
    const w0 = ps.map((p) => host(p.variable));
    const eps = w0.map((w) => 0.1 * meanAbs(w));
    const penalty = track(logPenalty({ strength: 0.3, epsilonRel: 0.1 }));
    penalty.bind(ps);
    ps.forEach((p, i) => setValues(p, values(p.size, 60 + i, 0.001, 3, 2)));
    expect(penalty.epsilon).toEqual(eps.map((e) => expect.closeTo(e, 9)));
    const ws = ps.map((p) => host(p.variable));
    const { value, grads } = gradsOf(
      () => penalty.loss(ctx0),
      ps.map((p) => p.variable),
    );
    const expected = 0.3 * ws.reduce((s, w, t) => s + w.reduce((acc, x) => acc + Math.log1p(Math.abs(x) / eps[t]), 0), 0);
    expect(Math.abs(value - expected) / expected).toBeLessThan(1e-5);
    ws.forEach((w, t) => {
      expect(
        relErr(
          grads[t],
          w.map((x) => (0.3 * sign(x)) / (eps[t] + Math.abs(x))),
        ),
      ).toBeLessThan(1e-5);
      w.forEach((x, j) => x === 0 && expect(grads[t][j]).toBe(0));
    });
  });
});

describe('options, configs, plugin', () => {
  it('bad options throw SparsifyConfigError naming the value and what is valid', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => lasso({} as never), /lasso: option "strength" is required/],
      [() => lasso({ strength: -1 }), /strength must be a finite number ≥ 0; got -1/],
      [() => lasso({ strength: 1, proximal: true } as never), /lasso: unknown option "proximal"; valid options: strength/],
      [() => adaptiveLasso({ strength: 1, gamma: 0 }), /adaptiveLasso gamma must be a finite number > 0; got 0/],
      [() => adaptiveLasso({ strength: 1, epsilonRel: -1 }), /adaptiveLasso epsilonRel must be a finite number > 0; got -1/],
      [() => adaptiveLasso({ strength: 1, warmupEpochs: 1.5 }), /adaptiveLasso warmupEpochs must be an integer ≥ 0; got 1.5/],
      [() => adaptiveLasso({ strength: 1, refreshEvery: 0 }), /adaptiveLasso refreshEvery must be an integer ≥ 1; got 0/],
      [
        () => adaptiveLasso({ strength: 1, normalize: 'yes' } as unknown as AdaptiveLassoOptions),
        /normalize must be true or false; got "yes"/,
      ],
      [() => adaptiveLasso({ strength: 1, epsilon: 0.1, epsilonRel: 0.1 }), /options "epsilon" and "epsilonRel" both set ε/],
      [() => reweightedL1({ strength: 1, b: 0.1, epsilon: 0.1 }), /options "epsilon" and "b" both set ε/],
      [() => reweightedL1({ strength: 1, b: 0 }), /reweightedL1 b must be a finite number > 0; got 0/],
      [() => reweightedL1({ strength: 1, a: -1 }), /reweightedL1 a must be a finite number ≥ 0; got -1/],
      [() => reweightedL1({ strength: 1, every: 2, everyEpochs: 1 }), /give "every" \(steps\) or "everyEpochs", not both/],
      [() => reweightedL1({ strength: 1, every: 0 }), /reweightedL1 every must be an integer ≥ 1; got 0/],
      [() => logPenalty({ strength: 1, epsilon: 0.1, epsilonMin: 1e-3 }), /"epsilonMin" only applies to a relative ε/],
      [() => logPenalty({ strength: 1, gamma: 1 } as never), /logPenalty: unknown option "gamma"/],
    ];
    for (const [make, message] of cases) {
      expect(make).toThrow(SparsifyConfigError);
      expect(make).toThrow(message);
    }
  });

  it('getConfig: JSON with defaults filled in, round trip through the registry', () => {
    registerPlugin(plugin);
    const configs = [
      lasso({ strength: 1e-4 }),
      adaptiveLasso({ strength: 1e-5, warmupEpochs: 3, refreshEvery: 2 }),
      reweightedL1({ strength: 1e-5, a: 1, b: 0.01 }),
      reweightedL1({ strength: 1e-5, every: 100, epsilon: 0.001 }),
      logPenalty({ strength: 1e-5 }),
    ].map((p) => p.getConfig());
    expect(configs.map((c) => c.options)).toEqual([
      { strength: { kind: 'constant', value: 1e-4 } },
      {
        strength: { kind: 'constant', value: 1e-5 },
        gamma: 1,
        estimate: 'snapshot',
        epsilonRel: 1e-2,
        epsilonMin: 1e-8,
        normalize: false,
        warmupEpochs: 3,
        refreshEvery: 2,
      },
      { strength: { kind: 'constant', value: 1e-5 }, a: 1, b: 0.01, everyEpochs: 1 },
      { strength: { kind: 'constant', value: 1e-5 }, epsilon: 0.001, every: 100 },
      { strength: { kind: 'constant', value: 1e-5 }, epsilonRel: 1e-2, epsilonMin: 1e-8 },
    ]);
    for (const config of configs) {
      expect(configs.every((c) => c.package === '@sparsify/adaptive-lasso')).toBe(true);
      expect(penaltyFromConfig(JSON.parse(JSON.stringify(config))).getConfig()).toEqual(config);
    }
    expect(() => createPenalty('adaptive-lasso', { strength: 1, estimate: 'snapshot', gama: 1 })).toThrow(/unknown option "gama"/);
  });

  it('the plugin registers lasso, adaptive-lasso, reweighted-l1 and log-penalty with their options', () => {
    expect(plugin.package).toBe('@sparsify/adaptive-lasso');
    expect(plugin.penalties.map((p) => p.name)).toEqual(['lasso', 'adaptive-lasso', 'reweighted-l1', 'log-penalty']);
    const byName = Object.fromEntries(plugin.penalties.map((p) => [p.name, describeOptions(p.schema)]));
    expect(Object.keys(byName.lasso)).toEqual(['strength']);
    expect(byName['adaptive-lasso'].gamma.default).toBe(1);
    expect(byName['adaptive-lasso'].epsilonRel.description).toMatch(/default 0\.01/);
    expect(Object.keys(byName['reweighted-l1'])).toEqual(
      expect.arrayContaining(['a', 'b', 'epsilon', 'epsilonRel', 'every', 'everyEpochs']),
    );
    expect(Object.keys(byName['log-penalty'])).toEqual(expect.arrayContaining(['a', 'b', 'epsilon', 'epsilonRel']));
  });
});

describe('memory', () => {
  it('numTensors is constant over 300 training steps with all four penalties refreshing, and back after dispose', () => {
    const before = tf.memory().numTensors;
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [6], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    const x = tf.randomNormal([16, 6], 0, 1, 'float32', 3);
    const y = tf.tensor1d(
      Array.from({ length: 16 }, (_, i) => i % 3),
      'int32',
    );
    const penalties: Penalty[] = [
      lasso({ strength: 1e-4 }),
      adaptiveLasso({ strength: 1e-4, warmupEpochs: 1, refreshEvery: 1 }),
      reweightedL1({ strength: 1e-4, every: 5 }),
      logPenalty({ strength: 1e-4 }),
    ];
    const optimizer = tf.train.momentum(0.05, 0.9);
    const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties });
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        step.run(x, y);
        if (i % 20 === 19) {
          step.endEpoch();
          penalties.forEach((p) => p.diagnostics?.(step.context));
        }
      }
    };
    run(20); // through the warm-up: the adaptive weights exist from here on
    const warm = tf.memory().numTensors;
    run(300);
    expect(tf.memory().numTensors).toBe(warm);
    step.dispose();
    disposeOptimizer(optimizer);
    penalties.forEach((p) => p.dispose());
    model.dispose();
    x.dispose();
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
