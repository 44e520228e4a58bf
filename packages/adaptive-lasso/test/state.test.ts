import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, type Param, type Penalty, type PenaltyState, type TrainingContext } from '@sparsify/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adaptiveLasso, logPenalty, reweightedL1 } from '../src/index.js';
import { gradsOf, makeParam, useCpu, values } from './helpers.js';

beforeAll(useCpu);

const live: { dispose(): void }[] = [];
afterEach(() => {
  while (live.length) live.pop()!.dispose();
});

function params(): Param[] {
  const ps = [makeParam(values(12, 1, 0.05, 1, 2), [3, 4]), makeParam(values(5, 2, 0.05, 1), [5])];
  for (const p of ps) live.push(p.variable);
  return ps;
}

/** Moves the weights so that anything re-estimated from them differs from the saved state. */
function perturb(ps: readonly Param[], seed: number): void {
  ps.forEach((p, i) => tf.tidy(() => p.variable.assign(tf.add(p.variable, tf.tensor(values(p.size, seed + i, 0.1, 0.5), [...p.shape])))));
}

function lossAndGrads(penalty: Penalty, ps: readonly Param[], ctx: TrainingContext): { value: number; grads: Float64Array[] } {
  return gradsOf(
    () => penalty.loss(ctx),
    ps.map((p) => p.variable),
  );
}

function expectClose(a: { value: number; grads: Float64Array[] }, b: { value: number; grads: Float64Array[] }): void {
  expect(Math.abs(a.value - b.value)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b.value)));
  a.grads.forEach((g, i) => g.forEach((x, k) => expect(Math.abs(x - b.grads[i][k])).toBeLessThanOrEqual(1e-6)));
}

function maxDiff(a: { value: number; grads: Float64Array[] }, b: { value: number; grads: Float64Array[] }): number {
  let d = Math.abs(a.value - b.value);
  a.grads.forEach((g, i) => g.forEach((x, k) => (d = Math.max(d, Math.abs(x - b.grads[i][k])))));
  return d;
}

/**
 * `original` is bound to `ps` and has state; the weights are then moved. A fresh penalty from `make` bound
 * to the same params must differ before `setState` (so the check can fail) and match after it.
 */
function roundTrip(make: () => Penalty, original: Penalty, ps: readonly Param[], ctx: TrainingContext): PenaltyState {
  const state = JSON.parse(JSON.stringify(original.getState!())) as PenaltyState;
  perturb(ps, 50);
  const expected = lossAndGrads(original, ps, ctx);
  const fresh = make();
  live.push(fresh);
  fresh.bind(ps);
  const unrestored = lossAndGrads(fresh, ps, ctx);
  expect(maxDiff(unrestored, expected)).toBeGreaterThan(1e-3);
  const afterProbe = tf.memory().numTensors;
  fresh.setState!(state);
  // setState replaces state tensors one for one (the old ones are freed).
  expect(tf.memory().numTensors).toBe(afterProbe);
  expectClose(lossAndGrads(fresh, ps, ctx), expected);
  expect(JSON.parse(JSON.stringify(fresh.getState!()))).toEqual(JSON.parse(JSON.stringify(original.getState!())));
  return state;
}

describe('getState / setState', () => {
  it('adaptiveLasso: resumes the warm-up snapshot exactly (not re-estimated from the current weights)', () => {
    const ps = params();
    const make = () => adaptiveLasso({ strength: 0.3, warmupEpochs: 1, gamma: 1, normalize: true });
    const p = make();
    live.push(p);
    p.bind(ps);
    expect(p.getState!()).toEqual({ v: null, epsilons: [], updates: 0, estimateEpoch: null });
    p.onEpochEnd({ step: 4, epoch: 0 });
    expect(p.estimateEpoch).toBe(0);
    const state = roundTrip(make, p, ps, { step: 5, epoch: 1 });
    expect(state.estimateEpoch).toBe(0);
    expect(state.updates).toBe(1);
    expect((state.v as { shape: number[] }[]).map((v) => v.shape)).toEqual([[3, 4], [5]]);
  });

  it('reweightedL1: resumes v from the last refresh and the ε frozen at bind', () => {
    const ps = params();
    const make = () => reweightedL1({ strength: 0.2, every: 3, a: 1 });
    const p = make();
    live.push(p);
    p.bind(ps);
    perturb(ps, 20);
    p.onStepEnd({ step: 2, epoch: 0 }); // (2 + 1) % 3 === 0: refresh
    expect(p.getState!().updates).toBe(2);
    roundTrip(make, p, ps, { step: 4, epoch: 0 });
  });

  it('logPenalty: resumes the relative ε frozen at bind', () => {
    const ps = params();
    const make = () => logPenalty({ strength: 0.2, epsilonRel: 0.5 });
    const p = make();
    live.push(p);
    p.bind(ps);
    roundTrip(make, p, ps, { step: 0, epoch: 0 });
  });

  it('rejects state that does not fit the bound params, naming the bad shape, and changes nothing', () => {
    const ps = params();
    const p = reweightedL1({ strength: 0.2 });
    live.push(p);
    p.bind(ps);
    const good = JSON.parse(JSON.stringify(p.getState!())) as PenaltyState;
    const v = good.v as { shape: number[]; values: number[] }[];
    const wrong = { ...good, v: [{ shape: [4, 3], values: v[0].values }, v[1]] };
    const count = tf.memory().numTensors;
    expect(() => p.setState!(wrong)).toThrow(SparsifyConfigError);
    expect(() => p.setState!(wrong)).toThrow(/state\.v\[0\] has shape \[4, 3\]; the bound parameter .* has shape \[3, 4\]/);
    expect(() => p.setState!({ ...good, v: [v[0]] })).toThrow(SparsifyConfigError);
    expect(() => p.setState!({ ...good, v: null })).toThrow(SparsifyConfigError);
    expect(() => p.setState!({ ...good, epsilons: [1] })).toThrow(/state\.epsilons/);
    expect(tf.memory().numTensors).toBe(count);
    expect(JSON.parse(JSON.stringify(p.getState!()))).toEqual(good);

    const a = adaptiveLasso({ strength: 0.2 });
    live.push(a);
    a.bind(ps);
    const aState = JSON.parse(JSON.stringify(a.getState!())) as PenaltyState;
    expect(() => a.setState!({ ...aState, v: [(aState.v as unknown[])[0], { shape: [1, 5], values: [1, 1, 1, 1, 1] }] })).toThrow(
      /adaptiveLasso state\.v\[1\] has shape \[1, 5\]; the bound parameter .* has shape \[5\]/,
    );
    expect(() => a.setState!({ ...aState, estimateEpoch: null })).toThrow(/estimateEpoch/);
    expect(() => logPenalty({ strength: 1 }).setState!({ epsilons: [1, 1] })).toThrow(/bind/);
  });

  it('frees what it replaces: tensor count unchanged after dispose', () => {
    const ps = params();
    const start = tf.memory().numTensors;
    for (const make of [() => adaptiveLasso({ strength: 0.1 }), () => reweightedL1({ strength: 0.1 })]) {
      const p = make();
      p.bind(ps);
      const state = JSON.parse(JSON.stringify(p.getState!())) as PenaltyState;
      for (let i = 0; i < 3; i++) p.setState!(state);
      p.dispose();
    }
    const w = adaptiveLasso({ strength: 0.1, warmupEpochs: 2 });
    w.bind(ps);
    w.onEpochEnd({ step: 1, epoch: 1 });
    w.setState!({ v: null, epsilons: [], updates: 0, estimateEpoch: null });
    expect(w.weights).toBeNull();
    w.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
