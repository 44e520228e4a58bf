import * as tf from '@tensorflow/tfjs';
import type { TrainingContext } from './context.js';
import { checkNonNegative, SparsifyConfigError } from './errors.js';
import { applyMasks, type Mask } from './masks.js';
import { applyGradients } from './optimizer-update.js';
import { selectParams, type Param, type SelectOptions } from './params.js';
import type { Penalty } from './penalty.js';

/** Task loss from labels and model outputs. */
export type TaskLoss = (labels: tf.Tensor, outputs: tf.Tensor) => tf.Scalar;

/**
 * Batch-mean softmax cross-entropy on logits (penalties.md §1.3). Labels are one-hot, or class
 * indices (rank 1), which are one-hot encoded here.
 */
export const softmaxCrossEntropy: TaskLoss = (labels, logits) =>
  tf.tidy(() => {
    const oneHot = labels.rank === 1 ? tf.oneHot(tf.cast(labels, 'int32'), logits.shape[logits.rank - 1]) : labels;
    return tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar;
  });

export interface TrainStepOptions {
  /** The model; its forward pass runs with `training: true`. Either this or `forward` + `variables`. */
  model?: tf.LayersModel;
  /** A custom forward pass (logits from inputs), for models that are not LayersModels. */
  forward?: (inputs: tf.Tensor) => tf.Tensor;
  /** Variables to train; default: the model's trainable weights. */
  variables?: readonly tf.Variable[];
  /** Task loss; default: softmax cross-entropy on logits. */
  loss?: TaskLoss;
  optimizer: tf.Optimizer;
  /** Penalties; an unbound penalty is bound to `penaltySelection` of the model (kernels by default). */
  penalties?: readonly Penalty[];
  penaltySelection?: SelectOptions;
  /** Coupled L2 weight decay on every model variable: g ← g + wd·θ (TF.js optimizers have none). */
  weightDecay?: number;
  /** Fixed masks: gradients and weights are masked every step so pruned weights stay exactly 0. */
  masks?: readonly Mask[];
  /** Where training starts (resume). */
  context?: TrainingContext;
  /** Check the loss for NaN/Inf before each update (default true); throws NonFiniteLossError. */
  checkFinite?: boolean;
}

export interface StepResult {
  /** Task loss + penalty. */
  readonly loss: number;
  readonly taskLoss: number;
  readonly penaltyLoss: number;
  /** Each penalty's term, strength included, in the order given. */
  readonly penalties: readonly number[];
  /**
   * Fraction of the batch classified correctly (argmax of the outputs vs the labels), measured in the
   * same forward pass; undefined when outputs are not [batch, classes].
   */
  readonly accuracy?: number;
}

/** Correct predictions in a batch, or null when outputs/labels are not a classification. */
function correctCount(labels: tf.Tensor, outputs: tf.Tensor): tf.Scalar | null {
  if (outputs.rank !== 2) return null;
  if (labels.rank === 1) return tf.sum(tf.cast(tf.equal(tf.argMax(outputs, 1), tf.cast(labels, 'int32')), 'float32')) as tf.Scalar;
  if (labels.rank === 2 && labels.shape[1] === outputs.shape[1]) {
    return tf.sum(tf.cast(tf.equal(tf.argMax(outputs, 1), tf.argMax(labels, 1)), 'float32')) as tf.Scalar;
  }
  return null;
}

export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    readonly taskLoss: number,
    readonly penaltyLoss: number,
  ) {
    super(
      `loss is not finite at step ${step} (task loss ${taskLoss}, penalty ${penaltyLoss}); the update was not applied. ` +
        'Lower the learning rate or the penalty strength, and resume from the last good checkpoint.',
    );
  }
}

interface PenaltyGroup {
  readonly penalty: Penalty;
  readonly variables: tf.Variable[];
  readonly optimizer: tf.Optimizer;
  readonly ownsOptimizer: boolean;
  readonly weightDecay: number;
}

