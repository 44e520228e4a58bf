import * as tf from '@tensorflow/tfjs';
import { BasePenalty, option, safeL1, signLinear, type OptionsOf, type PenaltyGradients, type SparsifyPlugin, type TrainingContext } from '@sparsify/core';

// One schema gives the options' type, their validation and defaults, the CLI's help and getConfig().
export const ELASTIC_NET_OPTIONS = {
  strength: option.strength({ required: true, description: 'λ (a number ≥ 0, a schedule or its config)' }),
  l1Ratio: option.number({ default: 0.5, min: 0, max: 1, description: 'ρ: the L1 share of the penalty' }),
};

/** λ·Σ [ρ·|w| + (1 − ρ)/2·w²] over the bound weights. */
export class ElasticNet extends BasePenalty<typeof ELASTIC_NET_OPTIONS> {
  readonly name = 'elastic-net';
  protected override readonly packageName = 'my-elastic-net';

  constructor(options: OptionsOf<typeof ELASTIC_NET_OPTIONS>) {
    super(options, ELASTIC_NET_OPTIONS, 'elasticNet');
  }

  // Required: the penalty without its strength, differentiable (here with tfjs's own gradients).
  protected term(): tf.Scalar {
    const { l1Ratio } = this.options;
    const ws = this.params.map((p) => p.variable);
    const squares = tf.addN(ws.map((w) => tf.sum(tf.square(w))));
    return tf.add(tf.mul(safeL1(...ws), l1Ratio), tf.mul(squares, (1 - l1Ratio) / 2)) as tf.Scalar;
  }

  // Optional: loss(ctx) and its gradients without a tape, here ρλ·sign(w) + (1 − ρ)λ·w in one pass.
  protected override closedForm(_ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    const { l1Ratio } = this.options;
    const grads = Object.fromEntries(this.params.map((p) => [p.variable.name, signLinear(p.variable, tf.scalar(l1Ratio), tf.scalar(1 - l1Ratio), strength)]));
    return { value: tf.mul(this.term(), strength) as tf.Scalar, grads };
  }
}

export const plugin: SparsifyPlugin = {
  package: 'my-elastic-net',
  penalties: [{ name: 'elastic-net', package: 'my-elastic-net', description: 'elastic net', schema: ELASTIC_NET_OPTIONS, create: (o) => new ElasticNet(o as OptionsOf<typeof ELASTIC_NET_OPTIONS>) }],
};
