import * as tf from '@tensorflow/tfjs';
import {
  SparsifyConfigError,
  TrainStep,
  check,
  checkNonNegative,
  type Mask,
  type Penalty,
  type SelectOptions,
  type StepResult,
  type TrainingContext,
} from '@sparsify/core';
import { Pruner, type PrunerOptions } from '@sparsify/schedules';

/** What `fitWithPenalties` and `penaltiesCallback` add to `model.fit`. */
export interface PenaltyTrainingOptions {
  /** Any sparsify penalties (HALO's trainable λ and HyperSparse's custom gradient included). */
  penalties?: readonly Penalty[];
  /** Which params an unbound penalty is bound to (default: dense and conv kernels). */
  penaltySelection?: SelectOptions;
  /** Coupled L2 weight decay g ← g + wd·θ on every trainable weight (TF.js optimizers have none). */
  weightDecay?: number;
  /**
   * Schedule-driven pruning: a `Pruner` (yours: its masks and step outlive the fit) or its options
   * (one is created for the model and disposed after training). Gradients and weights are masked
   * every step.
   */
  pruning?: Pruner | PrunerOptions;
  /** Fixed masks (fine-tuning): gradients and weights masked every step. */
  masks?: readonly Mask[];
  /** Where the step/epoch counters start (resume). Default: the pruner's step, epoch 0. */
  context?: TrainingContext;
  /** Throw NonFiniteLossError on a NaN/Inf loss instead of applying the update (default true). */
  checkFinite?: boolean;
}

const HOOKED = Symbol.for('@sparsify/layers/minimize-hook');

type Minimize = tf.Optimizer['minimize'];

interface Installed {
  readonly model: tf.LayersModel;
  readonly optimizer: tf.Optimizer;
  /** The instance's own `minimize` before the hook (undefined: it came from the prototype). */
  readonly ownMinimize: Minimize | undefined;
}

function isHooked(optimizer: tf.Optimizer): boolean {
  return (optimizer as unknown as Record<symbol, unknown>)[HOOKED] === true;
}

/**
 * A Pruner, also one from a second copy of @sparsify/schedules (a dual ESM/CJS load), where
 * `instanceof` fails.
 */
export function isPruner(x: unknown): x is Pruner {
  if (x instanceof Pruner) return true;
  const p = x as Partial<Record<keyof Pruner, unknown>> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    ['onStep', 'masks', 'finish', 'apply', 'summary', 'getState'].every((k) => typeof p[k as keyof Pruner] === 'function')
  );
}

/**
 * A `tf.Callback` that gives `model.fit` what custom loops have: sparsify penalties (including penalties
 * with their own trainable variables and custom gradients), coupled weight decay, and exact masks
 * (gradients and weights) from fixed masks or a pruning schedule.
 *
 * How: tfjs-layers' train function calls `model.optimizer.minimize(totalLoss, true, trainableWeights)`
 * once per batch, with a closure that runs the forward pass, the compiled loss, the metrics and the
 * regularizers. `onTrainBegin` hooks that one method on the model's optimizer instance so that the
 * closure goes to core's `TrainStep`, which adds the penalties inside the same tape, computes gradients
 * for the model and for the penalties' own variables, adds weight decay, masks, and applies the updates
 * (the model's through this same optimizer, so its slots, learning rate and `setLearningRate` work as
 * usual). `onTrainEnd` (or `detach()`) removes the hook.
 *
 * State (step and epoch counters, penalty optimizers, the pruner) persists across `fit` calls made
 * with the same callback. Call `dispose()` when done. If `fit` throws (e.g. NonFiniteLossError),
 * `onTrainEnd` does not run: call `detach()` in a `finally` (`fitWithPenalties` does).
 */
export class PenaltiesCallback extends tf.Callback {
  readonly options: PenaltyTrainingOptions;
  private step: TrainStep | null = null;
  private ownedPruner: boolean;
  private prunerInstance: Pruner | null = null;
  private installed: Installed | null = null;
  private currentLoss: (() => tf.Scalar) | null = null;
  private dummy: tf.Tensor | null = null;
  private epochPenalty = 0;
  private epochBatches = 0;
  private lastStep: StepResult | null = null;
  private disposed = false;

  constructor(options: PenaltyTrainingOptions = {}) {
    super();
    check(typeof options === 'object' && options !== null, 'penaltiesCallback options', options, 'an object');
    if (options.weightDecay !== undefined) checkNonNegative('weightDecay', options.weightDecay);
    if (options.penalties !== undefined) {
      check(Array.isArray(options.penalties), 'penalties', options.penalties, 'an array of penalties');
    }
    this.options = options;
    this.ownedPruner = options.pruning !== undefined && !isPruner(options.pruning);
    if (isPruner(options.pruning)) this.prunerInstance = options.pruning;
  }

