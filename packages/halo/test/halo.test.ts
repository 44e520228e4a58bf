import * as tf from '@tensorflow/tfjs';
import {
  createPenalty,
  createTrainStep,
  disposeOptimizer,
  penaltyFromConfig,
  registerPlugin,
  SparsifyConfigError,
  stepStrength,
  type Param,
  describeOptions,
} from '@sparsify/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIN_LAMBDA, halo, HaloPenalty, plugin, sws, type HaloOptions } from '../src/index.js';
import { frozenWeights, gradsOf, host, makeParam, relErr, useCpu, values } from './helpers.js';

beforeAll(useCpu);

const live: { dispose(): void }[] = [];
function track<T extends { dispose(): void }>(x: T): T {
  live.push(x);
  return x;
}
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

function params(seed: number): Param[] {
  return [
    makeParamTracked(values(12, seed, 0.01, 1, 2), [3, 4]),
    makeParamTracked(values(2 * 2 * 2 * 3, seed + 1, 0.01, 1, 3), [2, 2, 2, 3], 'conv2d'),
  ];
}
function makeParamTracked(v: Float32Array, shape: number[], layout: 'dense' | 'conv2d' = 'dense'): Param {
  const p = makeParam(v, shape, layout);
  track(p.variable);
  return p;
}

const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

