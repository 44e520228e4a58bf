import * as tf from '@tensorflow/tfjs';
import type { TrainingContext } from './context.js';
import { checkNonNegative, SparsifyConfigError } from './errors.js';
import { withUnfusedInputConvs } from './input-convs.js';
import { applyMasks, type Mask } from './masks.js';
import { applyGradients, gradientTensor } from './optimizer-update.js';
import { selectParams, type Param, type SelectOptions } from './params.js';
import type { Penalty, PenaltyGradient } from './penalty.js';

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
  /**
   * With `model`: run the Conv2D layers fed by the model's input as `conv2d` + bias while training, so
   * that the backward pass does not compute the gradient of the input batch (default true). tfjs's
   * fused conv computes it, unused (≈ 8% of a LeNet-5 step on wasm). false: exactly `model.apply`.
   */
  skipInputGradients?: boolean;
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
    this.forward =
      options.forward ?? (options.skipInputGradients === false ? apply : (x) => withUnfusedInputConvs(model!, () => apply(x)));
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
    // In a tidy of its own: what a penalty starts here and needs later, it keeps.
    tf.tidy(() => this.penalties.forEach((penalty) => penalty.onStepBegin?.(ctx)));
    const readings = tf.tidy(() => {
      let correct: tf.Scalar | null = null;
      // The task loss and the penalties are differentiated on separate tapes: a penalty's gradient then
      // reaches the update as a second part, added in the fused momentum pass, instead of through a
      // full-size Add into each weight's gradient on the tape. Same gradients, one pass less per weight.
      const task = gradientsByName(() => {
        const outputs = this.forward(inputs);
        const count = correctCount(labels, outputs);
        if (count) correct = tf.keep(count);
        return this.lossFn(labels, outputs);
      }, this.variables);
      // Penalties with a tape-free gradient (lossAndGradients) give their term and gradients directly:
      // no tape, no backward pass, and the fused update applies the gradient inside its own pass.
      const fast = this.penalties.map((p) => p.lossAndGradients?.(ctx));
      const terms: tf.Scalar[] = fast.map((f) => f?.value as tf.Scalar);
      const fastGrads = new Map<string, PenaltyGradient[]>();
      for (const g of fast.flatMap((f) => f?.gradients ?? [])) fastGrads.set(g.variable.name, [...(fastGrads.get(g.variable.name) ?? []), g]);
      let penaltyGrads: tf.NamedTensorMap = {};
      const taped = this.penalties.flatMap((p, i) => (fast[i] ? [] : [i]));
      if (taped.length > 0) {
        penaltyGrads = gradientsByName(() => {
          const parts = taped.map((i) => this.penalties[i].loss(ctx));
          // The tape tidies everything but its result: keep the terms we report.
          parts.forEach((t, j) => (terms[taped[j]] = tf.keep(t)));
          return parts.reduce((sum, t) => tf.add(sum, t)) as tf.Scalar;
        }, this.penaltyVariables).grads;
      }
      if (Object.keys(task.grads).length + Object.keys(penaltyGrads).length + fastGrads.size === 0) {
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
      const modelUpdate = this.gradientsFor(this.variables, task.grads, penaltyGrads, fastGrads, this.weightDecay);
      applyGradients(this.optimizer, modelUpdate.gradients, modelUpdate.addends);
      for (const group of this.groups) {
        const update = this.gradientsFor(group.variables, task.grads, penaltyGrads, fastGrads, group.weightDecay);
        applyGradients(group.optimizer, update.gradients, update.addends);
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
   * Gradients in a fixed order (optimizer slots are positional): the task's, plus the penalties' as
   * `addends` (summed in the update) where a variable has the task's and one penalty part (the tape's,
   * or one penalty's tape-free gradient); missing ones (variables no loss touched) are zeros. Otherwise
   * the parts are summed first; with coupled decay, decay is added from the already-masked weights,
   * then any mask applied.
   */
  private gradientsFor(
    variables: readonly tf.Variable[],
    taskGrads: tf.NamedTensorMap,
    penaltyGrads: tf.NamedTensorMap,
    fastGrads: ReadonlyMap<string, PenaltyGradient[]>,
    weightDecay: number,
  ): { gradients: tf.NamedTensorMap; addends: Record<string, tf.Tensor | PenaltyGradient> } {
    const gradients: tf.NamedTensorMap = {};
    const addends: Record<string, tf.Tensor | PenaltyGradient> = {};
    for (const variable of variables) {
      const task = taskGrads[variable.name];
      const parts = [...(penaltyGrads[variable.name] ? [penaltyGrads[variable.name]] : []), ...(fastGrads.get(variable.name) ?? [])];
      const mask = this.masks.get(variable);
      if (task && parts.length === 1 && weightDecay === 0 && !mask) {
        gradients[variable.name] = task;
        addends[variable.name] = parts[0];
        continue;
      }
      const penalty = parts.map((p) => (p instanceof tf.Tensor ? p : gradientTensor(p))).reduce<tf.Tensor | undefined>((sum, p) => (sum ? tf.add(sum, p) : p), undefined);
      let g: tf.Tensor = task && penalty ? tf.add(task, penalty) : (task ?? penalty ?? tf.zerosLike(variable));
      if (weightDecay > 0) g = tf.add(g, tf.mul(variable, tf.scalar(weightDecay)));
      if (mask) g = tf.mul(g, mask);
      gradients[variable.name] = g;
    }
    return { gradients, addends };
  }

  /** Disposes the optimizers this step created for penalty variables (not penalties, masks or the model). */
  dispose(): void {
    for (const g of this.groups) if (g.ownsOptimizer) disposeOptimizer(g.optimizer);
  }
}

export function createTrainStep(options: TrainStepOptions): TrainStep {
  return new TrainStep(options);
}