  /** The training step (after the first `onTrainBegin`). */
  get trainStep(): TrainStep | null {
    return this.step;
  }

  /** The pruner driving the masks, if any (created at the first `onTrainBegin` from options). */
  get pruner(): Pruner | null {
    return this.prunerInstance;
  }

  /** Where training stands. */
  get context(): TrainingContext {
    return this.step?.context ?? this.options.context ?? { step: this.prunerInstance?.step ?? 0, epoch: 0 };
  }

  /** The last step's losses. */
  get lastResult(): StepResult | null {
    return this.lastStep;
  }

  override async onTrainBegin(): Promise<void> {
    this.attach(this.model);
  }

  override async onEpochBegin(): Promise<void> {
    this.epochPenalty = 0;
    this.epochBatches = 0;
  }

  override async onEpochEnd(_epoch: number, logs?: tf.Logs): Promise<void> {
    this.step?.endEpoch();
    // The mean penalty over the epoch's batches joins the epoch logs (and the History): `loss` is
    // task + regularizers + penalties, `penalty` the sparsify part of it.
    if (logs && this.epochBatches > 0 && (this.options.penalties?.length ?? 0) > 0) {
      logs.penalty = this.epochPenalty / this.epochBatches;
    }
  }

  override async onTrainEnd(): Promise<void> {
    if (this.step && this.prunerInstance?.finish()) this.step.setMasks(this.prunerInstance.masks());
    this.detach();
  }

  /** Hooks the model's optimizer (done by `onTrainBegin`). */
  attach(model: tf.LayersModel): void {
    if (this.disposed) throw new Error('PenaltiesCallback: used after dispose()');
    if (this.installed) {
      if (this.installed.model === model) return;
      throw new SparsifyConfigError('PenaltiesCallback is attached to another model; detach() it first');
    }
    const optimizer = model.optimizer;
    if (!optimizer) {
      throw new SparsifyConfigError('the model has no optimizer: call model.compile({ optimizer, loss }) before fit');
    }
    if (isHooked(optimizer)) {
      throw new SparsifyConfigError('the model’s optimizer already trains through a PenaltiesCallback: use one per fit');
    }
    if (!this.step) this.build(model, optimizer);
    else if (this.step.modelOptimizer !== optimizer) this.step.setOptimizer(optimizer); // recompiled
    const own = Object.hasOwn(optimizer, 'minimize') ? optimizer.minimize : undefined;
    this.installed = { model, optimizer, ownMinimize: own };
    const hook: Minimize = (f, returnCost = false, varList) => this.runStep(f, returnCost, varList);
    Object.assign(optimizer, { minimize: hook, [HOOKED]: true });
  }

  /** Removes the hook: the optimizer is exactly as before. Idempotent. */
  detach(): void {
    if (!this.installed) return;
    const { optimizer, ownMinimize } = this.installed;
    const target = optimizer as unknown as Record<string | symbol, unknown>;
    if (ownMinimize) target.minimize = ownMinimize;
    else delete target.minimize;
    delete target[HOOKED];
    this.installed = null;
  }

  /** @internal One training step; called through the hooked `minimize` from inside fit's train function. */
  runStep(f: () => tf.Scalar, returnCost: boolean, varList?: tf.Variable[]): tf.Scalar | null {
    const step = this.step;
    if (!step || !this.dummy) throw new Error('PenaltiesCallback: runStep() before attach()');
    if (varList) {
      const same = varList.length === step.variables.length && varList.every((v, i) => v === step.variables[i]);
      if (!same) {
        throw new SparsifyConfigError(
          `the variables fit trains (${varList.map((v) => v.name).join(', ')}) are not the ones this callback was built for ` +
            `(${step.variables.map((v) => v.name).join(', ')}): recompile and use a new PenaltiesCallback after changing trainable layers`,
        );
      }
    }
    const pruner = this.prunerInstance;
    if (pruner?.onStep()) step.setMasks(pruner.masks());
    this.currentLoss = f;
    let result: StepResult;
    try {
      result = step.run(this.dummy, this.dummy);
    } finally {
      this.currentLoss = null;
    }
    this.lastStep = result;
    this.epochPenalty += result.penaltyLoss;
    this.epochBatches += 1;
    return returnCost ? tf.scalar(result.loss) : null;
  }

