import * as tf from '@tensorflow/tfjs';
import type { TrainingContext } from './context.js';
import { checkNonNegative, SparsifyConfigError } from './errors.js';
import { inputConvCalls } from './input-convs.js';
import { withLayerCalls } from './layer-calls.js';
import { applyMasks, type Mask } from './masks.js';
import { applyGradients } from './optimizer-update.js';
import { cloneOptimizer, disposeOptimizer } from './optimizers.js';
import { selectParams, type Param, type SelectOptions } from './params.js';
import type { Penalty } from './penalty.js';
import { layerOpCalls } from './training-layers.js';

/** Task loss from labels and model outputs. */
export type TaskLoss = (labels: tf.Tensor, outputs: tf.Tensor) => tf.Scalar;

/**
 * Batch-mean softmax cross-entropy on logits (see docs/conventions.md, "The loss"). Labels are one-hot, or class
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
  /**
   * With `model`: run the Conv2D layers fed by the model's input as `conv2d` + bias while training, so
   * that the backward pass does not compute the gradient of the input batch (default true). tfjs's
   * fused conv computes it, unused (its cost: docs/performance.md). false: tfjs's fused conv.
   */
  skipInputGradients?: boolean;
  /**
   * With `model`: run BatchNormalization layers (over the last axis) and ReLU layers as sparsify's layer
   * ops, `batchNormTraining` and `relu`, while training (default true): one kernel each way where an
   * accelerator registers them for the backend (tfjs-layers' training-mode BatchNormalization is ≈ 30
   * small ops), the same values to float32 rounding; elsewhere the same tfjs ops as the layers. Moving
   * averages are updated as the layer does. With this and `skipInputGradients` false: exactly
   * `model.apply`.
   */
  layerOps?: boolean;
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

/**
 * f's value and its gradients for `xs`, by variable name, where f depends on the variable (nothing is
 * asserted: a penalty term may be constant, a custom loss may skip variables).
 */