describe('HALO value and gradients against the closed forms (float64 host references)', () => {
  const cases: { hyperPrior: 'l1' | 'l2'; budget: number }[] = [
    { hyperPrior: 'l1', budget: 0 },
    { hyperPrior: 'l1', budget: 40 }, // Σ|λ| − p < 0
    { hyperPrior: 'l2', budget: 0 },
    { hyperPrior: 'l2', budget: 40 },
  ];
  for (const { hyperPrior, budget } of cases) {
    it(`hyperPrior ${hyperPrior}, budget ${budget}: ∂w = s·ξ·sign(w)/λ², ∂λ = s·[−2ξ|w|/λ³ + ψ·sign(λ)·R′]`, () => {
      const ps = params(3);
      const xi = 0.3;
      const psi = 0.07;
      const s = 1.7;
      const penalty = track(halo({ xi, psi, strength: s, hyperPrior, budget }));
      penalty.bind(ps);
      // λ's of both signs and spread magnitudes (raw λ, symmetric in sign).
      penalty.lambdaVariables.forEach((l, i) => l.assign(tf.tensor(values(l.size, 40 + i, 0.2, 2), l.shape)));
      const ctx = { step: 0, epoch: 0 };
      const ws = ps.map((p) => host(p.variable));
      const ls = penalty.lambdaVariables.map(host);
      const m2 = DEFAULT_MIN_LAMBDA ** 2;
      let weighted = 0;
      let lambdaL1 = 0;
      ws.forEach((w, t) => w.forEach((v, j) => (weighted += Math.abs(v) / (ls[t][j] ** 2 + m2))));
      ls.forEach((l) => l.forEach((v) => (lambdaL1 += Math.abs(v))));
      const e = lambdaL1 - budget;
      const prior = hyperPrior === 'l1' ? Math.abs(e) : e * e;
      const dPrior = hyperPrior === 'l1' ? sign(e) : 2 * e;
      const expectedValue = s * (xi * weighted + psi * prior);
      const expectedW = ws.map((w, t) => w.map((v, j) => (s * xi * sign(v)) / (ls[t][j] ** 2 + m2)));
      const expectedL = ls.map((l, t) =>
        l.map((v, j) => s * ((-2 * xi * Math.abs(ws[t][j]) * v) / (v * v + m2) ** 2 + psi * sign(v) * dPrior)),
      );
      const variables = [...ps.map((p) => p.variable), ...penalty.trainableVariables()];
      const { value, grads } = gradsOf(() => penalty.loss(ctx), variables);
      expect(Math.abs(value - expectedValue) / expectedValue).toBeLessThan(1e-6);
      expectedW.forEach((g, i) => expect(relErr(grads[i], g)).toBeLessThan(1e-6));
      expectedL.forEach((g, i) => expect(relErr(grads[ps.length + i], g)).toBeLessThan(1e-5));
      // Zero-safe: exact zeros in w get no gradient (TF.js's own abs would give −ξ/λ²).
      ws.forEach((w, t) => w.forEach((v, j) => v === 0 && expect(grads[t][j]).toBe(0)));
      expect(ws.flatMap((w) => Array.from(w)).filter((v) => v === 0).length).toBeGreaterThan(0);
    });
  }

  it('SWS: value s·[ξ·Σ‖W‖₁/λ² + ψλ²], ∂w = s·ξ·sign(w)/λ², ∂λ = s·[−2ξ·Σ‖W‖₁/λ³ + 2ψλ]', () => {
    const ps = params(5);
    const xi = 0.02;
    const psi = 0.3;
    const s = 0.9;
    const penalty = track(sws({ xi, psi, strength: s }));
    penalty.bind(ps);
    expect(penalty.lambdaVariables).toHaveLength(1);
    expect(penalty.lambdaVariables[0].shape).toEqual([]);
    penalty.lambdaVariables[0].assign(tf.scalar(-0.6));
    const ws = ps.map((p) => host(p.variable));
    const S = ws.reduce((sum, w) => sum + w.reduce((a, v) => a + Math.abs(v), 0), 0);
    const l = host(penalty.lambdaVariables[0])[0];
    const d = l * l + DEFAULT_MIN_LAMBDA ** 2;
    const variables = [...ps.map((p) => p.variable), ...penalty.trainableVariables()];
    const { value, grads } = gradsOf(() => penalty.loss({ step: 0, epoch: 0 }), variables);
    expect(Math.abs(value - s * ((xi * S) / d + psi * l * l)) / value).toBeLessThan(1e-6);
    ws.forEach((w, i) =>
      expect(
        relErr(
          grads[i],
          w.map((v) => (s * xi * sign(v)) / d),
        ),
      ).toBeLessThan(1e-6),
    );
    expect(Math.abs(grads[2][0] - s * ((-2 * xi * S * l) / (d * d) + 2 * psi * l)) / Math.abs(grads[2][0])).toBeLessThan(1e-5);
  });

  it('one λ per penalised scalar, shaped like its tensor, initialised to lambdaInit', () => {
    const ps = params(7);
    const penalty = track(halo({ xi: 1, psi: 0, lambdaInit: 0.25 }));
    penalty.bind(ps);
    expect(penalty.lambdaVariables.map((l) => l.shape)).toEqual(ps.map((p) => p.shape));
    for (const l of penalty.lambdaVariables) expect(Array.from(l.dataSync()).every((v) => v === 0.25)).toBe(true);
    expect(penalty.trainableVariables().every((v) => v.trainable)).toBe(true);
  });

  it('ψ can follow a schedule (the reference ψ scheduler ×100 every k epochs is stepStrength)', () => {
    const ps = params(9);
    const psi = stepStrength({ initial: 1e-6, factor: 100, everyEpochs: 2 });
    const penalty = track(halo({ xi: 0, psi }));
    penalty.bind(ps);
    const total = ps.reduce((s, p) => s + p.size, 0); // Σ|λ| with λ = 1
    const at = (epoch: number) => tf.tidy(() => penalty.loss({ step: 0, epoch }).dataSync()[0]);
    expect(at(0) / total).toBeCloseTo(1e-6, 10);
    expect(at(3) / total).toBeCloseTo(1e-4, 8);
    expect(penalty.psiAt({ step: 0, epoch: 4 })).toBeCloseTo(1e-2, 12);
  });
});

