import * as tf from '@tensorflow/tfjs';
import { BasePenalty, safeL1, STRENGTH_OPTIONS, unaryCustomGrad, type SparsifyPlugin, type TrainingContext } from '@sparsify/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { conformanceChecks, describeConformance, type ConformanceOptions } from '../src/index.js';

class GoodL1 extends BasePenalty {
  readonly name = 'conformance-good-l1';
  protected override readonly packageName = 'conformance-test';
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.params.reduce((s, p) => tf.add(s, safeL1(p.variable)), tf.scalar(0)) as tf.Scalar;
  }
}

/** Wrong gradient: 2·sign(w) for a value of Σ|w|. */
const wrongAbs = unaryCustomGrad((x, save) => {
  save([x]);
  return { value: tf.abs(x), gradFunc: (dy, [s]) => tf.mul(dy, tf.mul(tf.sign(s), tf.scalar(2))) };
});
class WrongGradient extends BasePenalty {
  readonly name = 'conformance-wrong-gradient';
  protected term(): tf.Scalar {
    return this.params.reduce((s, p) => tf.add(s, tf.sum(wrongAbs(p.variable))), tf.scalar(0)) as tf.Scalar;
  }
}

/** Leaks one tensor per step (kept outside any tidy). */
class Leaky extends GoodL1 {
  onStepEnd(): void {
    tf.keep(tf.scalar(1));
  }
}

/** Creates state it never frees. */
class NoDispose extends GoodL1 {
  protected override init(): void {
    tf.keep(tf.zeros([3]));
  }
}

const plugin: SparsifyPlugin = {
  package: 'conformance-test',
  penalties: [
    {
      name: 'conformance-good-l1',
      package: 'conformance-test',
      description: 'test L1',
      schema: STRENGTH_OPTIONS,
      create: (o) => new GoodL1(o as { strength: number }),
    },
  ],
};

const base: Omit<ConformanceOptions, 'create' | 'name'> = { plugin };

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({ describe, it }, { ...base, name: 'good L1', create: () => new GoodL1({ strength: 0.5 }) });

describe('fixtures', () => {
  it('leave nothing behind once disposed', async () => {
    const { fixtureParams, disposeParams } = await import('../src/index.js');
    const before = tf.memory().numTensors;
    disposeParams(fixtureParams(3));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the battery catches broken penalties', () => {
  const find = (options: ConformanceOptions, name: string) => conformanceChecks(options).find((c) => c.name.startsWith(name))!;
  it('a wrong gradient', async () => {
    const check = find({ ...base, name: 'wrong', create: () => new WrongGradient({ strength: 1 }) }, 'gradient');
    await expect(check.run()).rejects.toThrow(/finite differences/);
  });
  it('a tensor leak per step', async () => {
    const check = find({ ...base, name: 'leaky', create: () => new Leaky({ strength: 1 }) }, 'no tensor growth');
    await expect(check.run()).rejects.toThrow(/numTensors grew/);
  });
  it('state left after dispose', async () => {
    const check = find({ ...base, name: 'no-dispose', create: () => new NoDispose({ strength: 1 }) }, 'dispose');
    await expect(check.run()).rejects.toThrow(/dispose\(\) left 1 tensors/);
  });
});