/**
 * Disposes an optimizer completely. tfjs 4.22's `MomentumOptimizer.dispose()` frees its momentum
 * scalar and slots but not the learning-rate scalar its SGD parent keeps (`c`), leaking one tensor
 * per optimizer; this frees that too.
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  // Not `instanceof`: tf.Optimizer's Symbol.hasInstance is duck-typed and matches every optimizer.
  if ((optimizer.constructor as { className?: string }).className === 'Momentum') {
    const c = (optimizer as unknown as { c?: tf.Tensor }).c;
    if (c && !c.isDisposed) c.dispose();
  }
}

/** A fresh optimizer of the same class and settings (so slot state is separate). */
export function cloneOptimizer(optimizer: tf.Optimizer): tf.Optimizer {
  const cls = optimizer.constructor as unknown as tf.serialization.SerializableConstructor<tf.Optimizer> & {
    fromConfig: (cls: unknown, config: tf.serialization.ConfigDict) => tf.Optimizer;
  };
  return cls.fromConfig(cls, optimizer.getConfig());
}

/**
 * The training step for custom loops: loss = task loss + Σ penalties; one backward pass gives gradients
 * for the model's variables and the penalties' variables; coupled weight decay; masked gradients and
 * weights; one optimizer for the model and one per penalty that owns variables (optimizer slots are
 * positional, so groups never mix). Every step runs inside `tf.tidy`; nothing accumulates.
 */
export class TrainStep {
  readonly variables: readonly tf.Variable[];
  readonly penalties: readonly Penalty[];
  private readonly forward: (x: tf.Tensor) => tf.Tensor;
  private readonly lossFn: TaskLoss;
  private optimizer: tf.Optimizer;
  private readonly weightDecay: number;
  private readonly groups: PenaltyGroup[];
  private masks: Map<tf.Variable, tf.Tensor> = new Map();
  private readonly checkFiniteLoss: boolean;
  private ctx: { step: number; epoch: number };

  constructor(options: TrainStepOptions) {
    const { model } = options;
    if (!model && !(options.forward && options.variables)) {
      throw new SparsifyConfigError('TrainStep needs either `model`, or both `forward` and `variables`');
    }
    this.forward = options.forward ?? ((x) => model!.apply(x, { training: true }) as tf.Tensor);
    this.variables = (options.variables ?? model!.trainableWeights.map((w) => w.read() as tf.Variable)).slice();
    this.lossFn = options.loss ?? softmaxCrossEntropy;
    this.optimizer = options.optimizer;
    this.weightDecay = options.weightDecay ?? 0;
    checkNonNegative('weightDecay', this.weightDecay);
    this.checkFiniteLoss = options.checkFinite ?? true;
    this.ctx = { step: options.context?.step ?? 0, epoch: options.context?.epoch ?? 0 };
    this.penalties = (options.penalties ?? []).slice();
    let defaultParams: Param[] | undefined;
    for (const penalty of this.penalties) {
      if (penalty.params.length === 0) {
        if (!model) throw new SparsifyConfigError(`penalty ${penalty.name} is unbound; bind it or pass \`model\``);
        defaultParams ??= selectParams(model, options.penaltySelection);
        penalty.bind(defaultParams);
      }
    }
    this.groups = this.penalties
      .map((penalty) => ({ penalty, variables: penalty.trainableVariables() }))
      .filter((g) => g.variables.length > 0)
      .map(({ penalty, variables }) => {
        const own = penalty.variableOptions?.optimizer;
        const weightDecay = penalty.variableOptions?.weightDecay ?? this.weightDecay;
        checkNonNegative(`${penalty.name} variable weightDecay`, weightDecay);
        return { penalty, variables, optimizer: own ?? cloneOptimizer(this.optimizer), ownsOptimizer: !own, weightDecay };
      });
    if (options.masks) this.setMasks(options.masks);
  }

  /** Where training stands: the step counter advances with every `run`, the epoch with `endEpoch`. */
  get context(): TrainingContext {
    return { step: this.ctx.step, epoch: this.ctx.epoch };
  }

  /** Replaces the fixed masks (null: none). Masks are applied to the weights at once. */
  setMasks(masks: readonly Mask[] | null): void {
    this.masks = new Map((masks ?? []).map((m) => [m.variable, m.mask]));
    if (masks) applyMasks(masks);
  }

  /** Swaps the model optimizer, e.g. a fresh one for fine-tuning (momentum state starts at zero). */
  setOptimizer(optimizer: tf.Optimizer): void {
    this.optimizer = optimizer;
  }