describe('the λ guard: λ² + minLambda² (default 1e-6²)', () => {
  it('at λ = 0 the value and every gradient are finite: value s·ξ·Σ|w|/minLambda², ∂λ = 0', () => {
    const [p] = params(11);
    const penalty = track(halo({ xi: 1e-8, psi: 1e-8, strength: 2 }));
    penalty.bind([p]);
    const lambda = penalty.lambdaVariables[0];
    lambda.assign(tf.zerosLike(lambda));
    const { value, grads } = gradsOf(() => penalty.loss({ step: 0, epoch: 0 }), [p.variable, lambda]);
    const l1 = host(p.variable).reduce((s, v) => s + Math.abs(v), 0);
    expect(Number.isFinite(value)).toBe(true);
    expect(value / (2 * 1e-8 * l1 * 1e12)).toBeCloseTo(1, 5);
    expect(grads.every((g) => g.every(Number.isFinite))).toBe(true);
    expect(Array.from(grads[1]).every((g) => g === 0)).toBe(true);
    expect(Math.max(...Array.from(grads[0], Math.abs))).toBeCloseTo(2 * 1e-8 * 1e12, 0);
  });

  it('at λ = 1e-9 (below the guard) the λ-gradient is finite and still points away from 0', () => {
    const [p] = params(12);
    const penalty = track(halo({ xi: 1e-2, psi: 0 }));
    penalty.bind([p]);
    const lambda = penalty.lambdaVariables[0];
    lambda.assign(tf.fill(lambda.shape, 1e-9));
    const { grads } = gradsOf(() => penalty.loss({ step: 0, epoch: 0 }), [lambda]);
    const w = host(p.variable);
    grads[0].forEach((g, j) => {
      expect(Number.isFinite(g)).toBe(true);
      if (w[j] !== 0) expect(g).toBeLessThan(0); // descent increases λ: the barrier survives the guard
    });
  });

  it('a larger minLambda caps the effective L1 coefficient at ξ/minLambda²; a bad one is rejected', () => {
    const [p] = params(13);
    const penalty = track(halo({ xi: 1, psi: 0, minLambda: 0.1 }));
    penalty.bind([p]);
    penalty.lambdaVariables[0].assign(tf.zerosLike(penalty.lambdaVariables[0]));
    const d = penalty.diagnostics({ step: 0, epoch: 0 });
    expect(d.coefficientMax).toBeCloseTo(100, 3);
    expect(() => halo({ xi: 1, psi: 0, minLambda: 0 })).toThrow(/halo minLambda must be a finite number > 0; got 0/);
  });

  it('for |λ| ≥ 1e-3 the guarded value equals the unguarded reference to float32 precision', () => {
    const [p] = params(14);
    const penalty = track(halo({ xi: 0.5, psi: 0 }));
    penalty.bind([p]);
    const lambda = penalty.lambdaVariables[0];
    lambda.assign(tf.tensor(values(lambda.size, 77, 1e-3, 3e-3), lambda.shape));
    const w = host(p.variable);
    const l = host(lambda);
    const reference = 0.5 * w.reduce((s, v, j) => s + Math.abs(v) / (l[j] * l[j]), 0);
    const value = tf.tidy(() => penalty.loss({ step: 0, epoch: 0 }).dataSync()[0]);
    expect(Math.abs(value - reference) / reference).toBeLessThan(2e-6);
  });

  it('training through λ = 0 stays finite (no NonFiniteLossError)', () => {
    const [p] = params(15);
    const penalty = track(halo({ xi: 1e-8, psi: 1e-8, lambdaWeightDecay: 1e-4 }));
    penalty.bind([p]);
    const lambda = penalty.lambdaVariables[0];
    lambda.assign(tf.zerosLike(lambda));
    const optimizer = tf.train.momentum(0.1, 0.9);
    const step = createTrainStep({ ...frozenWeights, optimizer, penalties: [penalty] });
    const x = track(tf.zeros([1, 1]));
    for (let i = 0; i < 20; i++) expect(Number.isFinite(step.run(x, x).loss)).toBe(true);
    expect(Array.from(lambda.dataSync()).every(Number.isFinite)).toBe(true);
    step.dispose();
    disposeOptimizer(optimizer);
  });
});

