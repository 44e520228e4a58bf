/**
 * What drives λ (this package's README, "What drives λ"): weights held fixed, only the λ optimizer
 * steps (through core's TrainStep with no model variables), and λ must settle at the closed-form optimum.
 *
 * Time compression: the authors' README regime (ξ = 1e-8, wd = 1e-4, SGD momentum 0.9, lr 0.1, ≈ 80
 * epochs of 782 steps) is run with the same ξ and wd but lr 2, so the same path takes 3 000 steps
 * instead of ≈ 60 000. The steady state does not depend on the learning rate.
 */
import * as tf from '@tensorflow/tfjs';
import { createTrainStep, disposeOptimizer, type Penalty } from '@sparsify/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { halo, sws, type HaloPenalty, type SwsPenalty } from '../src/index.js';
import { frozenWeights, makeParam, useCpu } from './helpers.js';

const W = [1e-4, 1e-3, 1e-2, 5e-2, 0.2]; // the |w| column of the README's steady-state table
const TABLE = [0.012, 0.021, 0.038, 0.056, 0.08]; // its closed-form λ column, rounded
const XI = 1e-8;
const WD = 1e-4;
const STEPS = 3000;
// ψ-only case (no weight decay): λ* = (2ξ|w|/ψ)^(1/3).
const XI_PSI = 5e-5;
const PSI = 1e-4;

/** Least-squares slope of log y against log x. */
function logSlope(x: number[], y: number[]): number {
  const lx = x.map(Math.log);
  const ly = y.map(Math.log);
  const mx = lx.reduce((a, b) => a + b) / lx.length;
  const my = ly.reduce((a, b) => a + b) / ly.length;
  let num = 0;
  let den = 0;
  lx.forEach((v, i) => {
    num += (v - mx) * (ly[i] - my);
    den += (v - mx) ** 2;
  });
  return num / den;
}

let weightDecayed: number[];
let inert: number[];
let psiOnly: number[];
let psiOnlySigns: number[];

beforeAll(async () => {
  await useCpu();
  const p = makeParam(
    W.map((w, i) => (i % 2 ? -w : w)),
    [W.length],
    'other',
  );
  const penalties: HaloPenalty[] = [
    halo({ xi: XI, psi: 0, lambdaWeightDecay: WD }), // weight decay drives λ
    halo({ xi: XI, psi: 1e-8, lambdaWeightDecay: 0 }), // the authors' README ξ = ψ = 1e-8 without weight decay
    halo({ xi: XI_PSI, psi: PSI, lambdaWeightDecay: 0 }), // the ψ prior drives λ
  ];
  penalties.forEach((penalty) => penalty.bind([p]));
  const optimizer = tf.train.momentum(2, 0.9);
  const step = createTrainStep({ ...frozenWeights, optimizer, penalties });
  const x = tf.zeros([1, 1]);
  const before = Array.from(p.variable.dataSync());
  for (let i = 0; i < STEPS; i++) step.run(x, x);
  // The weights were not trained: only λ moved.
  expect(Array.from(p.variable.dataSync())).toEqual(before);
  const read = (penalty: HaloPenalty) => Array.from(penalty.lambdaVariables[0].dataSync());
  weightDecayed = read(penalties[0]).map(Math.abs);
  inert = read(penalties[1]);
  psiOnlySigns = read(penalties[2]).map(Math.sign);
  psiOnly = read(penalties[2]).map(Math.abs);
  if (process.env.HALO_PRINT) console.log(JSON.stringify({ weightDecayed, inert, psiOnly }));
  step.dispose();
  disposeOptimizer(optimizer);
  penalties.forEach((penalty) => penalty.dispose());
  p.variable.dispose();
  x.dispose();
});

