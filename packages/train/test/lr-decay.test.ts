import * as tf from '@tensorflow/tfjs';
import type { TrainingContext } from '@sparsify/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { decayFactors } from '../src/optimizer.js';
import { train, type LearningRateDecay } from '../src/index.node.js';
import { TestScaled, tinyData, tinyModel } from './helpers.js';

beforeAll(async () => {
  await useTestBackend();
});

/** TestScaled with its own optimizer for its variables (as HALO's λ), recording what each epoch ended with. */
class OwnOptimizerPenalty extends TestScaled {
  readonly seen: { lr: number; weights: Float32Array }[] = [];
  constructor(readonly optimizer: tf.Optimizer) {
    super({ strength: 1e-3 });
  }
  get variableOptions() {
    return { optimizer: this.optimizer };
  }
  onEpochEnd(_ctx: TrainingContext): void {
    this.seen.push({
      lr: this.optimizer.getConfig().learningRate as number,
      weights: Float32Array.from(this.params[0].variable.dataSync()),
    });
  }
}

async function run(lrDecay: LearningRateDecay, lambdaOptimizer: tf.Optimizer) {
  const model = tinyModel(2);
  const data = tinyData(96, 5);
  const penalty = new OwnOptimizerPenalty(lambdaOptimizer);
  const result = await train({
    model,
    data,
    epochs: 3,
    batchSize: 32,
    penalties: [penalty],
    optimizer: { className: 'Momentum', config: { learningRate: 0.1, momentum: 0.9 } },
    lrDecay,
  });
  const seen = penalty.seen;
  penalty.dispose();
  lambdaOptimizer.dispose();
  model.dispose();
  data.dispose();
  return { result, seen };
}

describe('lrDecay', () => {
  it('decays each optimizer once per milestone, or as the released HALO code with legacyDoubleDecay', () => {
    const decay = { milestones: [1, 3], gamma: 0.1 };
    expect([0, 1, 2, 3].map((e) => decayFactors(decay, e, true))).toEqual([
      { model: 1, penalty: 1 },
      { model: 0.1, penalty: 0.1 },
      { model: 0.1, penalty: 0.1 },
      { model: 0.1 ** 2, penalty: 0.1 ** 2 },
    ]);
    const legacy = { ...decay, legacyDoubleDecay: true };
    // 0.1 → 0.01 → 1e-4 for the model, 0.1 → 1e-3 → 1e-5 for λ.
    expect([0, 1, 3].map((e) => decayFactors(legacy, e, true))).toEqual([
      { model: 1, penalty: 1 },
      { model: 0.1, penalty: 0.1 ** 2 },
      { model: 0.1 ** 3, penalty: 0.1 ** 4 },
    ]);
    // Runs without a penalty optimizer are unaffected by the switch.
    expect(decayFactors(legacy, 3, false)).toEqual(decayFactors(decay, 3, false));
    expect(decayFactors(undefined, 5, true)).toEqual({ model: 1, penalty: 1 });
  });

  it('decays the penalty optimizer from its own learning rate and the model optimizer with it', async () => {
    const { result, seen } = await run({ milestones: [1, 2], gamma: 0.1 }, tf.train.momentum(0.2, 0.9));
    expect(result.status).toBe('completed');
    seen.forEach((s, i) => expect(s.lr).toBeCloseTo(0.2 * 0.1 ** i, 12));
  });

  it('with a vanishing gamma the model weights stop moving after the milestone', async () => {
    const change = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    const decayed = (await run({ milestones: [1], gamma: 1e-30 }, tf.train.sgd(0.2))).seen;
    expect(change(decayed[0].weights, decayed[1].weights)).toBe(0);
    expect(change(decayed[1].weights, decayed[2].weights)).toBe(0);
    const constant = (await run({ milestones: [], gamma: 1e-30 }, tf.train.sgd(0.2))).seen;
    expect(change(constant[1].weights, constant[2].weights)).toBeGreaterThan(1e-4);
  });

  it('refuses a penalty optimizer that cannot change its learning rate', async () => {
    await expect(run({ milestones: [1], gamma: 0.1 }, tf.train.adam(0.01))).rejects.toThrow(
      /lrDecay needs an SGD or Momentum optimizer for test-scaled's variables too \(TF.js Adam/,
    );
    await expect(run({ milestones: [1], gamma: 0.1, legacyDoubleDecay: 'yes' as never }, tf.train.sgd(0.1))).rejects.toThrow(
      /lrDecay.legacyDoubleDecay must be true or false; got "yes"/,
    );
  });
});
