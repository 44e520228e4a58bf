import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BasePenalty,
  constantStrength,
  createPenalty,
  createTrainStep,
  exponentialGrowth,
  exponentialWarmup,
  linearWarmup,
  listPenalties,
  NonFiniteLossError,
  penaltyFromConfig,
  registerPlugin,
  resolveStrength,
  safeL1,
  selectParams,
  option,
  signLinear,
  stepStrength,
  STRENGTH_OPTIONS,
  strengthFromConfig,
  type OptionsOf,
  type Param,
  type PenaltyGradients,
  type SparsifyPlugin,
  type TrainingContext,
} from '../src/index.js';
import { TestL1, tinyBatch, tinyModel, useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

const at = (step: number, epoch = 0): TrainingContext => ({ step, epoch });

describe('strength schedules', () => {
  it('compute their documented values', () => {
    expect(constantStrength(0.3)(at(99))).toBe(0.3);
    const warm = linearWarmup({ value: 1, warmupSteps: 4, beginStep: 2 });
    expect([0, 1, 2, 3, 5, 9].map((s) => warm(at(s)))).toEqual([0, 0, 0.25, 0.5, 1, 1]);
    const exp = exponentialWarmup({ value: 1e-2, initial: 1e-4, warmupSteps: 10 });
    expect(exp(at(0))).toBeCloseTo(1e-4);
    expect(exp(at(5))).toBeCloseTo(1e-3);
    expect(exp(at(10))).toBe(1e-2);
    const art = exponentialGrowth({ initial: 5e-6, rate: 1.05, beginEpoch: 3 });
    expect([0, 2, 3, 4, 13].map((e) => art(at(0, e)))).toEqual([0, 0, 5e-6, 5e-6 * 1.05, 5e-6 * 1.05 ** 10]);
    expect(exponentialGrowth({ initial: 1, rate: 2, max: 5 })(at(0, 10))).toBe(5);
    expect(stepStrength({ initial: 1, factor: 0.1, everyEpochs: 2 })(at(0, 5))).toBeCloseTo(0.01);
  });
  it('round-trip through their configs', () => {
    for (const s of [constantStrength(2), linearWarmup({ value: 1, warmupSteps: 3 }), exponentialGrowth({ initial: 1e-3, rate: 1.1 })]) {
      const rebuilt = strengthFromConfig(JSON.parse(JSON.stringify(s.config)));
      expect(rebuilt.config).toEqual(s.config);
      expect(rebuilt(at(7, 4))).toBe(s(at(7, 4)));
    }
    expect(resolveStrength(0.5).config).toEqual({ kind: 'constant', value: 0.5 });
  });
  it('reject bad values naming them', () => {
    expect(() => resolveStrength(-1)).toThrow('strength must be a finite number ≥ 0; got -1');
    expect(() => linearWarmup({ value: 1, warmupSteps: 0 })).toThrow('linearWarmup warmupSteps must be an integer ≥ 1; got 0');
    expect(() => strengthFromConfig({ kind: 'cosine' } as never)).toThrow(/kind must be one of/);
  });
});

class Quadratic extends BasePenalty {
  readonly name = 'core-test-quadratic';
  protected override readonly packageName = 'core-test';
  protected term(): tf.Scalar {
    return this.params.reduce((s, p) => tf.add(s, tf.sum(tf.square(p.variable))), tf.scalar(0)) as tf.Scalar;
  }
}

const WITH_VARIABLES = {
  strength: option.strength({ required: true, description: 'λ' }),
  weightDecay: option.number({ min: 0, description: 'decay of the scales' }),
};

/** A penalty with a trainable scale per param, like HALO's λ: Σ |w|/λ² + Σλ². */
class WithVariables extends BasePenalty<typeof WITH_VARIABLES> {
  readonly name = 'core-test-scales';
  private scales: tf.Variable[] = [];
  private static counter = 0;
  constructor(options: OptionsOf<typeof WITH_VARIABLES>) {
    super(options, WITH_VARIABLES, 'core-test-scales');
  }
  get variableOptions() {
    return { weightDecay: this.options.weightDecay };
  }
  protected override init(params: readonly Param[]): void {
    this.scales = params.map((p) => this.own(tf.variable(tf.onesLike(p.variable), true, `scales_${++WithVariables.counter}`)));
  }
  override trainableVariables(): tf.Variable[] {
    return this.scales;
  }
  protected term(): tf.Scalar {
    return this.params.reduce(
      (s, p, i) => tf.add(s, tf.add(tf.sum(tf.div(tf.abs(p.variable), tf.square(this.scales[i]))), tf.sum(tf.square(this.scales[i])))),
      tf.scalar(0),
    ) as tf.Scalar;
  }
}

/** L1 with its closed form λ·sign(w); records the strength tensors it was given. */
class FastL1 extends BasePenalty {
  readonly name = 'core-test-fast-l1';
  readonly strengths: tf.Scalar[] = [];
  protected term(): tf.Scalar {
    return safeL1(...this.params.map((p) => p.variable));
  }
  protected override closedForm(_ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    this.strengths.push(strength);
    const zero = tf.scalar(0);
    return {
      value: tf.mul(this.term(), strength) as tf.Scalar,
      grads: Object.fromEntries(this.params.map((p) => [p.name, signLinear(p.variable, strength, zero)])),
    };
  }
}

describe('BasePenalty and the registry', () => {
  it('keeps its strength tensor from step to step while the strength holds', () => {
    const model = tinyModel(23);
    const before = tf.memory().numTensors;
    const p = new FastL1({ strength: exponentialGrowth({ initial: 0.5, rate: 2 }) });
    p.bind(selectParams(model));
    const step = (ctx: TrainingContext) => tf.dispose(p.gradients(ctx) as unknown as tf.TensorContainer);
    step(at(0, 0));
    const steady = tf.memory().numTensors;
    for (let i = 1; i < 5; i++) step(at(i, 0));
    // The same tensor every step: no new scalar.
    expect(new Set(p.strengths).size).toBe(1);
    expect(tf.memory().numTensors).toBe(steady);
    // A new epoch, a new strength: a new tensor, the old one freed.
    step(at(5, 1));
    const [first, doubled] = [p.strengths[0], p.strengths[5]];
    expect(doubled).not.toBe(first);
    expect(first.isDisposed).toBe(true);
    expect(doubled.dataSync()[0]).toBe(1);
    // The caller owns what gradients() returns: freeing the strength too is allowed.
    doubled.dispose();
    step(at(6, 1));
    expect(p.strengths[6].isDisposed).toBe(false);
    expect(p.strengths[6].dataSync()[0]).toBe(1);
    expect(tf.memory().numTensors).toBe(steady);
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('requires a strength, binds once, and disposes its state', () => {
    expect(() => new Quadratic({} as never)).toThrow(/option "strength" is required/);
    const p = new WithVariables({ strength: 1 });
    const params = selectParams(tinyModel(21));
    const before = tf.memory().numTensors;
    p.bind(params);
    expect(p.trainableVariables().length).toBe(2);
    expect(() => p.bind(params)).toThrow(/already bound/);
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new Quadratic({ strength: 1 }).loss(at(0))).toThrow(/call bind/);
  });

  it('registers plugins, creates by name, validates options, round-trips configs', () => {
    const plugin: SparsifyPlugin = {
      package: 'core-test',
      penalties: [
        {
          name: 'core-test-quadratic',
          package: 'core-test',
          description: 'Σw²',
          schema: STRENGTH_OPTIONS,
          create: (o) => new Quadratic(o as OptionsOf<typeof STRENGTH_OPTIONS>),
        },
      ],
    };
    registerPlugin(plugin);
    expect(listPenalties().map((d) => d.name)).toContain('core-test-quadratic');
    const p = createPenalty('core-test-quadratic', { strength: 0.25 });
    expect(p.getConfig()).toEqual({
      name: 'core-test-quadratic',
      package: 'core-test',
      options: { strength: { kind: 'constant', value: 0.25 } },
    });
    expect(penaltyFromConfig(JSON.parse(JSON.stringify(p.getConfig()))).getConfig()).toEqual(p.getConfig());
    expect(() => createPenalty('no-such')).toThrow(/unknown penalty "no-such"; registered: .*core-test-quadratic/);
    expect(() => createPenalty('core-test-quadratic', { strenght: 1 })).toThrow(
      'Quadratic: unknown option "strenght"; valid options: strength',
    );
    expect(() => registerPlugin({ ...plugin, package: 'other', penalties: [{ ...plugin.penalties[0], package: 'other' }] })).toThrow(
      /already registered by core-test/,
    );
  });
});

describe('TrainStep with several penalties and penalty variables', () => {
  it('sums penalty terms and reports each', () => {
    const model = tinyModel(31);
    const params = selectParams(model);
    const l1 = new TestL1({ strength: 0.01 });
    const quad = new Quadratic({ strength: 0.1 });
    const step = createTrainStep({ model, optimizer: tf.train.sgd(0), penalties: [l1, quad] });
    const { x, y } = tinyBatch(32);
    const r = step.run(x, y);
    const expectedL1 = 0.01 * params.reduce((s, p) => s + tf.sum(tf.abs(p.variable)).dataSync()[0], 0);
    const expectedQuad = 0.1 * params.reduce((s, p) => s + tf.sum(tf.square(p.variable)).dataSync()[0], 0);
    expect(r.penalties[0]).toBeCloseTo(expectedL1, 4);
    expect(r.penalties[1]).toBeCloseTo(expectedQuad, 4);
    expect(r.loss).toBeCloseTo(r.taskLoss + expectedL1 + expectedQuad, 4);
  });

  it('trains penalty variables with their own optimizer and coupled weight decay', () => {
    // Model frozen (lr 0 on a plain SGD); each scale λ minimises |w|/λ² + λ² + (wd/2)λ² → λ⁴ = |w|/(1 + wd/2)·... checked numerically.
    const model = tinyModel(41);
    const penalty = new WithVariables({ strength: 1, weightDecay: 0.5 });
    const optimizer = tf.train.sgd(0);
    const step = createTrainStep({ model, optimizer, penalties: [penalty] });
    const own = step.penaltyOptimizers();
    expect(own.length).toBe(1);
    expect(own[0].optimizer).not.toBe(optimizer);
    // Give the clone a learning rate: the model stays frozen, λ moves.
    (own[0].optimizer as tf.SGDOptimizer).setLearningRate(0.01);
    const { x, y } = tinyBatch(42);
    for (let i = 0; i < 3000; i++) step.run(x, y);
    const w = Math.abs(penalty.params[0].variable.dataSync()[0]);
    const lambda = Math.abs(penalty.trainableVariables()[0].dataSync()[0]);
    // Stationary point of |w|/λ² + λ² with gradient + wd·λ: −2|w|/λ³ + 2λ + 0.5λ = 0 → λ⁴ = 2|w|/2.5.
    expect(lambda).toBeCloseTo(((2 * w) / 2.5) ** 0.25, 3);
  });

  it('stops on a non-finite loss before applying the update', () => {
    const model = tinyModel(51);
    const params = selectParams(model);
    const step = createTrainStep({
      model,
      optimizer: tf.train.sgd(0.1),
      loss: (_labels, outputs) => tf.mul(tf.sum(outputs), tf.scalar(Number.NaN)) as tf.Scalar,
    });
    const before = params.map((p) => Array.from(p.variable.dataSync()));
    const { x, y } = tinyBatch(52);
    expect(() => step.run(x, y)).toThrow(NonFiniteLossError);
    params.forEach((p, i) => expect(Array.from(p.variable.dataSync())).toEqual(before[i]));
    expect(step.context.step).toBe(0);
  });

  it('resets optimizer state on fine-tuning and keeps masks exact', () => {
    const model = tinyModel(61);
    const params = selectParams(model);
    const step = createTrainStep({ model, optimizer: tf.train.momentum(0.05, 0.9), weightDecay: 1e-3 });
    const { x, y } = tinyBatch(62);
    for (let i = 0; i < 20; i++) step.run(x, y);
    const { masks } = {
      masks: params.map((p) => ({
        variable: p.variable,
        mask: tf.tidy(() => tf.cast(tf.greater(tf.abs(p.variable), tf.scalar(0.3)), 'float32')),
      })),
    };
    step.setMasks(masks);
    step.setOptimizer(tf.train.momentum(0.05, 0.9));
    for (let i = 0; i < 50; i++) step.run(x, y);
    params.forEach((p, i) => {
      const m = masks[i].mask.dataSync();
      p.variable.dataSync().forEach((v, j) => m[j] === 0 && expect(v === 0).toBe(true));
    });
    void safeL1;
  });
});

describe('disposeOptimizer', () => {
  it('frees every tensor of a momentum optimizer (tfjs 4.22 dispose() leaks its learning-rate scalar)', async () => {
    const { disposeOptimizer } = await import('../src/index.js');
    const v = tf.variable(tf.ones([3]), true, 'dispose_optimizer_probe');
    const before = tf.memory().numTensors;
    const leaky = tf.train.momentum(0.1, 0.9);
    leaky.applyGradients({ [v.name]: tf.onesLike(v) });
    leaky.dispose();
    expect(tf.memory().numTensors - before).toBeGreaterThan(0); // the upstream leak this helper covers
    const start = tf.memory().numTensors;
    const fresh = tf.train.momentum(0.1, 0.9);
    tf.tidy(() => fresh.applyGradients({ [v.name]: tf.onesLike(v) }));
    disposeOptimizer(fresh);
    expect(tf.memory().numTensors).toBe(start);
    v.dispose();
  });
});