describe('λ optimizer and weight decay', () => {
  it('variableOptions: lambdaWeightDecay (undefined → the model’s) and the λ optimizer', () => {
    expect(halo({ xi: 1, psi: 1 }).variableOptions).toEqual({ weightDecay: undefined, optimizer: undefined });
    expect(sws({ xi: 1, psi: 1, lambdaWeightDecay: 5e-4 }).variableOptions.weightDecay).toBe(5e-4);
    const own = tf.train.adam(1e-3);
    const penalty = halo({ xi: 1, psi: 1, lambdaOptimizer: own });
    expect(penalty.variableOptions.optimizer).toBe(own);
    penalty.dispose();
    // The caller's optimizer survives the penalty's dispose.
    expect(() => own.getConfig()).not.toThrow();
    disposeOptimizer(own);
  });

  it('default: the training step gives λ a fresh copy of the model optimizer, with the model’s weight decay', () => {
    const [p] = params(16);
    const penalty = track(halo({ xi: 1e-2, psi: 0 }));
    penalty.bind([p]);
    const optimizer = tf.train.momentum(0.05, 0.9);
    const step = createTrainStep({ ...frozenWeights, optimizer, weightDecay: 0.1, penalties: [penalty] });
    const [group] = step.penaltyOptimizers();
    expect(group.optimizer).not.toBe(optimizer);
    expect(group.optimizer.getClassName()).toBe('Momentum');
    expect(group.optimizer.getConfig()).toEqual(optimizer.getConfig());
    // One plain-SGD-equivalent first step: λ ← λ − lr·(∂λ + wd·λ) (momentum buffer starts at 0).
    const w = host(p.variable);
    const x = track(tf.zeros([1, 1]));
    step.run(x, x);
    const l = host(penalty.lambdaVariables[0]);
    w.forEach((v, j) => expect(l[j]).toBeCloseTo(1 - 0.05 * (-2 * 1e-2 * Math.abs(v) + 0.1), 6));
    step.dispose();
    disposeOptimizer(optimizer);
  });

  it('an instance of a custom optimizer class registered with tfjs serialization round-trips as a spec', () => {
    class TestSGD extends tf.SGDOptimizer {
      static override className = 'HaloTestSGD';
    }
    tf.serialization.registerClass(TestSGD);
    const own = new TestSGD(0.25);
    const penalty = halo({ xi: 1, psi: 1, lambdaOptimizer: own });
    const config = penalty.getConfig();
    expect(config.options.lambdaOptimizer).toEqual({ className: 'HaloTestSGD', config: { learningRate: 0.25 } });
    registerPlugin(plugin);
    const rebuilt = penaltyFromConfig(JSON.parse(JSON.stringify(config))) as HaloPenalty;
    const built = rebuilt.variableOptions.optimizer!;
    expect(built).toBeInstanceOf(TestSGD);
    expect(built).not.toBe(own);
    expect(built.getConfig()).toEqual({ learningRate: 0.25 });
    rebuilt.dispose();
    penalty.dispose();
    disposeOptimizer(own);
  });

  it('lambdaOptimizer as a spec is built and owned by the penalty; a bad spec names the valid classes', () => {
    const before = tf.memory().numTensors;
    const penalty = halo({ xi: 1, psi: 1, lambdaOptimizer: { className: 'SGD', config: { learningRate: 0.5 } } });
    const optimizer = penalty.variableOptions.optimizer!;
    expect(optimizer.getClassName()).toBe('SGD');
    expect(optimizer.getConfig()).toEqual({ learningRate: 0.5 });
    expect(penalty.variableOptions.optimizer).toBe(optimizer);
    penalty.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(penalty.variableOptions.optimizer).toBeUndefined();
    expect(
      halo({ xi: 1, psi: 1, lambdaOptimizer: '{"className":"Adam","config":{"learningRate":0.01}}' }).getConfig().options.lambdaOptimizer,
    ).toEqual({
      className: 'Adam',
      config: { learningRate: 0.01 },
    });
    expect(() => halo({ xi: 1, psi: 1, lambdaOptimizer: { className: 'Nope', config: {} } })).toThrow(
      /halo lambdaOptimizer\.className must be one of the tfjs optimizers SGD, Momentum, Adam.*; got "Nope"/,
    );
    expect(() => halo({ xi: 1, psi: 1, lambdaOptimizer: 'sgd' })).toThrow(SparsifyConfigError);
    expect(() => halo({ xi: 1, psi: 1, lambdaOptimizer: { className: 'SGD', config: {} } })).toThrow(
      /halo lambdaOptimizer \(SGD\) learningRate must be given/,
    );
    expect(() => halo({ xi: 1, psi: 1, lambdaOptimizer: { className: 'Adam', config: { lr: 1 } } })).toThrow(
      /config key must be one of learningRate, beta1, beta2, epsilon; got "lr"/,
    );
  });
});