  get modelOptimizer(): tf.Optimizer {
    return this.optimizer;
  }

  /** The optimizers of the penalties' variables, by penalty, for checkpoints. */
  penaltyOptimizers(): { penalty: Penalty; optimizer: tf.Optimizer }[] {
    return this.groups.map((g) => ({ penalty: g.penalty, optimizer: g.optimizer }));
  }

  /** One forward/backward/update on a batch. */
  run(inputs: tf.Tensor, labels: tf.Tensor): StepResult {
    const ctx = this.context;
    const allVariables = [...this.variables, ...this.groups.flatMap((g) => g.variables)];
    const readings = tf.tidy(() => {
      const parts: tf.Scalar[] = [];
      let correct: tf.Scalar | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const outputs = this.forward(inputs);
        const taskLoss = this.lossFn(labels, outputs);
        const terms = this.penalties.map((p) => p.loss(ctx));
        // variableGrads tidies everything but its result: keep the parts we report.
        parts.push(tf.keep(taskLoss), ...terms.map((t) => tf.keep(t)));
        const count = correctCount(labels, outputs);
        if (count) correct = tf.keep(count);
        return terms.reduce((sum, t) => tf.add(sum, t), taskLoss) as tf.Scalar;
      }, allVariables);
      // One read-back per step: loss, task loss, each penalty term, and the correct count.
      const values = tf.stack(correct ? [value, ...parts, correct] : [value, ...parts]);
      parts.forEach((t) => t.dispose());
      (correct as tf.Scalar | null)?.dispose();
      const host = Array.from(values.dataSync());
      const accuracy = correct ? host.pop()! / inputs.shape[0] : undefined;
      const taskLoss = host[1];
      const penaltyLoss = host.length > 2 ? host.slice(2).reduce((a, b) => a + b, 0) : 0;
      if (this.checkFiniteLoss && !(Number.isFinite(host[0]) && Number.isFinite(taskLoss))) {
        throw new NonFiniteLossError(ctx.step, taskLoss, penaltyLoss);
      }
      applyGradients(this.optimizer, this.gradientsFor(this.variables, grads, this.weightDecay));
      for (const group of this.groups) {
        applyGradients(group.optimizer, this.gradientsFor(group.variables, grads, group.weightDecay));
      }
      return { loss: host[0], taskLoss, penaltyLoss, penalties: host.slice(2), accuracy };
    });
    if (this.masks.size > 0) {
      for (const [variable, mask] of this.masks) tf.tidy(() => variable.assign(tf.mul(variable, mask)));
    }
    for (const penalty of this.penalties) penalty.onStepEnd?.(ctx);
    this.ctx.step += 1;
    return readings;
  }

  /** Ends an epoch: penalties' epoch hooks run, the epoch counter advances. */
  endEpoch(): void {
    const ctx = this.context;
    for (const penalty of this.penalties) penalty.onEpochEnd?.(ctx);
    this.ctx.epoch += 1;
  }

  /** Sets the counters, e.g. after restoring a checkpoint. */
  setContext(ctx: TrainingContext): void {
    this.ctx = { step: ctx.step, epoch: ctx.epoch };
  }

  /**
   * Gradients in a fixed order (optimizer slots are positional): missing ones (variables the loss did
   * not touch) are zeros, coupled decay is added from the already-masked weights, then masked.
   */
  private gradientsFor(variables: readonly tf.Variable[], grads: tf.NamedTensorMap, weightDecay: number): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const variable of variables) {
      let g: tf.Tensor = grads[variable.name] ?? tf.zerosLike(variable);
      if (weightDecay > 0) g = tf.add(g, tf.mul(variable, tf.scalar(weightDecay)));
      const mask = this.masks.get(variable);
      if (mask) g = tf.mul(g, mask);
      out[variable.name] = g;
    }
    return out;
  }

  /** Disposes the optimizers this step created for penalty variables (not penalties, masks or the model). */
  dispose(): void {
    for (const g of this.groups) if (g.ownsOptimizer) disposeOptimizer(g.optimizer);
  }
}

export function createTrainStep(options: TrainStepOptions): TrainStep {
  return new TrainStep(options);
}
