import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BasePenalty,
  createTrainStep,
  disposeOptimizer,
  groupScale,
  safeL1,
  selectParams,
  signLinear,
  variadicCustomGrad,
  type Penalty,
  type PenaltyGradients,
  type TrainingContext,
} from '../src/index.js';
import { tinyBatch, tinyModel, useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

/** Σ|w| + 0.125·Σw², gradient sign(w) + 0.25·w (core's signLinear), on the tape or in closed form. */
class L1L2 extends BasePenalty {
  readonly name = 'closed-l1-l2';
  private readonly op = variadicCustomGrad<tf.Scalar>((ws, save) => {
    save(ws);
    const squares = tf.addN(ws.map((w) => tf.sum(tf.square(w))));
    return {
      value: tf.add(safeL1(...ws), tf.mul(squares, tf.scalar(0.125))) as tf.Scalar,
      gradFunc: (dy, saved) => saved.map((w) => signLinear(w, tf.scalar(1), tf.scalar(0.25), dy)),
    };
  });
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.op(...this.params.map((p) => p.variable));
  }
  protected override closedForm(ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    const grads = Object.fromEntries(this.params.map((p) => [p.name, signLinear(p.variable, tf.scalar(1), tf.scalar(0.25), strength)]));
    return { value: tf.mul(this.term(ctx), strength) as tf.Scalar, grads };
  }
}

/**
 * ½·Σ w²·(rᵢ + cₒ) over each kernel [I, O], rᵢ = 0.01·(i + 1), cₒ = −0.005·o: the gradient w·(rᵢ + cₒ)
 * (core's groupScale).
 */
class GroupQuadratic extends BasePenalty {
  readonly name = 'closed-group-quadratic';
  private readonly op = variadicCustomGrad<tf.Scalar>((ws, save) => {
    save(ws);
    const one = tf.scalar(1);
    const terms = ws.map((w) => {
      const [rows, cols] = this.factors(w, one);
      return tf.mul(tf.sum(tf.mul(tf.square(w), tf.add(tf.reshape(rows, [-1, 1]), cols))), tf.scalar(0.5));
    });
    return { value: tf.addN(terms) as tf.Scalar, gradFunc: (dy, saved) => saved.map((w) => groupScale(w, ...this.factors(w, dy))) };
  });
  private factors(w: tf.Tensor, dy: tf.Tensor): [tf.Tensor1D, tf.Tensor1D] {
    const [I, O] = w.shape;
    return [
      tf.mul(tf.mul(tf.range(1, I + 1), tf.scalar(0.01)), dy) as tf.Tensor1D,
      tf.mul(tf.mul(tf.range(0, O), tf.scalar(-0.005)), dy) as tf.Tensor1D,
    ];
  }
  private kernels(): tf.Variable[] {
    return this.params.map((p) => p.variable).filter((v) => v.rank === 2);
  }
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.op(...this.kernels());
  }
  protected override closedForm(ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    const grads = Object.fromEntries(this.kernels().map((v) => [v.name, groupScale(v, ...this.factors(v, strength))]));
    return { value: tf.mul(this.term(ctx), strength) as tf.Scalar, grads };
  }
}

/** The penalty as a training step sees one without `gradients`. */
const onTheTape = (p: Penalty): Penalty => new Proxy(p, { get: (t, k) => (k === 'gradients' ? undefined : Reflect.get(t, k)) });

function train(
  make: () => Penalty[],
  tape: boolean,
  options: { weightDecay: number; masked: boolean },
): { weights: number[][]; losses: number[] } {
  const model = tinyModel(5);
  const { x, y } = tinyBatch(6);
  const penalties = make();
  const params = selectParams(model);
  penalties.forEach((p) => p.bind(params));
  const first = params[0].variable;
  const masks = options.masked ? [{ variable: first, mask: tf.tidy(() => tf.cast(tf.greater(tf.abs(first), 0.2), 'float32')) }] : undefined;
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({
    model,
    optimizer,
    weightDecay: options.weightDecay,
    penalties: tape ? penalties.map(onTheTape) : penalties,
    masks,
  });
  const losses: number[] = [];
  for (let i = 0; i < 12; i++) losses.push(step.run(x, y).loss);
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
  step.dispose();
  disposeOptimizer(optimizer);
  penalties.forEach((p) => p.dispose());
  masks?.forEach((m) => m.mask.dispose());
  tf.dispose([x, y]);
  model.dispose();
  return { weights, losses };
}

describe('the training step with closed-form penalty gradients', () => {
  const cases: [string, () => Penalty[]][] = [
    ['signLinear', () => [new L1L2({ strength: 3e-3 })]],
    ['groupScale', () => [new GroupQuadratic({ strength: 0.3 })]],
    ['two penalties on the same weights', () => [new L1L2({ strength: 3e-3 }), new GroupQuadratic({ strength: 0.2 })]],
  ];
  for (const [form, make] of cases) {
    for (const options of [
      { weightDecay: 0, masked: false },
      { weightDecay: 1e-3, masked: false },
      { weightDecay: 0, masked: true },
    ]) {
      it(`${form} (decay ${options.weightDecay}${options.masked ? ', masked' : ''}): the same weights and losses as the tape, bit for bit`, () => {
        const before = tf.memory().numTensors;
        const closed = train(make, false, options);
        const taped = train(make, true, options);
        expect(closed.losses).toEqual(taped.losses);
        expect(closed.weights).toEqual(taped.weights);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('asks for them first in every step, before the forward pass, with that step’s context', () => {
    const events: string[] = [];
    class Recording extends L1L2 {
      override gradients(ctx: TrainingContext): PenaltyGradients | undefined {
        events.push(`gradients ${ctx.step}`);
        return super.gradients(ctx);
      }
      onStepEnd(ctx: TrainingContext): void {
        events.push(`end ${ctx.step}`);
      }
    }
    const model = tinyModel(5);
    const { x, y } = tinyBatch(6);
    const penalty = new Recording({ strength: 1e-3 });
    penalty.bind(selectParams(model));
    const optimizer = tf.train.momentum(0.05, 0.9);
    const forward = (inputs: tf.Tensor) => {
      events.push('forward');
      return model.apply(inputs, { training: true }) as tf.Tensor;
    };
    const step = createTrainStep({
      forward,
      variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
      optimizer,
      penalties: [penalty],
    });
    step.run(x, y);
    step.run(x, y);
    expect(events).toEqual(['gradients 0', 'forward', 'end 0', 'gradients 1', 'forward', 'end 1']);
    step.dispose();
    disposeOptimizer(optimizer);
    penalty.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });
});
