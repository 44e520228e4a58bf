import * as core from '@sparsify/core';
import { SparsifyConfigError } from '@sparsify/core';
import { describe, expect, it } from 'vitest';
import {
  constantSparsity,
  constantStrength,
  exponentialGrowth,
  exponentialWarmup,
  linearWarmup,
  oneShot,
  polynomialDecay,
  pruningScheduleFromConfig,
  stepStrength,
  strengthFromConfig,
  type PruningSchedule,
} from '../src/index.js';

/** tfmot PolynomialDecay, written out independently of the implementation. */
function tfmotPolynomial(step: number, si: number, sf: number, begin: number, end: number, power: number, freq: number) {
  const p = Math.min(1, Math.max(0, (step - begin) / (end - begin)));
  return { shouldPrune: step >= begin && step <= end && (step - begin) % freq === 0, sparsity: sf + (si - sf) * (1 - p) ** power };
}

function pruneSteps(schedule: PruningSchedule, upTo: number): number[] {
  const steps: number[] = [];
  for (let s = 0; s <= upTo; s++) if (schedule(s).shouldPrune) steps.push(s);
  return steps;
}

describe('polynomialDecay (tfmot PolynomialDecay)', () => {
  const schedule = polynomialDecay({ initialSparsity: 0.1, finalSparsity: 0.9, beginStep: 100, endStep: 1100, frequency: 100 });

  it('has the cubic values at begin, middle and end, clamped outside', () => {
    expect(schedule(100).shouldPrune).toBe(true);
    expect(schedule(100).sparsity).toBeCloseTo(0.1, 15);
    // p = 0.5: 0.9 + (0.1 − 0.9)·0.5³ = 0.8
    expect(schedule(600).shouldPrune).toBe(true);
    expect(schedule(600).sparsity).toBeCloseTo(0.8, 14);
    // p = 0.3: 0.9 − 0.8·0.343 = 0.6256
    expect(schedule(400).sparsity).toBeCloseTo(0.6256, 14);
    expect(schedule(1100)).toEqual({ shouldPrune: true, sparsity: 0.9 });
    expect(schedule(0).shouldPrune).toBe(false);
    expect(schedule(0).sparsity).toBe(schedule(100).sparsity); // p clamped at 0
    expect(schedule(5000)).toEqual({ shouldPrune: false, sparsity: 0.9 }); // p clamped at 1
    for (let s = 0; s <= 1300; s += 7) {
      const expected = tfmotPolynomial(s, 0.1, 0.9, 100, 1100, 3, 100);
      expect(schedule(s).shouldPrune).toBe(expected.shouldPrune);
      expect(schedule(s).sparsity).toBeCloseTo(expected.sparsity, 14);
    }
  });

  it('follows the power: linear at power 1, and the default power is 3', () => {
    const linear = polynomialDecay({ initialSparsity: 0, finalSparsity: 0.8, beginStep: 0, endStep: 10, power: 1, frequency: 1 });
    expect(linear(5).sparsity).toBeCloseTo(0.4, 14);
    expect(linear(2).sparsity).toBeCloseTo(0.16, 14);
    expect(schedule.getConfig()).toMatchObject({ power: 3, frequency: 100 });
    expect(polynomialDecay({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 0, endStep: 1000 }).getConfig()).toMatchObject({
      frequency: 100,
    });
  });

  it('prunes every `frequency` steps from begin to end, both included', () => {
    expect(pruneSteps(schedule, 2000)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]);
    // end not on the cadence: tfmot never prunes at the end step, so the last update is before it
    const offGrid = polynomialDecay({ initialSparsity: 0, finalSparsity: 0.9, beginStep: 3, endStep: 20, frequency: 5 });
    expect(pruneSteps(offGrid, 40)).toEqual([3, 8, 13, 18]);
    expect(offGrid(18).sparsity).toBeLessThan(0.9);
  });

  it('rejects bad options, naming the value and what is valid', () => {
    const base = { initialSparsity: 0, finalSparsity: 0.9, beginStep: 0, endStep: 100 };
    expect(() => polynomialDecay({ ...base, beginStep: -1 })).toThrow(/polynomialDecay beginStep must be an integer ≥ 0; got -1/);
    expect(() => polynomialDecay({ ...base, beginStep: 10, endStep: 10 })).toThrow(
      /polynomialDecay endStep must be > beginStep \(10\); got 10/,
    );
    expect(() => polynomialDecay({ ...base, beginStep: 10, endStep: 5 })).toThrow(/endStep must be > beginStep \(10\); got 5/);
    expect(() => polynomialDecay({ ...base, endStep: -1 })).toThrow(/polynomialDecay endStep must be an integer ≥ 0; got -1/);
    expect(() => polynomialDecay({ ...base, frequency: 0 })).toThrow(/polynomialDecay frequency must be an integer ≥ 1; got 0/);
    expect(() => polynomialDecay({ ...base, frequency: 2.5 })).toThrow(/frequency must be an integer ≥ 1; got 2.5/);
    expect(() => polynomialDecay({ ...base, finalSparsity: 1 })).toThrow(
      /polynomialDecay finalSparsity must be a fraction in \[0, 1\); got 1/,
    );
    expect(() => polynomialDecay({ ...base, initialSparsity: -0.1 })).toThrow(/initialSparsity must be a fraction in \[0, 1\); got -0.1/);
    expect(() => polynomialDecay({ ...base, power: 0 })).toThrow(/polynomialDecay power must be a finite number > 0; got 0/);
    expect(() => polynomialDecay({ ...base, power: NaN })).toThrow(SparsifyConfigError);
    expect(() => schedule(-1)).toThrow(/pruning schedule step must be an integer ≥ 0; got -1/);
    expect(() => schedule(1.5)).toThrow(/got 1.5/);
  });
});