describe('options, config and registry', () => {
  it('bad options throw SparsifyConfigError naming the value and what is valid', () => {
    const bad: [Partial<HaloOptions> & Record<string, unknown>, RegExp][] = [
      [{ psi: 1 }, /halo: option "xi" is required/],
      [{ xi: 1 }, /halo: option "psi" is required/],
      [{ xi: -1, psi: 1 }, /halo xi must be a finite number ≥ 0; got -1/],
      [{ xi: 1, psi: -2 }, /halo psi must be a finite number ≥ 0; got -2/],
      [{ xi: 1, psi: 1, lambdaInit: 0 }, /halo lambdaInit must be a finite number > 0; got 0/],
      [{ xi: 1, psi: 1, budget: -1 }, /halo budget must be a finite number ≥ 0; got -1/],
      [{ xi: 1, psi: 1, hyperPrior: 'l3' as 'l1' }, /halo hyperPrior must be one of "l1", "l2"; got "l3"/],
      [{ xi: 1, psi: 1, lambdaWeightDecay: Number.NaN }, /halo lambdaWeightDecay must be a finite number ≥ 0; got NaN/],
      [{ xi: 1, psi: 1, lambda: 1 }, /halo: unknown option "lambda"; valid options: xi, psi/],
    ];
    for (const [options, message] of bad) {
      expect(() => halo(options as HaloOptions), JSON.stringify(options)).toThrow(SparsifyConfigError);
      expect(() => halo(options as HaloOptions)).toThrow(message);
    }
    expect(() => sws({ xi: 1, psi: 1, budget: 1 } as never)).toThrow(/sws: unknown option "budget"/);
  });

  it('getConfig is JSON with every default filled in, and round-trips through the registry', () => {
    registerPlugin(plugin);
    const penalty = halo({
      xi: 1e-8,
      psi: stepStrength({ initial: 1e-6, factor: 100, everyEpochs: 40 }),
      hyperPrior: 'l2',
      lambdaWeightDecay: 1e-4,
      lambdaOptimizer: tf.train.momentum(0.1, 0.9),
    });
    const config = penalty.getConfig();
    expect(config).toEqual({
      name: 'halo',
      package: '@sparsify/halo',
      options: {
        xi: 1e-8,
        psi: { kind: 'step', initial: 1e-6, factor: 100, everyEpochs: 40 },
        lambdaInit: 1,
        minLambda: 1e-6,
        strength: { kind: 'constant', value: 1 },
        lambdaWeightDecay: 1e-4,
        lambdaOptimizer: { className: 'Momentum', config: { learningRate: 0.1, momentum: 0.9, useNesterov: false } },
        budget: 0,
        hyperPrior: 'l2',
      },
    });
    disposeOptimizer(penalty.variableOptions.optimizer!);
    const rebuilt = penaltyFromConfig(JSON.parse(JSON.stringify(config))) as HaloPenalty;
    expect(rebuilt).toBeInstanceOf(HaloPenalty);
    expect(rebuilt.getConfig()).toEqual(config);
    expect(rebuilt.variableOptions.optimizer!.getConfig()).toEqual({ learningRate: 0.1, momentum: 0.9, useNesterov: false });
    rebuilt.dispose();
    expect(() => createPenalty('halo', { xi: 1, psi: 1, lambdaInitial: 1 })).toThrow(/unknown option "lambdaInitial"/);
    expect(createPenalty('sws', { xi: 1, psi: 1 }).getConfig().options).not.toHaveProperty('lambdaWeightDecay');
  });

  it('the plugin lists both penalties with their options and defaults', () => {
    expect(plugin.package).toBe('@sparsify/halo');
    expect(plugin.penalties.map((p) => p.name)).toEqual(['halo', 'sws']);
    const haloDef = describeOptions(plugin.penalties[0].schema);
    expect(Object.keys(haloDef).sort()).toEqual(
      ['budget', 'hyperPrior', 'lambdaInit', 'lambdaOptimizer', 'lambdaWeightDecay', 'minLambda', 'psi', 'strength', 'xi'].sort(),
    );
    expect(haloDef.hyperPrior.values).toEqual(['l1', 'l2']);
    expect(haloDef.minLambda.default).toBe(DEFAULT_MIN_LAMBDA);
    expect(haloDef.xi.required).toBe(true);
    expect(Object.keys(plugin.penalties[1].schema)).not.toContain('budget');
  });

  it('binding twice, or using an unbound penalty, is an error', () => {
    const ps = params(17);
    const penalty = track(halo({ xi: 1, psi: 1 }));
    expect(() => penalty.loss({ step: 0, epoch: 0 })).toThrow(/bind/);
    expect(() => penalty.diagnostics({ step: 0, epoch: 0 })).toThrow(/bind/);
    penalty.bind(ps);
    expect(() => penalty.bind(ps)).toThrow(/already bound/);
  });
});

