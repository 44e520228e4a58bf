import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  countZeroGroups,
  createTrainStep,
  disposeOptimizer,
  safeL1,
  selectParams,
  type Mask,
  type TrainingContext,
} from '@sparsify/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Pruner, constantSparsity, oneShot, polynomialDecay, type PrunerState } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Plain L1, test-only (the real one is in a penalty package). */
class TestL1 extends BasePenalty {
  readonly name = 'test-l1';
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.params.reduce((s, p) => tf.add(s, safeL1(p.variable)), tf.scalar(0)) as tf.Scalar;
  }
}

function mlp(seed: number): tf.LayersModel {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ inputShape: [12], units: 20, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed }) }),
  );
  model.add(tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }) }));
  return model;
}

function batch(seed: number) {
  const x = tf.randomNormal([48, 12], 0, 1, 'float32', seed);
  const y = tf.tidy(() => tf.argMax(tf.matMul(x, tf.randomNormal([12, 3], 0, 1, 'float32', seed + 1)), 1));
  return { x, y };
}

const zerosOf = (v: tf.Variable) => Array.from(v.dataSync()).map((w) => w === 0);

/** tfmot's rule: one exact-count ranking per layer. */
const TFMOT = { kind: 'magnitude', scope: 'layer', rule: 'exactCount' } as const;