describe('constantSparsity (tfmot ConstantSparsity)', () => {
  it('returns the target everywhere and prunes on the cadence within [begin, end]', () => {
    const s = constantSparsity({ targetSparsity: 0.75, beginStep: 10, endStep: 50, frequency: 20 });
    expect(pruneSteps(s, 200)).toEqual([10, 30, 50]);
    for (const step of [0, 10, 29, 50, 1000]) expect(s(step).sparsity).toBe(0.75);
  });

  it('defaults to endStep −1 (forever) and frequency 100', () => {
    const s = constantSparsity({ targetSparsity: 0.5, beginStep: 0 });
    expect(s.getConfig()).toEqual({ kind: 'constantSparsity', targetSparsity: 0.5, beginStep: 0, endStep: -1, frequency: 100 });
    expect(s(1_000_000).shouldPrune).toBe(true);
    expect(s(1_000_050).shouldPrune).toBe(false);
    expect(pruneSteps(s, 350)).toEqual([0, 100, 200, 300]);
  });

  it('rejects bad options', () => {
    expect(() => constantSparsity({ targetSparsity: 0.5, beginStep: 10, endStep: 5 })).toThrow(
      /constantSparsity endStep must be -1 \(prune forever\) or an integer ≥ beginStep \(10\); got 5/,
    );
    expect(() => constantSparsity({ targetSparsity: 0.5, beginStep: 0, endStep: -2 })).toThrow(/got -2/);
    expect(() => constantSparsity({ targetSparsity: 1.2, beginStep: 0 })).toThrow(/targetSparsity must be a fraction in \[0, 1\); got 1.2/);
    expect(() => constantSparsity({ targetSparsity: 0.5, beginStep: 0, frequency: -100 })).toThrow(
      /frequency must be an integer ≥ 1; got -100/,
    );
    // endStep = beginStep is allowed (a single pruning step), as in tfmot
    expect(pruneSteps(constantSparsity({ targetSparsity: 0.5, beginStep: 7, endStep: 7, frequency: 3 }), 30)).toEqual([7]);
  });
});