describe('HALO λ steady states on fixed weights (this package README: what drives λ)', () => {
  it('weight decay dominating: λ⁴ → 2ξ|w|/wd, reproducing the package README table (ξ = 1e-8, wd = 1e-4)', () => {
    W.forEach((w, i) => {
      const closed = ((2 * XI * w) / WD) ** 0.25;
      expect(Math.abs(weightDecayed[i] / closed - 1), `|w| = ${w}: λ = ${weightDecayed[i]}, closed form ${closed}`).toBeLessThan(5e-3);
      expect(Math.abs(weightDecayed[i] / TABLE[i] - 1), `|w| = ${w}: λ = ${weightDecayed[i]}, table ${TABLE[i]}`).toBeLessThan(0.03);
    });
  });

  it('without weight decay on λ (ξ = ψ = 1e-8) λ barely moves: HALO is inert', () => {
    for (const l of inert) {
      expect(l).toBeLessThanOrEqual(1);
      expect(1 - l).toBeLessThan(2e-3);
    }
    // Same ξ and steps with wd = 1e-4: λ moved by more than 0.9.
    expect(Math.min(...weightDecayed.map((l) => 1 - l))).toBeGreaterThan(0.9);
  });

  it('the profiled penalty is ∝ |w|^(1/2): f* = ξ|w|/λ² + (wd/2)λ² = √(2ξ·wd·|w|)', () => {
    const profiled = W.map((w, i) => (XI * w) / weightDecayed[i] ** 2 + (WD / 2) * weightDecayed[i] ** 2);
    W.forEach((w, i) => expect(profiled[i] / Math.sqrt(2 * XI * WD * w)).toBeCloseTo(1, 4));
    expect(logSlope(W, profiled)).toBeCloseTo(0.5, 3);
  });

  it('small weights end with a larger effective L1 coefficient ξ/λ² than large ones', () => {
    const coefficients = weightDecayed.map((l) => XI / (l * l));
    for (let i = 1; i < W.length; i++) expect(coefficients[i]).toBeLessThan(coefficients[i - 1]);
    // ξ/λ² = √(ξ·wd/(2|w|)): the ratio between |w| = 1e-4 and |w| = 0.2 is √2000 ≈ 44.7.
    expect(coefficients[0] / coefficients[W.length - 1]).toBeCloseTo(Math.sqrt(2000), 0);
    expect(coefficients[2]).toBeCloseTo(7.1e-6, 7); // the table's 7.1e-6 at |w| = 1e-2
  });

  it('ψ prior only (no weight decay): λ* = (2ξ|w|/ψ)^(1/3), profiled penalty ∝ |w|^(1/3)', () => {
    W.forEach((w, i) => {
      const closed = ((2 * XI_PSI * w) / PSI) ** (1 / 3);
      expect(Math.abs(psiOnly[i] / closed - 1), `|w| = ${w}: λ = ${psiOnly[i]}, closed form ${closed}`).toBeLessThan(5e-3);
    });
    expect(psiOnlySigns.every((s) => s === 1)).toBe(true);
    const profiled = W.map((w, i) => (XI_PSI * w) / psiOnly[i] ** 2 + PSI * psiOnly[i]);
    expect(logSlope(W, profiled)).toBeCloseTo(1 / 3, 3);
  });
});

describe('SWS λ steady state on fixed weights', () => {
  const run = (options: { xi: number; psi: number; lambdaWeightDecay: number }) => {
    const a = makeParam([0.3, -0.2, 0, 0.05, -1.2, 0.4], [2, 3]);
    const b = makeParam([0.7, -0.01, 0.25], [3]);
    const penalty: SwsPenalty = sws(options);
    penalty.bind([a, b]);
    const optimizer = tf.train.momentum(0.1, 0.9);
    const step = createTrainStep({ ...frozenWeights, optimizer, penalties: [penalty as Penalty] });
    const x = tf.zeros([1, 1]);
    for (let i = 0; i < 1500; i++) step.run(x, x);
    const lambda = Math.abs(penalty.lambdaVariables[0].dataSync()[0]);
    const l1 = [a, b].reduce((s, p) => s + Array.from(p.variable.dataSync()).reduce((t, v) => t + Math.abs(v), 0), 0);
    if (process.env.HALO_PRINT) console.log(JSON.stringify({ sws: options, lambda, l1 }));
    step.dispose();
    disposeOptimizer(optimizer);
    penalty.dispose();
    [a.variable, b.variable, x].forEach((t) => t.dispose());
    return { lambda, l1 };
  };

  it('profiled over λ: λ*⁴ = ξ·Σ‖W‖₁/ψ, penalty 2·√(ξψ·Σ‖W‖₁)', () => {
    const xi = 2e-4;
    const psi = 1e-2;
    const { lambda, l1 } = run({ xi, psi, lambdaWeightDecay: 0 });
    const closed = ((xi * l1) / psi) ** 0.25;
    expect(Math.abs(lambda / closed - 1)).toBeLessThan(1e-3);
    expect(((xi * l1) / lambda ** 2 + psi * lambda ** 2) / (2 * Math.sqrt(xi * psi * l1))).toBeCloseTo(1, 5);
  });

  it('with weight decay on λ: λ*⁴ = 2ξ·Σ‖W‖₁/(2ψ + wd)', () => {
    const xi = 2e-4;
    const psi = 5e-3;
    const wd = 3e-2;
    const { lambda, l1 } = run({ xi, psi, lambdaWeightDecay: wd });
    expect(Math.abs(lambda / ((2 * xi * l1) / (2 * psi + wd)) ** 0.25 - 1)).toBeLessThan(1e-3);
  });
});

afterAll(() => {
  expect(tf.memory().numTensors).toBe(0);
});