function gradientsByName(f: () => tf.Scalar, xs: readonly tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  if (xs.length === 0) return { value: f(), grads: {} };
  const { value, grads } = tf.engine().gradients(f, xs.slice(), undefined, true);
  return { value: value as tf.Scalar, grads: Object.fromEntries(xs.flatMap((v, i) => (grads[i] ? [[v.name, grads[i]]] : []))) };
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
        'Lower the learning rate or the penalty strength.',
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
  /** Every variable a penalty differentiates: bound params and penalty variables, once each. */
  private readonly penaltyVariables: tf.Variable[];
  private masks: Map<tf.Variable, tf.Tensor> = new Map();
  private readonly checkFiniteLoss: boolean;
  private ctx: { step: number; epoch: number };

  constructor(options: TrainStepOptions) {
    const { model } = options;
    if (!model && !(options.forward && options.variables)) {
      throw new SparsifyConfigError('TrainStep needs either `model`, or both `forward` and `variables`');
    }
    const apply = (x: tf.Tensor) => model!.apply(x, { training: true }) as tf.Tensor;
    const calls = () => [
      ...(options.skipInputGradients === false ? [] : inputConvCalls(model!)),
      ...(options.layerOps === false ? [] : layerOpCalls(model!)),
    ];
    this.forward = options.forward ?? ((x) => withLayerCalls(calls(), () => apply(x)));
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
    this.penaltyVariables = [
      ...new Set([...this.penalties.flatMap((p) => p.params.map((q) => q.variable)), ...this.groups.flatMap((g) => g.variables)]),
    ];
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
    const readings = tf.tidy(() => {
      // Closed-form penalty gradients first: they depend only on the weights, which the forward and
      // backward passes leave unchanged, so a kernel may compute them meanwhile (on another thread).
      const closed = this.penalties.map((p) => p.gradients?.(ctx));
      let correct: tf.Scalar | null = null;
      // The task loss and the taped penalties are differentiated on separate tapes: a penalty's gradient
      // then reaches the update as a second part, added in the momentum pass where that has a kernel,
      // instead of through a full-size Add into each weight's gradient on the tape. Same gradients.
      const task = gradientsByName(() => {
        const outputs = this.forward(inputs);
        const count = correctCount(labels, outputs);
        if (count) correct = tf.keep(count);
        return this.lossFn(labels, outputs);
      }, this.variables);
      const terms: tf.Scalar[] = closed.map((c) => c?.value as tf.Scalar);
      const parts = new Map<string, tf.Tensor[]>();
      const addPart = (name: string, g: tf.Tensor) => parts.set(name, [...(parts.get(name) ?? []), g]);
      for (const c of closed) for (const [name, g] of Object.entries(c?.grads ?? {})) addPart(name, g);
      const taped = this.penalties.flatMap((_p, i) => (closed[i] ? [] : [i]));
      if (taped.length > 0) {
        const { grads } = gradientsByName(() => {
          const losses = taped.map((i) => this.penalties[i].loss(ctx));
          // The tape tidies everything but its result: keep the terms we report.
          losses.forEach((t, j) => (terms[taped[j]] = tf.keep(t)));
          return losses.reduce((sum, t) => tf.add(sum, t)) as tf.Scalar;
        }, this.penaltyVariables);
        for (const [name, g] of Object.entries(grads)) addPart(name, g);
      }
      if (Object.keys(task.grads).length + parts.size === 0) {
        throw new SparsifyConfigError('TrainStep: neither the loss nor any penalty depends on a variable it trains');
      }
      // One read-back per step: task loss, each penalty term, and the correct count.
      const values = tf.stack(correct ? [task.value, ...terms, correct] : [task.value, ...terms]);
      // Kept past their tapes' tidy, so freed here.
      taped.forEach((i) => terms[i].dispose());
      (correct as tf.Scalar | null)?.dispose();
      const host = Array.from(values.dataSync());
      const accuracy = correct ? host.pop()! / inputs.shape[0] : undefined;
      const [taskLoss, ...penalties] = host;
      const penaltyLoss = penalties.reduce((a, b) => a + b, 0);
      if (this.checkFiniteLoss && !(Number.isFinite(taskLoss) && Number.isFinite(penaltyLoss))) {
        throw new NonFiniteLossError(ctx.step, taskLoss, penaltyLoss);
      }
      const modelUpdate = this.gradientsFor(this.variables, task.grads, parts, this.weightDecay);
      applyGradients(this.optimizer, modelUpdate.gradients, modelUpdate.parts);
      for (const group of this.groups) {
        const update = this.gradientsFor(group.variables, task.grads, parts, group.weightDecay);
        applyGradients(group.optimizer, update.gradients, update.parts);
      }
      return { loss: taskLoss + penaltyLoss, taskLoss, penaltyLoss, penalties, accuracy };
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
   * Gradients in a fixed order (optimizer slots are positional). Where a variable has no mask and its
   * gradient at most two parts (the task's and one penalty's), they and coupled decay are added in the
   * update; otherwise they are summed here, missing ones (variables no loss touched) being zeros, decay
   * added from the already-masked weights, then the mask applied.
   */
  private gradientsFor(
    variables: readonly tf.Variable[],
    taskGrads: tf.NamedTensorMap,
    penaltyParts: ReadonlyMap<string, tf.Tensor[]>,
    weightDecay: number,
  ): { gradients: tf.NamedTensorMap; parts: { addends: tf.NamedTensorMap; decay: Record<string, number> } } {
    const gradients: tf.NamedTensorMap = {};
    const addends: tf.NamedTensorMap = {};
    const decay: Record<string, number> = {};
    for (const variable of variables) {
      const task = taskGrads[variable.name];
      const parts = penaltyParts.get(variable.name) ?? [];
      const mask = this.masks.get(variable);
      // One or two parts, no mask: summed in the update (a penalty variable has no task part).
      if (!mask && (task ? parts.length <= 1 : parts.length === 1)) {
        gradients[variable.name] = task ?? parts[0];
        if (task && parts.length === 1) addends[variable.name] = parts[0];
        if (weightDecay > 0) decay[variable.name] = weightDecay;
        continue;
      }
      const penalty = parts.length === 0 ? undefined : parts.reduce((sum, p) => tf.add(sum, p));
      let g: tf.Tensor = task && penalty ? tf.add(task, penalty) : (task ?? penalty ?? tf.zerosLike(variable));
      if (weightDecay > 0) g = tf.add(g, tf.mul(variable, tf.scalar(weightDecay)));
      if (mask) g = tf.mul(g, mask);
      gradients[variable.name] = g;
    }
    return { gradients, parts: { addends, decay } };
  }

  /** Disposes the optimizers this step created for penalty variables (not penalties, masks or the model). */
  dispose(): void {
    for (const g of this.groups) if (g.ownsOptimizer) disposeOptimizer(g.optimizer);
  }
}

export function createTrainStep(options: TrainStepOptions): TrainStep {
  return new TrainStep(options);
}