describe('oneShot', () => {
  it('prunes once at atStep', () => {
    const s = oneShot({ sparsity: 0.9, atStep: 42 });
    expect(pruneSteps(s, 1000)).toEqual([42]);
    expect(s(42)).toEqual({ shouldPrune: true, sparsity: 0.9 });
    expect(s.atEnd).toBe(false);
  });

  it('atEnd never fires on a step: the driver prunes when training ends', () => {
    const s = oneShot({ sparsity: 0.8, atEnd: true });
    expect(pruneSteps(s, 1000)).toEqual([]);
    expect(s.atEnd).toBe(true);
    expect(s(3).sparsity).toBe(0.8);
  });

  it('rejects bad options', () => {
    expect(() => oneShot({ sparsity: 0.9 } as never)).toThrow(/oneShot atStep must be an integer ≥ 0; got undefined/);
    expect(() => oneShot({ sparsity: 0.9, atStep: 3, atEnd: true } as never)).toThrow(
      /oneShot atStep must be left out when atEnd is true; got 3/,
    );
    expect(() => oneShot({ sparsity: 0.9, atEnd: false } as never)).toThrow(/oneShot atEnd must be true/);
    expect(() => oneShot({ sparsity: 1, atStep: 0 })).toThrow(/oneShot sparsity must be a fraction in \[0, 1\); got 1/);
  });
});

describe('configs', () => {
  const schedules: PruningSchedule[] = [
    oneShot({ sparsity: 0.5, atStep: 3 }),
    oneShot({ sparsity: 0.7, atEnd: true }),
    constantSparsity({ targetSparsity: 0.6, beginStep: 2, endStep: 40, frequency: 4 }),
    polynomialDecay({ initialSparsity: 0.2, finalSparsity: 0.95, beginStep: 5, endStep: 65, power: 2, frequency: 6 }),
  ];

  it('round-trip through JSON to the same decisions', () => {
    for (const s of schedules) {
      const copy = pruningScheduleFromConfig(JSON.parse(JSON.stringify(s.getConfig())));
      expect(copy.getConfig()).toEqual(s.getConfig());
      expect(copy.atEnd).toBe(s.atEnd);
      for (let step = 0; step < 80; step++) expect(copy(step)).toEqual(s(step));
    }
  });

  it('read tfmot get_config() dicts', () => {
    const s = pruningScheduleFromConfig({
      class_name: 'PolynomialDecay',
      config: { initial_sparsity: 0.5, final_sparsity: 0.8, begin_step: 0, end_step: 1000, power: 3, frequency: 100 },
    });
    expect(s.getConfig()).toEqual({
      kind: 'polynomialDecay',
      initialSparsity: 0.5,
      finalSparsity: 0.8,
      beginStep: 0,
      endStep: 1000,
      power: 3,
      frequency: 100,
    });
    const c = pruningScheduleFromConfig({
      class_name: 'ConstantSparsity',
      config: { target_sparsity: 0.5, begin_step: 0, end_step: -1, frequency: 100 },
    });
    expect(c(200)).toEqual({ shouldPrune: true, sparsity: 0.5 });
  });

  it('reject unknown kinds and invalid configs', () => {
    expect(() => pruningScheduleFromConfig({ kind: 'cubic' } as never)).toThrow(
      /kind must be one of "oneShot", "constantSparsity", "polynomialDecay".*got \{"kind":"cubic"\}/,
    );
    expect(() => pruningScheduleFromConfig({ ...schedules[3].getConfig(), endStep: 5 } as never)).toThrow(
      /endStep must be > beginStep \(5\); got 5/,
    );
  });

  it('getConfig returns a copy', () => {
    const cfg = schedules[2].getConfig() as { targetSparsity: number };
    cfg.targetSparsity = 0.99;
    expect(schedules[2](2).sparsity).toBe(0.6);
  });
});

describe('strength schedules', () => {
  it('are core’s, re-exported (one implementation)', () => {
    expect(constantStrength).toBe(core.constantStrength);
    expect(linearWarmup).toBe(core.linearWarmup);
    expect(exponentialWarmup).toBe(core.exponentialWarmup);
    expect(exponentialGrowth).toBe(core.exponentialGrowth);
    expect(stepStrength).toBe(core.stepStrength);
    expect(strengthFromConfig).toBe(core.strengthFromConfig);
    const art = exponentialGrowth({ initial: 1e-5, rate: 1.1, beginEpoch: 2 });
    expect(art({ step: 0, epoch: 1 })).toBe(0);
    expect(art({ step: 0, epoch: 4 })).toBeCloseTo(1e-5 * 1.21, 18);
  });
});
