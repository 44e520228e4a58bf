/**
 * A small, seeded classification task and MLP for penalty training tests ("does my penalty prune
 * better than one-shot magnitude pruning of a dense run?"): a teacher network that reads only
 * 6 of 20 input features (the rest are noise), and a 20 → 64 → 4 student. Everything runs on the cpu
 * backend in a few seconds.
 */
import * as tf from '@tensorflow/tfjs';
import {
  createTrainStep,
  disposeMasks,
  disposeOptimizer,
  measureSparsity,
  pruneByMagnitude,
  selectParams,
  type Param,
  type Penalty,
} from '@sparsify/core';
import { seededRandom as seeded } from './fixtures.js';

export const FEATURES = 20;
export const RELEVANT = 6;
export const CLASSES = 4;
export const HIDDEN = 64;

function gaussian(n: number, seed: number): Float32Array {
  const u = seeded(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

export interface Task {
  readonly xTrain: tf.Tensor2D;
  readonly yTrain: tf.Tensor1D;
  readonly xTest: tf.Tensor2D;
  readonly yTest: tf.Tensor1D;
  dispose(): void;
}

/** Labels = argmax of a random two-layer ReLU teacher on the first `RELEVANT` features. */
export function teacherTask(seed: number, train = 512, test = 1024): Task {
  const n = train + test;
  const x = gaussian(n * FEATURES, seed);
  const a = gaussian(RELEVANT * 16, seed + 1);
  const b = gaussian(16 * CLASSES, seed + 2);
  const labels = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const hidden = new Float64Array(16);
    for (let h = 0; h < 16; h++) {
      let v = 0;
      for (let f = 0; f < RELEVANT; f++) v += x[s * FEATURES + f] * a[f * 16 + h];
      hidden[h] = Math.max(0, v);
    }
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      let v = 0;
      for (let h = 0; h < 16; h++) v += hidden[h] * b[h * CLASSES + c];
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    labels[s] = best;
  }
  const xTrain = tf.tensor2d(x.subarray(0, train * FEATURES), [train, FEATURES]);
  const xTest = tf.tensor2d(x.subarray(train * FEATURES), [test, FEATURES]);
  const yTrain = tf.tensor1d(labels.subarray(0, train), 'int32');
  const yTest = tf.tensor1d(labels.subarray(train), 'int32');
  return { xTrain, yTrain, xTest, yTest, dispose: () => [xTrain, yTrain, xTest, yTest].forEach((t) => t.dispose()) };
}

export function makeModel(seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [FEATURES],
        units: HIDDEN,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

export function accuracy(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, 1), y), 'float32')).dataSync()[0]);
}

export interface RunOptions {
  penalties?: Penalty[];
  epochs: number;
  lr: number;
  weightDecay: number;
  batch?: number;
  /** Target sparsities, each evaluated from the same trained weights. */
  sparsities: readonly number[];
  seed?: number;
  /** Called after training, before pruning, with the pruned kernels (for inspecting penalty state). */
  onTrained?: (kernels: readonly Param[]) => void;
}

export interface RunResult {
  /** Test accuracy before pruning. */
  readonly dense: number;
  /** Test accuracy after one-shot global magnitude pruning of the kernels (no fine-tuning), per target. */
  readonly pruned: number[];
  /** Achieved kernel sparsity, per target. */
  readonly sparsity: number[];
}

/** Trains with core's TrainStep (SGD momentum 0.9, coupled wd), then prunes the kernels globally. */
export async function trainAndPrune(task: Task, options: RunOptions): Promise<RunResult> {
  const model = makeModel(options.seed ?? 7);
  const optimizer = tf.train.momentum(options.lr, 0.9);
  const penalties = options.penalties ?? [];
  const step = createTrainStep({ model, optimizer, weightDecay: options.weightDecay, penalties });
  const batch = options.batch ?? 64;
  const n = task.xTrain.shape[0];
  const batches: [tf.Tensor, tf.Tensor][] = [];
  for (let i = 0; i < n; i += batch) {
    batches.push([tf.slice(task.xTrain, i, Math.min(batch, n - i)), tf.slice(task.yTrain, i, Math.min(batch, n - i))]);
  }
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      for (const [x, y] of batches) step.run(x, y);
      step.endEpoch();
      // Yield to the event loop once an epoch, so the test runner's worker stays responsive.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const dense = accuracy(model, task.xTest, task.yTest);
    const kernels = selectParams(model);
    options.onTrained?.(kernels);
    const trained = kernels.map((p) => tf.clone(p.variable));
    const pruned: number[] = [];
    const sparsity: number[] = [];
    for (const target of options.sparsities) {
      kernels.forEach((p, i) => p.variable.assign(trained[i]));
      const masks = pruneByMagnitude(kernels, { sparsity: target });
      sparsity.push(measureSparsity(kernels).global);
      pruned.push(accuracy(model, task.xTest, task.yTest));
      disposeMasks(masks);
    }
    trained.forEach((t) => t.dispose());
    return { dense, pruned, sparsity };
  } finally {
    step.dispose();
    disposeOptimizer(optimizer);
    penalties.forEach((p) => p.dispose());
    model.dispose();
    batches.flat().forEach((t) => t.dispose());
  }
}
