import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BasePenalty,
  FUSED_KERNELS,
  createTrainStep,
  disposeOptimizer,
  groupScale,
  safeL1,
  selectParams,
  startLoopKernel,
  variadicCustomGrad,
  type LossAndGradients,
  type Penalty,
  type TrainingContext,
} from '../src/index.js';
import { tinyBatch, tinyModel, useBackend } from './helpers.js';

/** L1 with its tape-free gradient in the a·sign(w) + b·w form (here 1·sign(w) + 0.25·w, with a 0.125·Σw² term). */
class FastL1L2 extends BasePenalty {
  readonly name = 'fast-l1-l2';
  private readonly op = variadicCustomGrad<tf.Scalar>((ws, save) => {
    save(ws);
    const squares = tf.addN(ws.map((w) => tf.sum(tf.square(w))));
    return {
      value: tf.add(safeL1(...ws), tf.mul(squares, tf.scalar(0.125))) as tf.Scalar,
      gradFunc: (dy, saved) => saved.map((w) => tf.add(tf.add(tf.mul(tf.sign(w), dy), tf.mul(w, tf.mul(dy, tf.scalar(0.25)))), tf.scalar(0))),
    };
  });
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.op(...this.params.map((p) => p.variable));
  }
  protected override termAndGradients(ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    const variables = this.params.map((p) => p.variable);
    const [a, b] = [strength, tf.mul(strength, tf.scalar(0.25)) as tf.Scalar];
    return { value: this.term(ctx), gradients: variables.map((variable) => ({ variable, a, b })) };
  }
}

/** Σ w³/3·k with the gradient k·w² as `scale·tensor` (scale k = 0.5). */
class FastCubic extends BasePenalty {
  readonly name = 'fast-cubic';
  private readonly op = variadicCustomGrad<tf.Scalar>((ws, save) => {
    save(ws);
    return {
      value: tf.mul(tf.addN(ws.map((w) => tf.sum(tf.pow(w, 3)))), tf.scalar(0.5 / 3)) as tf.Scalar,
      gradFunc: (dy, saved) => saved.map((w) => tf.mul(tf.square(w), tf.mul(dy, tf.scalar(0.5)))),
    };
  });
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.op(...this.params.map((p) => p.variable));
  }
  protected override termAndGradients(ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    const variables = this.params.map((p) => p.variable);
    const scale = tf.mul(strength, tf.scalar(0.5)) as tf.Scalar;
    return { value: this.term(ctx), gradients: variables.map((variable) => ({ variable, tensor: tf.square(variable), scale })) };
  }
}

/**
 * ½·Σ w²·(rᵢ + cₒ) over each kernel [I, O], rᵢ = 0.01·(i + 1), cₒ = −0.005·o: the gradient w·(rᵢ + cₒ)
 * in the `rows`/`cols` form (groupScale's).
 */
class FastGroupQuadratic extends BasePenalty {
  readonly name = 'fast-group-quadratic';
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
    return [tf.mul(tf.mul(tf.range(1, I + 1), tf.scalar(0.01)), dy) as tf.Tensor1D, tf.mul(tf.mul(tf.range(0, O), tf.scalar(-0.005)), dy) as tf.Tensor1D];
  }
  private kernels(): tf.Variable[] {
    return this.params.map((p) => p.variable).filter((v) => v.rank === 2);
  }
  protected term(_ctx: TrainingContext): tf.Scalar {
    return this.op(...this.kernels());
  }
  protected override termAndGradients(ctx: TrainingContext, strength: tf.Scalar): LossAndGradients {
    const gradients = this.kernels().map((variable) => {
      const [rows, cols] = this.factors(variable, strength);
      return { variable, rows, cols };
    });
    return { value: this.term(ctx), gradients };
  }
}

/** The penalty as a training step sees one without lossAndGradients. */
const onTheTape = (p: Penalty): Penalty => new Proxy(p, { get: (t, k) => (k === 'lossAndGradients' ? undefined : Reflect.get(t, k)) });

function train(make: () => Penalty[], tape: boolean, options: { weightDecay: number; masked: boolean }): { weights: number[][]; losses: number[] } {
  const model = tinyModel(5);
  const { x, y } = tinyBatch(6);
  const penalties = make();
  const params = selectParams(model);
  penalties.forEach((p) => p.bind(params));
  const first = params[0].variable;
  const masks = options.masked ? [{ variable: first, mask: tf.tidy(() => tf.cast(tf.greater(tf.abs(first), 0.2), 'float32')) }] : undefined;
  const optimizer = tf.train.momentum(0.05, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: options.weightDecay, penalties: tape ? penalties.map(onTheTape) : penalties, masks });
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

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`the training step with tape-free penalty gradients (${backend})`, () => {
    afterAll(() => useBackend('cpu'));
    const cases: [string, () => Penalty[]][] = [
      ['a·sign(w) + b·w', () => [new FastL1L2({ strength: 3e-3 })]],
      ['scale·tensor', () => [new FastCubic({ strength: 0.2 })]],
      ['w·(rows[i] + cols[o])', () => [new FastGroupQuadratic({ strength: 0.3 })]],
      ['two penalties on the same weights', () => [new FastL1L2({ strength: 3e-3 }), new FastCubic({ strength: 0.2 })]],
    ];
    for (const [form, make] of cases) {
      for (const options of [{ weightDecay: 0, masked: false }, { weightDecay: 1e-3, masked: false }, { weightDecay: 0, masked: true }]) {
        it(`${form} (decay ${options.weightDecay}${options.masked ? ', masked' : ''}): the same weights and losses as the tape, bit for bit`, async () => {
          await useBackend(backend);
          const before = tf.memory().numTensors;
          const fast = train(make, false, options);
          const taped = train(make, true, options);
          expect(fast.losses).toEqual(taped.losses);
          expect(fast.weights).toEqual(taped.weights);
          expect(tf.memory().numTensors).toBe(before);
        });
      }
    }
  });
}

describe('onStepBegin', () => {
  it('runs first in every step, before the forward pass and lossAndGradients, with that step’s context', async () => {
    await useBackend('cpu');
    const events: string[] = [];
    class Recording extends FastL1L2 {
      onStepBegin(ctx: TrainingContext): void {
        events.push(`begin ${ctx.step}`);
      }
      override lossAndGradients(ctx: TrainingContext): LossAndGradients | undefined {
        events.push(`lossAndGradients ${ctx.step}`);
        return super.lossAndGradients(ctx);
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
    const step = createTrainStep({ forward, variables: model.trainableWeights.map((w) => w.read() as tf.Variable), optimizer, penalties: [penalty] });
    step.run(x, y);
    step.run(x, y);
    expect(events).toEqual(['begin 0', 'forward', 'lossAndGradients 0', 'end 0', 'begin 1', 'forward', 'lossAndGradients 1', 'end 1']);
    step.dispose();
    disposeOptimizer(optimizer);
    penalty.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });

  it('startLoopKernel declines where the heap is not shared (cpu, single-threaded wasm): callers run the kernel in place', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const x = tf.tensor1d([1, -2, 0]);
      const [a, b, c] = [tf.scalar(1), tf.scalar(0.5), tf.scalar(2)];
      expect(startLoopKernel(FUSED_KERNELS.signLinear, [x, a, b, c], {})).toBeUndefined();
      tf.dispose([x, a, b, c]);
    }
    await useBackend('cpu');
  });
});
