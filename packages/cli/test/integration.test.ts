import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { createPenalty, registerPlugin, selectParams } from '@sparsify/core';
import { loadDataset } from '@sparsify/datasets/node';
import { art, plugin as hypersparse } from '@sparsify/hypersparse';
import { createModel } from '@sparsify/models';
import { Pruner, polynomialDecay } from '@sparsify/schedules';
import { train, type ArtSnapshot } from '@sparsify/train/node';
import { cleanup, tempDir } from './helpers.js';

/** The loop with the real packages it drives: a Dataset, schedules' Pruner, hypersparse's ArtController. */
beforeAll(async () => {
  await useTestBackend();
  registerPlugin(hypersparse);
});
afterAll(cleanup);

const weights = (m: tf.LayersModel) => m.weights.map((w) => Array.from(w.read().dataSync()));

describe('train with the real datasets, schedules and hypersparse packages', () => {
  it('GMP with a schedules Pruner on a Dataset: exact layer-wise sparsity, exact resume across the pruner state', async () => {
    const data = loadDataset('synthetic:16', { limit: { train: 192, test: 64 } });
    const run = async (dir: string, stopAfterEpochs?: number) => {
      const model = createModel('lenet-300-100', { inputShape: [16], numClasses: data.numClasses, seed: 1 });
      const schedule = polynomialDecay({ initialSparsity: 0, finalSparsity: 0.8, beginStep: 0, endStep: 16, frequency: 4 });
      const pruner = new Pruner(model, { schedule, method: { kind: 'magnitude', scope: 'layer', rule: 'exactCount' } }); // GMP's per-layer exact count
      const result = await train({
        model,
        data: { train: data.train, test: data.test },
        epochs: 3,
        batchSize: 32,
        optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } },
        weightDecay: 1e-4,
        pruning: pruner,
        finetune: { epochs: 1 },
        runDir: dir,
        resume: stopAfterEpochs === undefined,
        stopAfterEpochs,
      });
      const w = weights(model);
      pruner.dispose();
      model.dispose();
      return { result, w };
    };
    const straight = await run(tempDir());
    expect(straight.result.status).toBe('completed');
    for (const layer of straight.result.sparsity.layers) expect(layer.zeros).toBe(layer.total - Math.max(Math.round(layer.total * 0.2), 1));
    const dir = tempDir();
    expect((await run(dir, 2)).result.status).toBe('interrupted');
    const resumed = await run(dir);
    expect(resumed.result.resumedFrom).toBe(2);
    expect(resumed.w).toEqual(straight.w);
  });

  it('ART with hypersparse: the controller and the penalty from the package, the selected copy fine-tuned', async () => {
    const data = loadDataset('synthetic:16', { limit: { train: 160, test: 64 } });
    const model = createModel('lenet-300-100', { inputShape: [16], numClasses: data.numClasses, seed: 2 });
    const controller = art<ArtSnapshot>({ warmupEpochs: 1, maxEpochs: 3, alphaInit: 1e-4, growth: 2 });
    const penalty = createPenalty('hypersparse', { sparsity: 0.9, strength: controller.strength });
    const result = await train({
      model,
      data: { train: data.train, test: data.test },
      epochs: 1,
      batchSize: 32,
      optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } },
      penalties: [penalty],
      art: { controller, sparsity: 0.9 },
      finetune: { epochs: 1 },
    });
    expect(result.status).toBe('completed');
    expect(result.art?.stopped).toBe(true);
    expect(result.art!.artEpochs).toBeGreaterThanOrEqual(1);
    expect(result.art!.artEpochs).toBeLessThanOrEqual(3);
    const n = selectParams(model).reduce((s, p) => s + p.size, 0);
    expect(result.sparsity.zeros).toBeGreaterThanOrEqual(Math.floor(0.9 * n) + 1);
    expect(result.history.filter((h) => h.art).length).toBe(result.art!.artEpochs);
    expect(Object.keys(result.diagnostics)).toContain('hypersparse');
    penalty.dispose();
    model.dispose();
  });
});
