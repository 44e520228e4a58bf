import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, type Param } from '@sparsify/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { art, probePrunedAccuracy, type ArtDecision } from '../src/index.js';
import { gaussian, makeParam, useCpu } from './helpers.js';

beforeAll(useCpu);

/** Feeds scripted accuracies; snapshots are `{ epoch }` objects so their ownership can be tracked. */
function script(controller: ReturnType<typeof art<{ epoch: number }>>, pruned: number[], dense: number | number[], from = 0) {
  const decisions: ArtDecision<{ epoch: number }>[] = [];
  for (let i = 0; i < pruned.length; i++) {
    const epoch = from + i;
    const d = controller.observe({
      epoch,
      prunedAccuracy: pruned[i],
      denseAccuracy: Array.isArray(dense) ? dense[i] : dense,
      snapshot: { epoch },
    });
    decisions.push(d);
    if (d.stop) break;
  }
  return decisions;
}

describe('ART controller on scripted accuracies', () => {
  it('window of 3: best ← window[min(len−1, B)] when the window mean beats best’s single-epoch accuracy', () => {
    const controller = art<{ epoch: number }>();
    const d = script(controller, [10, 12, 50, 60, 55, 20], 100);
    // k=0: [10] mean 10 > 0 → best e0 (newest while filling)
    expect(d[0].best).toEqual({ epoch: 0, prunedAccuracy: 10, windowMean: 10 });
    // k=1: [10,12] mean 11 > 10 → best = window[1] = e1
    expect(d[1].best).toEqual({ epoch: 1, prunedAccuracy: 12, windowMean: 11 });
    // k=2: [10,12,50] mean 24 > 12 → best = the middle, e1 again, with mean 24
    expect(d[2].best).toEqual({ epoch: 1, prunedAccuracy: 12, windowMean: 24 });
    // k=3: [12,50,60] mean 40.67 > 12 → middle e2
    expect(d[3].best?.epoch).toBe(2);
    expect(d[3].best?.windowMean).toBeCloseTo(122 / 3, 10);
    // k=4: [50,60,55] mean 55 > 50 → middle e3 (60)
    expect(d[4].best).toEqual({ epoch: 3, prunedAccuracy: 60, windowMean: 55 });
    // k=5: [60,55,20] mean 45 is not > 60: best stays e3
    expect(d[5].best).toEqual({ epoch: 3, prunedAccuracy: 60, windowMean: 55 });
    expect(controller.windowEntries().map((e) => e.epoch)).toEqual([3, 4, 5]);
    expect(d.every((x) => !x.stop)).toBe(true);
    expect(d.map((x) => x.windowMean)).toEqual([10, 11, 24, 122 / 3, 55, 45]);
  });

  it('stops when best.mean > the current dense accuracy and selects the window’s middle (one epoch stale)', () => {
    const controller = art<{ epoch: number }>();
    const d = script(controller, [10, 12, 50, 60, 55, 20], 50);
    expect(d.length).toBe(5); // k=3: best.mean 40.67 ≤ 50; k=4: 55 > 50
    const last = d[4];
    expect(last.stop).toBe(true);
    expect(last.reason).toBe('crossed');
    expect(last.selected).toEqual({ epoch: 3, prunedAccuracy: 60, windowMean: 55, snapshot: { epoch: 3 } });
    expect(controller.stopReason).toBe('crossed');
    expect(() => controller.observe({ epoch: 5, denseAccuracy: 1, prunedAccuracy: 1 })).toThrow(/after ART stopped \(crossed\)/);
  });

  it('compares best.mean (possibly from an earlier window) with the dense accuracy of the epoch just trained', () => {
    const controller = art<{ epoch: number }>();
    // best (mean 55) is set at k=4 while dense is 90; at k=6 dense drifts down to 50 → stop, best from k=4.
    const d = script(controller, [10, 12, 50, 60, 55, 20, 10], [90, 90, 90, 90, 90, 90, 50]);
    expect(d.length).toBe(7);
    expect(d[6].stop).toBe(true);
    expect(d[6].selected?.epoch).toBe(3);
    expect(d[6].selected?.snapshot).toEqual({ epoch: 3 }); // kept although it left the window at k=6
  });

  it('caps at maxEpochs ART epochs and reports it', () => {
    const controller = art<{ epoch: number }>({ maxEpochs: 4 });
    const d = script(controller, [10, 12, 50, 60, 55], 100);
    expect(d.length).toBe(4);
    expect(d[3]).toMatchObject({ stop: true, reason: 'cap', selected: { epoch: 2, prunedAccuracy: 50, snapshot: { epoch: 2 } } });
    expect(controller.stopReason).toBe('cap');
  });

  it('at the cap with no probe above 0, nothing is selected and every snapshot is handed back', () => {
    const discarded: number[] = [];
    const controller = art<{ epoch: number }>({ maxEpochs: 5, onDiscard: (s) => discarded.push(s.epoch) });
    const d = script(controller, [0, 0, 0, 0, 0], 90);
    expect(d[4]).toMatchObject({ stop: true, reason: 'cap', selected: undefined });
    expect(discarded.sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('window 1 (B = 0): best is the newest probe that beats the best single accuracy', () => {
    const controller = art<{ epoch: number }>({ window: 1 });
    const d = script(controller, [5, 3, 8, 7, 9], 100);
    expect(d.map((x) => x.best?.epoch)).toEqual([0, 0, 2, 2, 4]);
  });

  it('window 5 (B = 2): window[min(len−1, 2)] while filling and once full', () => {
    const controller = art<{ epoch: number }>({ window: 5 });
    const d = script(controller, [10, 20, 30, 40, 50, 60], 100);
    // means: 10, 15, 20, 25, 30, 40 — each beats the stored best's single accuracy until it does not
    // k0 best e0 (10); k1 mean 15 > 10 → e1 (20); k2 mean 20 > 20? no; k3 mean 25 > 20 → window[2] = e2 (30);
    // k4 mean 30 > 30? no; k5 window [20..60] mean 40 > 30 → window[2] = e3 (40)
    expect(d.map((x) => x.best?.epoch)).toEqual([0, 1, 1, 2, 2, 3]);
  });

  it('hands every snapshot back exactly once (discarded, or as the selection), through onDiscard and `discarded`', () => {
    const viaCallback: number[] = [];
    const controller = art<{ epoch: number }>({ onDiscard: (_s, epoch) => viaCallback.push(epoch) });
    const pruned = [10, 12, 50, 60, 55, 20, 10, 70, 75, 72];
    const d = script(controller, pruned, [...pruned.map(() => 99).slice(0, 9), 60]);
    const last = d[d.length - 1];
    expect(last.stop).toBe(true);
    const returned = d.flatMap((x) => x.discarded.map((s) => s.epoch));
    expect(returned.sort((a, b) => a - b)).toEqual(viaCallback.sort((a, b) => a - b));
    const all = [...returned, last.selected!.snapshot!.epoch].sort((a, b) => a - b);
    expect(all).toEqual(pruned.map((_, i) => i)); // each of the 10 snapshots exactly once
  });

  it('α: alphaAt(k) = alphaInit·growth^k; `strength` is 0 during warm-up, then the same per training epoch', () => {
    const controller = art({ alphaInit: 1e-4, growth: 1.1, warmupEpochs: 3 });
    expect(controller.alphaAt(0)).toBe(1e-4);
    expect(controller.alphaAt(5)).toBeCloseTo(1e-4 * 1.1 ** 5, 18);
    expect([0, 2].map((epoch) => controller.strength({ step: 0, epoch }))).toEqual([0, 0]);
    for (const k of [0, 1, 7]) expect(controller.strength({ step: 0, epoch: 3 + k })).toBeCloseTo(controller.alphaAt(k), 18);
    expect(controller.strength.config).toEqual({ kind: 'exponentialGrowth', initial: 1e-4, rate: 1.1, beginEpoch: 3 });
    const d = controller.observe({ epoch: 0, denseAccuracy: 50, prunedAccuracy: 10 });
    expect(d.nextAlpha).toBeCloseTo(1.1e-4, 18);
    expect(art().alphaAt(0)).toBe(5e-6); // the code's λ_init, not the README's 5e-4
  });

  it('getState/setState: plain JSON, and a resumed controller continues identically', () => {
    const pruned = [10, 12, 50, 60, 55, 20, 10, 70, 75, 72];
    const dense = [...pruned.map(() => 99).slice(0, 9), 60];
    const reference = script(art<{ epoch: number }>({ maxEpochs: 50 }), pruned, dense);
    const first = art<{ epoch: number }>({ maxEpochs: 50 });
    script(first, pruned.slice(0, 6), dense.slice(0, 6));
    const state = JSON.parse(JSON.stringify(first.getState()));
    expect(state).toEqual({
      version: 1,
      nextEpoch: 6,
      window: [
        { epoch: 3, prunedAccuracy: 60 },
        { epoch: 4, prunedAccuracy: 55 },
        { epoch: 5, prunedAccuracy: 20 },
      ],
      best: { epoch: 3, prunedAccuracy: 60, windowMean: 55 },
      stopped: null,
    });
    const resumed = art<{ epoch: number }>({ maxEpochs: 50 });
    resumed.setState(state, (epoch) => ({ epoch }));
    expect(resumed.getState()).toEqual(state);
    const rest = script(resumed, pruned.slice(6), dense.slice(6), 6);
    const strip = (x: ArtDecision<{ epoch: number }>) => ({ ...x, discarded: x.discarded.map((s) => s.epoch) });
    expect(rest.map(strip)).toEqual(reference.slice(6).map(strip));
  });

  it('rejects bad options, out-of-order epochs and bad states with SparsifyConfigError', () => {
    expect(() => art({ window: 4 })).toThrow('art window must be an odd integer ≥ 1 (2B+1); got 4');
    expect(() => art({ growth: 0.9 })).toThrow('art growth must be a finite number ≥ 1 (η; the reference uses 1.05); got 0.9');
    expect(() => art({ alphaInit: 0 })).toThrow('art alphaInit must be a finite number > 0; got 0');
    expect(() => art({ maxEpochs: 0 })).toThrow('art maxEpochs must be an integer ≥ 1; got 0');
    expect(() => art({ warmupEpochs: -1 })).toThrow('art warmupEpochs must be an integer ≥ 0; got -1');
    expect(() => art({ lambdaInit: 1 } as never)).toThrow(SparsifyConfigError);
    const controller = art();
    expect(() => controller.observe({ epoch: 1, denseAccuracy: 1, prunedAccuracy: 1 })).toThrow(
      'art observation epoch must be the next ART epoch, 0 (ART epochs are observed in order, from 0); got 1',
    );
    expect(() => controller.observe({ epoch: 0, denseAccuracy: NaN, prunedAccuracy: 1 })).toThrow(
      /denseAccuracy must be a finite number; got NaN/,
    );
    expect(() =>
      controller.setState({
        version: 1,
        nextEpoch: 2,
        window: [
          { epoch: 0, prunedAccuracy: 1 },
          { epoch: 1, prunedAccuracy: 1 },
          { epoch: 1, prunedAccuracy: 1 },
          { epoch: 1, prunedAccuracy: 1 },
        ],
        best: null,
        stopped: null,
      }),
    ).toThrow(/art state window must be an array of at most 3 probes/);
  });
});

describe('probePrunedAccuracy', () => {
  const live: Param[] = [];
  afterEach(() => {
    for (const p of live.splice(0)) p.variable.dispose();
  });

  it('evaluates the globally pruned weights (strict >, ⌊κN⌋+1 pruned) and restores them exactly', async () => {
    const w1 = gaussian(60, 1);
    const w2 = gaussian(40, 2);
    live.push(makeParam(w1, [6, 10], 'dense'), makeParam(w2, [10, 4], 'dense'));
    const before = tf.memory().numTensors;
    let seenZeros = -1;
    const result = await probePrunedAccuracy({
      params: live,
      sparsity: 0.9,
      keepPruned: true,
      evaluate: async () => {
        await Promise.resolve();
        seenZeros = live.reduce((n, p) => n + Array.from(p.variable.dataSync()).filter((v) => v === 0).length, 0);
        return 0.75;
      },
    });
    expect(seenZeros).toBe(91); // ⌊0.9·100⌋ + 1
    expect(result.accuracy).toBe(0.75);
    expect(result.sparsity).toBe(0.91);
    const sorted = [...w1, ...w2].map(Math.abs).sort((a, b) => a - b);
    expect(result.threshold).toBe(sorted[90]);
    expect(Array.from(live[0].variable.dataSync())).toEqual(Array.from(w1));
    expect(Array.from(live[1].variable.dataSync())).toEqual(Array.from(w2));
    const kept = result.pruned!.reduce((n, t) => n + Array.from(t.dataSync()).filter((v) => v !== 0).length, 0);
    expect(kept).toBe(9);
    result.pruned!.forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('restores the weights and frees everything when evaluate throws; sparsity 0 prunes nothing', async () => {
    const w = gaussian(50, 3);
    live.push(makeParam(w, [5, 10], 'dense'));
    const before = tf.memory().numTensors;
    await expect(
      probePrunedAccuracy({
        params: live,
        sparsity: 0.5,
        keepPruned: true,
        evaluate: () => {
          throw new Error('boom');
        },
      }),
    ).rejects.toThrow('boom');
    expect(Array.from(live[0].variable.dataSync())).toEqual(Array.from(w));
    expect(tf.memory().numTensors).toBe(before);
    const none = await probePrunedAccuracy({
      params: live,
      sparsity: 0,
      evaluate: () => Array.from(live[0].variable.dataSync()).filter((v) => v === 0).length,
    });
    expect(none).toEqual({ accuracy: 0, threshold: -Infinity, sparsity: 0 });
    await expect(probePrunedAccuracy({ params: live, sparsity: 1, evaluate: () => 1 })).rejects.toThrow(
      'probePrunedAccuracy sparsity must be a fraction in [0, 1); got 1',
    );
  });
});