describe('diagnostics', () => {
  it('λ quantiles (min, p05, p50, p95, max of |λ|) and effective L1 coefficient s·ξ/λ² quantiles', () => {
    const p = makeParamTracked(new Float32Array(101).fill(0.5), [101, 1]);
    const penalty = track(halo({ xi: 2, psi: 0.5, strength: 3, minLambda: 1e-9 }));
    penalty.bind([p]);
    // |λ| = 0.01·(1..101) with alternating signs: quantiles at known positions.
    const lambdas = Float32Array.from({ length: 101 }, (_, i) => (i % 2 ? -1 : 1) * 0.01 * (i + 1));
    penalty.lambdaVariables[0].assign(tf.tensor(lambdas, [101, 1]));
    const d = penalty.diagnostics({ step: 0, epoch: 0 });
    const l = (k: number) => Math.fround(0.01 * k);
    expect(d.lambdaMin).toBeCloseTo(l(1), 7);
    expect(d.lambdaP05).toBeCloseTo(l(6), 7);
    expect(d.lambdaP50).toBeCloseTo(l(51), 7);
    expect(d.lambdaP95).toBeCloseTo(l(96), 7);
    expect(d.lambdaMax).toBeCloseTo(l(101), 7);
    const c = (k: number) => 6 / (l(k) ** 2 + 1e-18);
    expect(d.coefficientMax as number).toBeCloseTo(c(1), 2);
    expect((d.coefficientP95 as number) / c(6)).toBeCloseTo(1, 6);
    expect((d.coefficientP50 as number) / c(51)).toBeCloseTo(1, 6);
    expect((d.coefficientP05 as number) / c(96)).toBeCloseTo(1, 6);
    expect((d.coefficientMin as number) / c(101)).toBeCloseTo(1, 6);
    expect(d.lambdaL1).toBeCloseTo((0.01 * (101 * 102)) / 2, 3);
    expect(d.psi).toBe(0.5);
  });

  it('SWS reports λ, its coefficient and Σ‖W‖₁', () => {
    const ps = params(19);
    const penalty = track(sws({ xi: 0.2, psi: 0.1, lambdaInit: 0.5 }));
    penalty.bind(ps);
    const d = penalty.diagnostics({ step: 0, epoch: 0 });
    const l1 = ps.reduce((s, p) => s + host(p.variable).reduce((a, v) => a + Math.abs(v), 0), 0);
    expect(d.lambda).toBe(0.5);
    expect(d.coefficient).toBeCloseTo(0.8, 6);
    expect(d.weightL1).toBeCloseTo(l1, 4);
  });
});

describe('variables and memory', () => {
  it('λ variable names are unique across instances (tfjs throws on duplicates) and freed by dispose', () => {
    const ps = params(21);
    const a = halo({ xi: 1, psi: 1 });
    const b = halo({ xi: 1, psi: 1 });
    const c = sws({ xi: 1, psi: 1 });
    a.bind(ps);
    b.bind(ps);
    c.bind(ps);
    const names = [...a.trainableVariables(), ...b.trainableVariables(), ...c.trainableVariables()].map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.every((n) => n in tf.engine().registeredVariables)).toBe(true);
    [a, b, c].forEach((penalty) => penalty.dispose());
    expect(names.some((n) => n in tf.engine().registeredVariables)).toBe(false);
  });

  it('tf.memory().numTensors is constant over 300 training steps (model + λ optimizers, diagnostics) and back after dispose', () => {
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
    const penalties = [
      halo({ xi: 1e-4, psi: 1e-6, hyperPrior: 'l2', budget: 10 }),
      sws({ xi: 1e-4, psi: 1e-3, lambdaOptimizer: { className: 'Adam', config: { learningRate: 1e-3 } } }),
    ];
    const optimizer = tf.train.momentum(0.05, 0.9);
    const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties });
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        step.run(x, y);
        if (i % 50 === 49) {
          step.endEpoch();
          penalties.forEach((p) => p.diagnostics(step.context));
        }
      }
    };
    run(10);
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
