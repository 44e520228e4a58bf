import * as tf from '@tensorflow/tfjs';
import {
  BasePenalty,
  NonFiniteLossError,
  SparsifyConfigError,
  createTrainStep,
  disposeOptimizer,
  selectParams,
  type TrainingContext,
} from '@sparsify/core';
import { Pruner, constantSparsity, polynomialDecay } from '@sparsify/schedules';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fileSystemSaveHandler,
  fitWithPenalties,
  loadSparse,
  penaltiesCallback,
  formatPruningSummary,
  pruningSummaries,
  saveSparse,
  stripPruning,
  updatePruningStep,
  type EpochPruningSummary,
} from '../src/index.node.js';
import { TestGradientOnly, TestL1, TestLearnedScale, classes, compiledMlp, kernels, maxAbsDiff, seedMathRandom } from './helpers.js';
import { useTestBackend } from '../../../tools/testing/backends.js';

let dir: string;
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'sparsify-layers-fit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const host = (t: tf.Tensor) => t.dataSync() as Float32Array;

/** tfmot's masks (one exact-count ranking per layer): what these tests count against. */
const TFMOT = { kind: 'magnitude', scope: 'layer', rule: 'exactCount' } as const;

describe('fitWithPenalties: penalties inside model.fit', () => {
  it('trains exactly like core’s TrainStep: trainable penalty variables, a gradient-only penalty, weight decay', async () => {
    const { x, y } = classes(3, 64);
    const a = compiledMlp(1);
    const penaltiesA = [new TestL1({ strength: 1e-3 }), new TestLearnedScale({ strength: 1e-3 }), new TestGradientOnly({ strength: 1e-2 })];
    const history = await fitWithPenalties(a, x, y, {
      epochs: 3,
      batchSize: 64,
      shuffle: false,
      verbose: 0,
      penalties: penaltiesA,
      weightDecay: 1e-3,
    });

    const b = compiledMlp(1);
    const optimizer = tf.train.momentum(0.05, 0.9);
    const penaltiesB = [new TestL1({ strength: 1e-3 }), new TestLearnedScale({ strength: 1e-3 }), new TestGradientOnly({ strength: 1e-2 })];
    const step = createTrainStep({
      model: b,
      optimizer,
      penalties: penaltiesB,
      weightDecay: 1e-3,
      loss: (labels, probs) => tf.mean(tf.metrics.categoricalCrossentropy(labels, probs)) as tf.Scalar,
    });
    const losses = [0, 1, 2].map(() => step.run(x, y).loss);

    a.weights.forEach((w, i) => expect(maxAbsDiff(host(w.read()), host(b.weights[i].read()))).toBeLessThan(1e-6));
    const lambdasA = penaltiesA[1].trainableVariables().map((v) => v.dataSync()[0]);
    const lambdasB = penaltiesB[1].trainableVariables().map((v) => v.dataSync()[0]);
    expect(maxAbsDiff(lambdasA, lambdasB)).toBeLessThan(1e-6);
    lambdasA.forEach((l) => expect(l).not.toBe(1)); // λ trained by its own optimizer
    (history.history.loss as number[]).forEach((l, i) => expect(l).toBeCloseTo(losses[i], 5)); // loss = task + penalties
    expect(history.history.penalty).toHaveLength(3);

    // The gradient-only penalty changes training although its value is 0.
    const c = compiledMlp(1);
    await fitWithPenalties(c, x, y, {
      epochs: 3,
      batchSize: 64,
      shuffle: false,
      verbose: 0,
      penalties: [new TestL1({ strength: 1e-3 }), new TestLearnedScale({ strength: 1e-3 })],
      weightDecay: 1e-3,
    });
    expect(maxAbsDiff(host(a.weights[0].read()), host(c.weights[0].read()))).toBeGreaterThan(1e-4);

    step.dispose();
    disposeOptimizer(optimizer);
    for (const p of [...penaltiesA, ...penaltiesB]) p.dispose();
    for (const m of [a, b, c]) m.dispose();
    tf.dispose([x, y]);
  });

  it('must show: fit + L1 + polynomialDecay to 90%, exported, re-loaded with plain tf.loadLayersModel, same predictions, exact zeros', async () => {
    const { x, y } = classes(11, 256);
    const val = classes(12, 64);
    const model = compiledMlp(5, [16, 64, 4]);
    const l1 = new TestL1({ strength: 1e-4 });
    // 8 batches per epoch, 10 epochs = 80 steps: prune every 8 steps up to step 48, then fine-tune.
    const pruner = new Pruner(model, {
      schedule: polynomialDecay({ initialSparsity: 0, finalSparsity: 0.9, beginStep: 0, endStep: 48, frequency: 8 }),
      method: TFMOT,
    });
    const seenEpochs: number[] = [];
    const summaries: EpochPruningSummary[] = [];
    const early = tf.callbacks.earlyStopping({ monitor: 'val_loss', patience: 50 });
    const restoreRandom = seedMathRandom(3);
    const history = await fitWithPenalties(model, x, y, {
      epochs: 10,
      batchSize: 32,
      shuffle: true,
      verbose: 0,
      validationData: [val.x, val.y],
      penalties: [l1],
      weightDecay: 1e-4,
      pruning: pruner,
      callbacks: [
        early,
        pruningSummaries({ source: pruner, log: (s) => summaries.push(s) }),
        { onEpochEnd: async (epoch: number) => void seenEpochs.push(epoch) },
      ],
    }).finally(restoreRandom);
    expect(seenEpochs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(history.history.val_loss).toHaveLength(10);
    expect(history.history.sparsity).toHaveLength(10);
    expect(summaries.map((s) => s.targetSparsity)).toEqual(summaries.map((s) => pruner.schedule(s.lastPruneStep!).sparsity));
    expect(summaries[9].targetSparsity).toBeCloseTo(0.9, 12);
    expect(pruner.step).toBe(80);
    const predictions = model.predict(val.x) as tf.Tensor;
    const accuracy = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(predictions, 1), tf.argMax(val.y, 1)), 'float32')).dataSync()[0]);
    expect(accuracy).toBeGreaterThan(0.6); // 4 classes: chance is 0.25

    // Exact 90% per layer (exact-count rule), and the zeros are where the masks say.
    const masks = pruner.masks().map((m) => host(m.mask));
    selectParams(model).forEach((p, i) => {
      const w = host(p.variable);
      expect(w.filter((v) => v === 0).length).toBe(p.size - Math.round(p.size * 0.1));
      masks[i].forEach((m, j) => m === 0 && expect(w[j] === 0).toBe(true)); // ±0: the trained weights are w·0
    });

    // Export: strip, save through a tf.io handler, load with plain TensorFlow.js from memory.
    const stripped = await stripPruning(model, { masks: pruner.masks() });
    await stripped.save(fileSystemSaveHandler(join(dir, 'must-show')));
    const modelJson = JSON.parse(await readFile(join(dir, 'must-show', 'model.json'), 'utf8'));
    const bin = await readFile(join(dir, 'must-show', 'weights.bin'));
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    );
    const again = loaded.predict(val.x) as tf.Tensor;
    expect(maxAbsDiff(host(again), host(predictions))).toBe(0);
    kernels(loaded).forEach((w, i) => masks[i].forEach((m, j) => m === 0 && expect(Object.is(w[j], 0)).toBe(true)));

    // And the compact sparse export round-trips to the same predictions.
    const result = await saveSparse(stripped, join(dir, 'must-show-sparse'));
    expect(result.ratio).toBeGreaterThan(2); // a tiny model: the topology JSON dominates (see sparse.test.ts for LeNet-300-100)
    const fromSparse = await loadSparse(join(dir, 'must-show-sparse'));
    const sparsePredictions = fromSparse.predict(val.x) as tf.Tensor;
    expect(maxAbsDiff(host(sparsePredictions), host(predictions))).toBe(0);

    tf.dispose([predictions, again, sparsePredictions, x, y, val.x, val.y]);
    for (const m of [model, stripped, loaded, fromSparse]) m.dispose();
    pruner.dispose();
    l1.dispose();
  });

  it('keeps a persistent callback’s counters across fit calls, leaves the optimizer as it was, and works with fitDataset', async () => {
    const { x, y } = classes(21, 96);
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [16],
          units: 4,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }),
        }),
      ],
    });
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const optimizer = model.optimizer as tf.SGDOptimizer;
    const l1 = new TestL1({ strength: 1e-3 });
    const cb = penaltiesCallback({
      penalties: [l1],
      pruning: { schedule: constantSparsity({ targetSparsity: 0.5, beginStep: 0, frequency: 3 }), method: TFMOT },
    });
    const hooked: boolean[] = [];
    let afterFirstEpoch: Float32Array | null = null;
    const probe = new tf.CustomCallback({
      onBatchBegin: async () => void hooked.push(Object.hasOwn(model.optimizer, 'minimize')),
      // A learning-rate change from a callback reaches the optimizer that trains: lr 0 freezes epoch 1.
      onEpochEnd: async (epoch: number) => {
        if (epoch === 0) {
          afterFirstEpoch = host(model.weights[0].read()).slice();
          optimizer.setLearningRate(0);
        }
      },
    });
    await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0, callbacks: [cb, probe] });
    expect(hooked).toEqual([true, true, true, true, true, true]); // fit trains through the hook
    expect(model.optimizer).toBe(optimizer);
    expect(Object.hasOwn(optimizer, 'minimize')).toBe(false); // unhooked
    expect((model as unknown as { isOptimizerOwned: boolean }).isOptimizerOwned).toBe(true);
    expect(maxAbsDiff(host(model.weights[0].read()), afterFirstEpoch!)).toBe(0);
    expect(cb.context).toEqual({ step: 6, epoch: 2 });
    expect(cb.pruner!.lastPruneStep).toBe(3);
    optimizer.setLearningRate(0.01);
    await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0, callbacks: [cb] });
    expect(cb.context).toEqual({ step: 9, epoch: 3 });
    expect(cb.pruner!.lastPruneStep).toBe(6);
    expect(host(model.weights[0].read()).filter((v) => v === 0).length).toBe(32);
    // fitDataset goes through the same train function
    const data = tf.data.zip({ xs: tf.data.array(tf.unstack(x)), ys: tf.data.array(tf.unstack(y)) }).batch(48);
    await model.fitDataset(data, { epochs: 1, verbose: 0, callbacks: [cb] });
    expect(cb.context).toEqual({ step: 11, epoch: 4 });
    expect(cb.pruner!.lastPruneStep).toBe(9);
    cb.dispose();
    l1.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('rejects a NaN loss with NonFiniteLossError and still restores the optimizer', async () => {
    class NaNPenalty extends BasePenalty {
      readonly name = 'nan';
      protected term(_ctx: TrainingContext): tf.Scalar {
        return tf.div(tf.sum(this.params[0].variable), tf.scalar(0)) as tf.Scalar;
      }
    }
    const { x, y } = classes(5, 32);
    const model = compiledMlp(9);
    const optimizer = model.optimizer;
    const before = host(model.weights[0].read()).slice();
    const nan = new NaNPenalty({ strength: 1 });
    await expect(fitWithPenalties(model, x, y, { epochs: 1, verbose: 0, penalties: [nan] })).rejects.toBeInstanceOf(NonFiniteLossError);
    expect(model.optimizer).toBe(optimizer);
    expect(Object.hasOwn(optimizer, 'minimize')).toBe(false);
    expect(maxAbsDiff(host(model.weights[0].read()), before)).toBe(0); // the update was not applied
    await expect(fitWithPenalties(compiledMlp(9), x, y, { weightDecay: -1 })).rejects.toThrow(
      /weightDecay must be a finite number ≥ 0; got -1/,
    );
    const uncompiled = tf.sequential({ layers: [tf.layers.dense({ inputShape: [16], units: 4 })] });
    await expect(fitWithPenalties(uncompiled, x, y, {})).rejects.toThrow(SparsifyConfigError);
    nan.dispose();
    for (const m of [model, uncompiled]) m.dispose();
    tf.dispose([x, y]);
  });

  it('creates no tensors across calls (fitWithPenalties with penalties, pruning and validation)', async () => {
    const { x, y } = classes(31, 64);
    const model = compiledMlp(13);
    const penalties = [new TestL1({ strength: 1e-4 }), new TestLearnedScale({ strength: 1e-4 })];
    const args = {
      epochs: 3,
      batchSize: 16,
      verbose: 0 as const,
      validationData: [x, y] as [tf.Tensor, tf.Tensor],
      penalties,
      weightDecay: 1e-4,
      pruning: { schedule: polynomialDecay({ initialSparsity: 0.1, finalSparsity: 0.6, beginStep: 0, endStep: 8, frequency: 2 }) },
    };
    await fitWithPenalties(model, x, y, args); // optimizer slots and penalty state now exist
    const before = tf.memory().numTensors;
    await fitWithPenalties(model, x, y, args);
    await fitWithPenalties(model, x, y, args);
    expect(tf.memory().numTensors).toBe(before);
    for (const p of penalties) p.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe('updatePruningStep and pruningSummaries under plain model.fit', () => {
  it('keeps the weights exactly masked after every batch, logs per-layer sparsity, and works with earlyStopping', async () => {
    const { x, y } = classes(41, 128);
    const model = compiledMlp(17);
    const update = updatePruningStep({
      schedule: polynomialDecay({ initialSparsity: 0.3, finalSparsity: 0.8, beginStep: 0, endStep: 12, frequency: 4 }),
      method: TFMOT,
    });
    const lines: EpochPruningSummary[] = [];
    const summaries = pruningSummaries({ source: update, log: (s) => lines.push(s) });
    let violations = 0;
    let batches = 0;
    const check = new tf.CustomCallback({
      onBatchEnd: async () => {
        batches++;
        const pruner = update.pruner!;
        pruner.masks().forEach((m) => {
          const mask = host(m.mask);
          const w = host(m.variable);
          mask.forEach((v, j) => v === 0 && w[j] !== 0 && violations++);
        });
      },
    });
    // baseline 0 on the loss can never improve: training stops after `patience` epochs
    const early = tf.callbacks.earlyStopping({ monitor: 'loss', patience: 4, baseline: 0 });
    const history = await model.fit(x, y, { epochs: 20, batchSize: 32, verbose: 0, callbacks: [update, summaries, check, early] });
    expect(history.epoch).toEqual([0, 1, 2, 3]);
    expect(batches).toBe(16);
    expect(violations).toBe(0);
    expect(lines.map((l) => l.epoch)).toEqual([0, 1, 2, 3]);
    const last = lines[3];
    expect(last.targetSparsity).toBeCloseTo(0.8, 12);
    last.layers.forEach((l) => {
      expect(l.maskSparsity).toBeCloseTo(1 - Math.round(l.total * 0.2) / l.total, 12);
      expect(l.sparsity).toBe(l.maskSparsity);
      expect(l.threshold).toBeGreaterThan(0);
    });
    expect(history.history.sparsity).toEqual(lines.map((l) => l.sparsity));
    expect(JSON.parse(JSON.stringify(last))).toEqual(last);

    // Memory: another fit with the same callbacks adds nothing.
    const before = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0, callbacks: [update, summaries] });
    expect(tf.memory().numTensors).toBe(before);
    expect(update.pruner!.step).toBe(24);
    update.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('measures a model without a pruner, and validates its options', async () => {
    const { x, y } = classes(51, 32);
    const model = compiledMlp(19);
    expect(
      formatPruningSummary({
        epoch: 2,
        step: 30,
        lastPruneStep: 30,
        targetSparsity: 0.7000000000000001,
        sparsity: 0.7,
        total: 10,
        zeros: 7,
        layers: [
          {
            name: 'dense/kernel',
            layerName: 'dense',
            shape: [2, 5],
            total: 10,
            zeros: 7,
            sparsity: 0.7,
            maskSparsity: 0.7,
            threshold: 0.1,
          },
        ],
      }),
    ).toBe('epoch 3: sparsity 70.0% (target 70.0%); dense 70.0%');
    const s = pruningSummaries({ log: false, logKey: 'zeros_fraction' });
    const h = await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [s] });
    expect(s.summaries[0].layers).toHaveLength(2);
    expect(s.summaries[0].layers[0].maskSparsity).toBeNull();
    expect(h.history.zeros_fraction).toEqual([s.summaries[0].sparsity]);
    expect(() => updatePruningStep({ schedule: { kind: 'gmp' } as never })).toThrow(/pruning schedule config kind must be one of/);
    expect(() => pruningSummaries({ logKey: '' })).toThrow(/logKey must be a non-empty string or false; got ""/);
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe('stripPruning', () => {
  it('bakes masks in, normalises −0, and leaves the original alone', async () => {
    const model = compiledMlp(23);
    const pruner = new Pruner(model, { schedule: constantSparsity({ targetSparsity: 0.5, beginStep: 0 }) });
    pruner.onStep(0);
    const kernel = model.weights[0].read() as tf.Variable;
    tf.tidy(() => kernel.assign(tf.add(kernel, tf.scalar(1e-3)))); // weights drift off the mask
    tf.tidy(() =>
      kernel.assign(
        tf.where(
          tf.equal(tf.reshape(tf.range(0, kernel.size), kernel.shape), tf.scalar(1)),
          tf.fill(kernel.shape, -0),
          kernel as tf.Tensor,
        ),
      ),
    );
    const stripped = await stripPruning(model, { masks: pruner.masks() });
    const mask = host(pruner.masks()[0].mask);
    const w = host(stripped.weights[0].read());
    mask.forEach((m, j) =>
      m === 0 ? expect(Object.is(w[j], 0)).toBe(true) : expect(w[j]).toBe(host(kernel)[j] === 0 ? 0 : host(kernel)[j]),
    );
    expect(host(kernel).some((v, j) => mask[j] === 0 && v !== 0)).toBe(true); // the original still drifts
    expect(stripped.weights[0].read()).not.toBe(kernel);
    const foreign = { variable: tf.variable(tf.zeros([2])), mask: tf.ones([2]) };
    await expect(stripPruning(model, { masks: [foreign] })).rejects.toThrow(/does not belong to model/);
    tf.dispose([foreign.variable, foreign.mask]);
    pruner.dispose();
    model.dispose();
    stripped.dispose();
  });
});