describe('Pruner with a custom loop (TrainStep)', () => {
  it('follows polynomialDecay to exact per-layer counts; pruned weights never come back; tensors constant', () => {
    const model = mlp(1);
    const params = selectParams(model);
    const { x, y } = batch(2);
    const optimizer = tf.train.momentum(0.05, 0.9);
    const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [new TestL1({ strength: 1e-4 })] });
    const schedule = polynomialDecay({ initialSparsity: 0.2, finalSparsity: 0.9, beginStep: 10, endStep: 70, frequency: 10 });
    const pruner = new Pruner(model, { schedule, method: TFMOT });
    const changedAt: number[] = [];
    let previousZeros: boolean[][] | null = null;
    let count = 0;
    for (let s = 0; s < 120; s++) {
      if (s === 20) count = tf.memory().numTensors; // after optimizer slots and first masks exist
      if (pruner.onStep(s)) {
        step.setMasks(pruner.masks());
        changedAt.push(s);
        const zeros = params.map((p) => zerosOf(p.variable));
        // exact count per layer: keep max(round(N·(1−s)), 1)
        params.forEach((p, i) => {
          const kept = zeros[i].filter((z) => !z).length;
          expect(kept).toBe(Math.max(Math.round(p.size * (1 - schedule(s).sparsity)), 1));
        });
        if (previousZeros) previousZeros.forEach((layer, i) => layer.forEach((z, j) => z && expect(zeros[i][j]).toBe(true)));
        previousZeros = zeros;
      }
      step.run(x, y);
    }
    expect(changedAt).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(tf.memory().numTensors).toBe(count);
    // after endStep the mask is frozen and exact
    const summary = pruner.summary();
    expect(summary.targetSparsity).toBe(0.9);
    expect(summary.lastPruneStep).toBe(70);
    for (const layer of summary.layers) {
      expect(layer.maskSparsity).toBeCloseTo(1 - Math.round(layer.total * 0.1) / layer.total, 12);
      expect(layer.sparsity).toBe(layer.maskSparsity);
      expect(layer.threshold).toBeGreaterThan(0);
    }
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
    step.dispose();
    pruner.dispose();
    disposeOptimizer(optimizer);
    model.dispose();
    tf.dispose([x, y]);
  });

  it('ranks globally by default (DEFAULT_PRUNING) and prunes structures with a method', () => {
    const model = mlp(3);
    const global = new Pruner(model, { schedule: oneShot({ sparsity: 0.5, atStep: 0 }) });
    expect(global.getConfig().method).toEqual({ kind: 'magnitude', scope: 'global', rule: 'quantile' });
    const layerShorthand = new Pruner(model, { schedule: oneShot({ sparsity: 0.5, atStep: 0 }), scope: 'layer' });
    expect(layerShorthand.getConfig().method).toEqual({ kind: 'magnitude', scope: 'layer', rule: 'quantile' });
    layerShorthand.dispose();
    global.onStep(0);
    const s = global.summary();
    expect(s.zeros).toBe(Math.floor(s.total * 0.5) + 1); // strict quantile, continuous weights: no ties
    expect(s.layers[0].sparsity).not.toBeCloseTo(s.layers[1].sparsity, 2); // non-uniform per layer
    global.dispose();

    const structured = new Pruner(model, {
      schedule: constantSparsity({ targetSparsity: 0.5, beginStep: 0, frequency: 5 }),
      method: { kind: 'lnStructured', axis: 'output' },
      selection: { names: [model.layers[0].name] },
    });
    expect(structured.onStep()).toBe(true);
    expect(structured.onStep()).toBe(false);
    expect(structured.step).toBe(2);
    expect(countZeroGroups(structured.params)[0]).toMatchObject({ outputGroups: 20, zeroOutputGroups: 10 });
    structured.dispose();
    model.dispose();
  });

  it('prunes an atEnd schedule once, in finish()', () => {
    const model = mlp(4);
    const pruner = new Pruner(model, { schedule: oneShot({ sparsity: 0.75, atEnd: true }), method: TFMOT });
    for (let s = 0; s < 50; s++) expect(pruner.onStep(s)).toBe(false);
    expect(pruner.masks()).toEqual([]);
    expect(pruner.finish()).toBe(true);
    expect(pruner.finish()).toBe(false);
    expect(pruner.summary().layers.map((l) => l.sparsity)).toEqual(pruner.params.map((p) => 1 - Math.round(p.size * 0.25) / p.size));
    pruner.dispose();
    model.dispose();
  });

  it('saves and restores its state as plain data (checkpoints), and speaks the @sparsify/train protocol', () => {
    const model = mlp(5);
    const schedule = polynomialDecay({ initialSparsity: 0, finalSparsity: 0.8, beginStep: 0, endStep: 40, frequency: 10 });
    const a = new Pruner(model, { schedule });
    for (let s = 0; s <= 25; s++) a.onStep(s);
    const state = JSON.parse(JSON.stringify(a.getState())) as PrunerState;
    expect(state).toMatchObject({ step: 26, lastPruneStep: 20, finished: false });
    expect(state.sparsity).toBeCloseTo(0.8 * (1 - 0.5 ** 3), 12);
    expect(state.masks!.map((m) => m.name)).toEqual(a.params.map((p) => p.name));
    const masksA = a.masks().map((m) => Array.from(m.mask.dataSync()));

    // Weights change after the checkpoint (as if training went on, or a different process): restoring
    // the state brings the masks back and applies them.
    const b = new Pruner(model, { schedule });
    tf.tidy(() => b.params.forEach((p) => p.variable.assign(tf.onesLike(p.variable))));
    const before = tf.memory().numTensors;
    b.setState(state);
    expect(tf.memory().numTensors).toBe(before + b.params.length);
    expect(b.step).toBe(26);
    expect(b.masks().map((m) => Array.from(m.mask.dataSync()))).toEqual(masksA);
    b.params.forEach((p, i) => expect(Array.from(p.variable.dataSync())).toEqual(masksA[i]));
    expect(b.update({ step: 29, epoch: 0 })).toBeNull();
    const next = b.update({ step: 30, epoch: 0 });
    expect(next).not.toBeNull();
    expect(next).toBe(b.masks());
    expect(b.getState({ includeMasks: false }).masks).toBeNull();

    // setState(state, masks): the loop saved the masks itself and hands them over
    const c = new Pruner(model, { schedule });
    const handed: Mask[] = c.params.map((p, i) => ({ variable: p.variable, mask: tf.tensor(masksA[i], p.shape as number[]) }));
    c.setState({ ...state, masks: null }, handed);
    expect(c.masks()[0].mask).toBe(handed[0].mask);

    expect(() => c.setState({ ...state, step: -3 })).toThrow(/Pruner state step must be an integer ≥ 0; got -3/);
    const badMask = { ...state, masks: state.masks!.map((m, i) => (i === 0 ? { ...m, values: m.values.map(() => 2) } : m)) };
    expect(() => c.setState(badMask)).toThrow(/entry 0 must be 0 or 1; got 2/);
    for (const p of [a, b, c]) p.dispose();
    expect(() => a.onStep()).toThrow(/after dispose/);
    model.dispose();
  });

  it('rejects bad options', () => {
    const model = mlp(6);
    expect(() => new Pruner(model, {} as never)).toThrow(/pruning schedule config kind must be one of/);
    expect(
      () => new Pruner(model, { schedule: oneShot({ sparsity: 0.5, atStep: 0 }), method: { kind: 'block', blockSize: [0, 1] } }),
    ).toThrow(/blockSize must be a pair \[rows, cols\] of integers ≥ 1; got \[0,1\]/);
    expect(
      () => new Pruner(model, { schedule: oneShot({ sparsity: 0.5, atStep: 0 }), scope: 'global', method: { kind: 'magnitude' } }),
    ).toThrow(/either method or scope/);
    expect(() => new Pruner(model, { schedule: oneShot({ sparsity: 0.5, atStep: 0 }), selection: { names: ['nope'] } })).toThrow(
      /selected no parameters/,
    );
    const p = new Pruner(model, { schedule: oneShot({ sparsity: 0.5, atStep: 0 }) });
    expect(() => p.onStep(-1)).toThrow(/Pruner.onStep step must be an integer ≥ 0; got -1/);
    p.dispose();
    model.dispose();
  });
});