  /** Unhooks the optimizer and frees what this callback created (not the penalties, nor your pruner). */
  dispose(): void {
    if (this.disposed) return;
    this.detach();
    this.disposed = true;
    this.step?.dispose();
    this.step = null;
    if (this.ownedPruner) this.prunerInstance?.dispose();
    this.prunerInstance = null;
    this.dummy?.dispose();
    this.dummy = null;
  }

  private build(model: tf.LayersModel, optimizer: tf.Optimizer): void {
    const o = this.options;
    if (o.pruning !== undefined && !isPruner(o.pruning)) this.prunerInstance = new Pruner(model, o.pruning);
    // fit trains the weights collected at compile time, in that order.
    const collected =
      (model as unknown as { collectedTrainableWeights?: tf.LayerVariable[] }).collectedTrainableWeights ?? model.trainableWeights;
    this.dummy = tf.keep(tf.scalar(0));
    this.step = new TrainStep({
      model,
      // The task loss is fit's own closure (compiled loss + metrics + regularizers), run inside the tape.
      forward: () => {
        if (!this.currentLoss) throw new Error('PenaltiesCallback: forward pass outside a fit step');
        return this.currentLoss();
      },
      loss: (_labels, total) => total as tf.Scalar,
      variables: collected.map((w) => w.read() as tf.Variable),
      optimizer,
      penalties: o.penalties,
      penaltySelection: o.penaltySelection,
      weightDecay: o.weightDecay,
      masks: o.masks,
      context: o.context ?? { step: this.prunerInstance?.step ?? 0, epoch: 0 },
      checkFinite: o.checkFinite,
    });
    if (this.prunerInstance && this.prunerInstance.masks().length > 0) this.step.setMasks(this.prunerInstance.masks());
  }
}

/** `new PenaltiesCallback(options)`: pass it to `model.fit({ callbacks: [...] })` (or `fitDataset`). */
export function penaltiesCallback(options: PenaltyTrainingOptions = {}): PenaltiesCallback {
  return new PenaltiesCallback(options);
}

type FitCallbacks = NonNullable<tf.ModelFitArgs['callbacks']>;
type AnyCallback = FitCallbacks extends (infer C)[] ? C : never;
/** tfjs-layers' BaseCallback (not exported by name): what `fit` takes as callback objects. */
type FitCallbackObject = Parameters<tf.CallbackList['append']>[0];

function isCallbackInstance(c: unknown): boolean {
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof (c as { setModel?: unknown }).setModel === 'function' &&
    typeof (c as { setParams?: unknown }).setParams === 'function'
  );
}

/** The user's callbacks as callback objects (tfjs assumes all-or-nothing when the first one is an object). */
export function normalizeCallbacks(
  callbacks: tf.ModelFitArgs['callbacks'],
  yieldEvery?: tf.ModelFitArgs['yieldEvery'],
): FitCallbackObject[] {
  if (callbacks == null) return [];
  const list = (Array.isArray(callbacks) ? callbacks : [callbacks]) as AnyCallback[];
  return list.map((c) =>
    isCallbackInstance(c) ? c : new tf.CustomCallback(c as tf.CustomCallbackArgs, yieldEvery),
  ) as FitCallbackObject[];
}

/** `model.fit` arguments plus the sparsify options. */
export interface FitWithPenaltiesArgs extends tf.ModelFitArgs, PenaltyTrainingOptions {}

/**
 * `model.fit(x, y, args)` with sparsify penalties, weight decay and exact pruning masks: the same
 * arguments (epochs, batchSize, validationData, callbacks, shuffle, …) and the same `History`, through
 * tfjs-layers' own training loop. The model must be compiled. Penalties stay yours (not disposed); a
 * pruner given as options is created for this call and disposed after it (the weights stay pruned).
 */
export async function fitWithPenalties(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[] | { [inputName: string]: tf.Tensor },
  y: tf.Tensor | tf.Tensor[] | { [outputName: string]: tf.Tensor },
  args: FitWithPenaltiesArgs = {},
): Promise<tf.History> {
  const { penalties, penaltySelection, weightDecay, pruning, masks, context, checkFinite, callbacks, ...fitArgs } = args;
  if (!model.optimizer) {
    throw new SparsifyConfigError('fitWithPenalties: the model has no optimizer; call model.compile({ optimizer, loss }) first');
  }
  const callback = new PenaltiesCallback({ penalties, penaltySelection, weightDecay, pruning, masks, context, checkFinite });
  try {
    return await model.fit(x, y, { ...fitArgs, callbacks: [callback, ...normalizeCallbacks(callbacks, fitArgs.yieldEvery)] });
  } finally {
    callback.dispose();
  }
}
