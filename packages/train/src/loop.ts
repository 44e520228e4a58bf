import type * as tf from '@tensorflow/tfjs';
import {
  NonFiniteLossError,
  SparsifyConfigError,
  TrainStep,
  applyMasks,
  check,
  checkInteger,
  checkNonNegative,
  checkSparsity,
  disposeMasks,
  disposeOptimizer,
  magnitudeMasks,
  resolvePruningDefaults,
  measureSparsity,
  selectParams,
  type Mask,
  type Param,
  type Penalty,
  type PenaltyDiagnostics,
} from '@sparsify/core';
import { CHECKPOINT_FILE, CheckpointError } from './checkpoint-error.js';
import { LOOP_CHECKPOINT_VERSION, type EpochProgress, type LoopCheckpoint, type LoopState } from './loop-checkpoint.js';
import type { RunFiles } from './run-files.js';
import { disposeBatch, iterateBatches } from './data.js';
import { evaluate } from './evaluate.js';
import { magnitudeHistogram } from './histogram.js';
import {
  canSetLearningRate,
  createOptimizer,
  decayFactors,
  learningRateOf,
  setLearningRate,
  validateLrDecay,
  validateOptimizerConfig,
} from './optimizer.js';
import {
  assignTensors,
  cloneMasks,
  masksFromHost,
  masksToHost,
  modelVariables,
  readOptimizer,
  readTensors,
  restoreOptimizer,
  weightNames,
  type StoredOptimizer,
} from './state.js';
import type {
  ArtSnapshot,
  BestAccuracy,
  DataSplit,
  EpochMetrics,
  MagnitudeHistogram,
  OptimizerConfig,
  Phase,
  PruneInfo,
  TrainOptions,
  TrainResult,
} from './types.js';

export const DEFAULT_OPTIMIZER: OptimizerConfig = { className: 'Momentum', config: { learningRate: 0.01, momentum: 0.9 } };

/** Thrown inside an epoch when `signal` aborts: the loop has written its checkpoint and returns `interrupted`. */
class Interrupted extends Error {}

/** How often, at most, a run with a `signal` lets the event loop run (so that the signal can arrive). */
const YIELD_EVERY_MS = 50;

function validate(options: TrainOptions): void {
  if (!options || typeof options !== 'object') throw new SparsifyConfigError('train needs an options object');
  const { model, data } = options;
  if (!model || !Array.isArray((model as tf.LayersModel).layers)) {
    throw new SparsifyConfigError(`model must be a tf.LayersModel; got ${model === undefined ? 'undefined' : typeof model}`);
  }
  if (!data?.train || typeof data.train.batches !== 'function') {
    throw new SparsifyConfigError(
      'data.train must be a DataSplit ({ size, batches(batchSize, { shuffle, seed, epoch }) }), e.g. a @sparsify/datasets Dataset or tensorData(x, y)',
    );
  }
  checkInteger('data.train.size', data.train.size, 1);
  checkInteger('epochs', options.epochs, 0);
  checkInteger('batchSize', options.batchSize, 1);
  if (options.seed !== undefined) checkInteger('seed', options.seed, 0);
  if (options.weightDecay !== undefined) checkNonNegative('weightDecay', options.weightDecay);
  validateOptimizerConfig(options.optimizer ?? DEFAULT_OPTIMIZER);
  validateLrDecay(options.lrDecay, options.optimizer ?? DEFAULT_OPTIMIZER);
  if (options.prune) {
    checkSparsity('prune.sparsity', options.prune.sparsity);
    if (options.prune.scope !== undefined)
      check(['global', 'layer'].includes(options.prune.scope), 'prune.scope', options.prune.scope, '"global" or "layer"');
  }
  if (options.art) {
    checkSparsity('art.sparsity', options.art.sparsity);
    const c = options.art.controller;
    if (!c || typeof c.observe !== 'function') {
      throw new SparsifyConfigError('art.controller must be an ART controller (e.g. art() from @sparsify/hypersparse) with observe()');
    }
    checkInteger('art.controller.warmupEpochs', c.warmupEpochs, 0);
    checkInteger('art.controller.maxEpochs', c.maxEpochs, 1);
    if (options.prune) throw new SparsifyConfigError('use either art (which prunes at its κ) or prune (one-shot), not both');
  }
  if (options.pruning && options.prune) {
    throw new SparsifyConfigError('use either pruning (a schedule) or prune (one-shot at the end), not both');
  }
  if (options.pruning && options.art) throw new SparsifyConfigError('use either pruning (a schedule) or art, not both');
  if (options.finetune) {
    checkInteger('finetune.epochs', options.finetune.epochs, 0);
    if (options.finetune.weightDecay !== undefined) checkNonNegative('finetune.weightDecay', options.finetune.weightDecay);
    const ftOpt = options.finetune.optimizer ?? options.optimizer ?? DEFAULT_OPTIMIZER;
    validateOptimizerConfig(ftOpt, 'finetune.optimizer');
    validateLrDecay(options.finetune.lrDecay, ftOpt, 'finetune.lrDecay');
  }
  if (options.stopAfterEpochs !== undefined) checkInteger('stopAfterEpochs', options.stopAfterEpochs, 1);
  if (options.signal !== undefined) check(typeof options.signal?.aborted === 'boolean', 'signal', typeof options.signal, 'an AbortSignal');
  for (const p of options.penalties ?? []) {
    if (!p || typeof p.loss !== 'function' || typeof p.bind !== 'function') {
      throw new SparsifyConfigError(`penalties must be Penalty objects (see @sparsify/core); got ${JSON.stringify(p)}`);
    }
  }
}

/**
 * `train` with the file system it may use for `runDir`: the Node entry passes NODE_RUN_FILES, the
 * portable entry null (a run there keeps no checkpoints).
 */
export async function trainOn(files: RunFiles | null, options: TrainOptions): Promise<TrainResult> {
  validate(options);
  if (options.resume && !options.runDir) throw new SparsifyConfigError('resume: true needs runDir (the directory holding the checkpoint)');
  if (options.runDir !== undefined && files === null) {
    throw new SparsifyConfigError(
      `runDir ${JSON.stringify(options.runDir)} needs a file system or IndexedDB: checkpoints, resume and the run lock work in Node (@sparsify/train there, or @sparsify/train/node) and where IndexedDB exists (browsers); leave runDir out here`,
    );
  }
  // Held for the whole run: a second run into the same directory fails here instead of mixing files.
  const own = options.runDir !== undefined && options.lock === undefined;
  if (options.lock !== undefined && options.runDir !== undefined) files!.checkLock(options.lock, options.runDir);
  const lock = own ? await files!.lock(options.runDir!) : null;
  try {
    if (options.runDir) {
      if ((await files!.hasCheckpoint(options.runDir)) && !options.resume) {
        throw new SparsifyConfigError(
          `${files!.describe(options.runDir)} already has ${CHECKPOINT_FILE}; pass resume: true to continue it, or choose a new directory`,
        );
      }
      await files!.removeStaleTempFiles(options.runDir);
    }
    const run = new Run(options, files);
    try {
      return await run.execute();
    } finally {
      run.dispose();
    }
  } finally {
    lock?.release();
  }
}

/** `resume` with the file system of the run directory (see `trainOn`). */
export async function resumeOn(
  files: RunFiles | null,
  runDir: string,
  options: Omit<TrainOptions, 'runDir' | 'resume'>,
): Promise<TrainResult> {
  if (files !== null && !(await files.hasCheckpoint(runDir))) {
    throw new SparsifyConfigError(`resume needs a run with ${CHECKPOINT_FILE}; ${files.describe(runDir)} has none`);
  }
  return trainOn(files, { ...options, runDir, resume: true });
}

class Run {
  private readonly o: TrainOptions;
  private readonly model: tf.LayersModel;
  private readonly seed: number;
  private readonly pruneParams: Param[];
  private readonly penalties: readonly Penalty[];
  private readonly evalSplit: DataSplit | undefined;
  private readonly epochSplit: DataSplit | undefined;
  private readonly evalName: TrainResult['evalSplit'];
  private readonly mainOptimizerConfig: OptimizerConfig;
  private step: TrainStep | null = null;
  private optimizer: tf.Optimizer | null = null;
  /** Masks owned by the loop (after one-shot pruning or ART, during fine-tuning). */
  private ownMasks: Mask[] | null = null;
  /** Each penalty optimizer of the current step with its initial learning rate, for `lrDecay`. */
  private penaltyLearningRates = new Map<tf.Optimizer, number>();
  private lastGood: (Float32Array | Int32Array)[] | null = null;
  private state: LoopState;
  private resumedFrom: number | undefined;
  private readonly startTime = Date.now();

  constructor(
    options: TrainOptions,
    private readonly files: RunFiles | null,
  ) {
    this.o = options;
    this.model = options.model;
    this.seed = options.seed ?? 0;
    this.pruneParams = selectParams(options.model, options.pruneSelection);
    this.penalties = (options.penalties ?? []).slice();
    this.mainOptimizerConfig = options.optimizer ?? DEFAULT_OPTIMIZER;
    const { test, validation } = options.data;
    this.evalSplit = test ?? validation;
    this.epochSplit = validation ?? test;
    this.evalName = test ? 'test' : validation ? 'validation' : 'none';
    this.state = {
      version: LOOP_CHECKPOINT_VERSION,
      phase: 'train',
      epoch: 0,
      phaseEpoch: 0,
      step: 0,
      seed: this.seed,
      progress: null,
      history: [],
      accuracy: {},
      histograms: {},
      trainSeconds: 0,
      samples: 0,
      fingerprint: {
        weights: weightNames(options.model),
        shapes: options.model.weights.map((w) => w.shape.slice() as number[]),
        penalties: this.penalties.map((p) => p.name),
        pruned: this.pruneParams.map((p) => p.name),
      },
    };
    if (options.art) this.state.art = { stopped: false, artEpochs: 0 };
  }

  private get mainEpochs(): number {
    const art = this.o.art?.controller;
    return art ? art.warmupEpochs + art.maxEpochs : this.o.epochs;
  }

  private get finetuneEpochs(): number {
    return this.o.finetune?.epochs ?? 0;
  }

  private buildMainStep(): void {
    this.optimizer = createOptimizer(this.mainOptimizerConfig);
    this.step = new TrainStep({
      model: this.model,
      optimizer: this.optimizer,
      penalties: this.penalties,
      penaltySelection: this.o.penaltySelection,
      weightDecay: this.o.weightDecay ?? 0,
      loss: this.o.loss,
      context: { step: this.state.step, epoch: this.state.epoch },
    });
    // Each penalty optimizer (HALO's λ) decays with the model's, from its own initial learning rate.
    this.penaltyLearningRates = new Map(this.step.penaltyOptimizers().map(({ optimizer }) => [optimizer, learningRateOf(optimizer)]));
    if (this.o.lrDecay) {
      for (const { penalty, optimizer } of this.step.penaltyOptimizers()) {
        if (!canSetLearningRate(optimizer)) {
          throw new SparsifyConfigError(
            `lrDecay needs an SGD or Momentum optimizer for ${penalty.name}'s variables too (TF.js ${optimizer.getClassName()} cannot change its learning rate)`,
          );
        }
      }
    }
    const pruner = this.o.pruning;
    if (pruner && pruner.masks().length > 0) this.step.setMasks(pruner.masks());
  }

  private buildFinetuneStep(): void {
    this.penaltyLearningRates = new Map();
    const ft = this.o.finetune;
    const config = ft?.optimizer ?? this.mainOptimizerConfig;
    this.optimizer = createOptimizer(config);
    this.step = new TrainStep({
      model: this.model,
      optimizer: this.optimizer,
      penalties: [],
      weightDecay: ft?.weightDecay ?? this.o.weightDecay ?? 0,
      loss: this.o.loss,
      masks: this.ownMasks ?? undefined,
      context: { step: this.state.step, epoch: this.state.epoch },
    });
  }

  private disposeStep(): void {
    this.step?.dispose();
    if (this.optimizer) disposeOptimizer(this.optimizer);
    this.step = null;
    this.optimizer = null;
  }

  async execute(): Promise<TrainResult> {
    const o = this.o;
    let checkpoint: LoopCheckpoint | null = null;
    if (o.resume && o.runDir) {
      const loaded = await this.files!.readRunCheckpoint(o.runDir);
      if (loaded) {
        this.checkFingerprint(loaded.value, loaded.file);
        checkpoint = loaded.value;
        if (loaded.fallback) {
          const aside = await this.files!.setAsideCorruptCheckpoint(o.runDir);
          await o.callbacks?.onWarning?.(
            `checkpoint corrupt: ${loaded.fallback.problem}. Resuming from the previous checkpoint ${loaded.file} (epoch ${checkpoint.epoch}); ` +
              (aside ? `the damaged file is kept as ${aside}.` : 'the run redoes the epochs after it.'),
          );
        }
      }
    }
    if (checkpoint) {
      await this.restore(checkpoint);
    } else {
      this.state.histograms.initial = this.histogram();
      if (this.state.phase === 'train') this.buildMainStep();
    }
    let epochsThisCall = 0;
    const interrupted = () => (o.stopAfterEpochs !== undefined && epochsThisCall >= o.stopAfterEpochs) || o.signal?.aborted === true;

    try {
      // Main phase.
      if (this.state.phase === 'train') {
        if (this.state.phaseEpoch < this.mainEpochs) {
          await o.callbacks?.onPhaseStart?.({ phase: 'train', epochs: this.mainEpochs, startEpoch: this.state.phaseEpoch });
        }
        while (this.state.phaseEpoch < this.mainEpochs && !this.state.art?.stopped) {
          if (interrupted()) return this.result('interrupted');
          const metrics = await this.runEpoch('train');
          epochsThisCall++;
          const stop = o.art && this.state.phaseEpoch - 1 >= o.art.controller.warmupEpochs ? await this.artProbe(metrics) : false;
          await this.endEpoch(metrics);
          if (stop) break;
        }
        await this.endMainPhase();
      }
      // Fine-tuning.
      if (this.state.phase === 'finetune') {
        if (this.state.phaseEpoch < this.finetuneEpochs) {
          await o.callbacks?.onPhaseStart?.({ phase: 'finetune', epochs: this.finetuneEpochs, startEpoch: this.state.phaseEpoch });
        }
        while (this.state.phaseEpoch < this.finetuneEpochs) {
          if (interrupted()) return this.result('interrupted');
          const metrics = await this.runEpoch('finetune');
          epochsThisCall++;
          await this.endEpoch(metrics);
        }
        this.state.phase = 'done';
        this.state.histograms.final = this.histogram();
        await this.saveCheckpoint();
      }
      return this.result('completed');
    } catch (error) {
      if (error instanceof Interrupted) return this.result('interrupted');
      if (error instanceof NonFiniteLossError) {
        // Back to the last good epoch end (the checkpoint on disk is that one, untouched).
        if (this.lastGood) assignTensors(modelVariables(this.model), this.lastGood, 'last good weights');
        return this.result('nonFinite', error.message);
      }
      throw error;
    }
  }

  private async runEpoch(phase: Phase): Promise<EpochMetrics> {
    const o = this.o;
    const step = this.step!;
    const optimizerConfig = phase === 'train' ? this.mainOptimizerConfig : (o.finetune?.optimizer ?? this.mainOptimizerConfig);
    const decay = phase === 'train' ? o.lrDecay : o.finetune?.lrDecay;
    const factors = decayFactors(decay, this.state.phaseEpoch, this.penaltyLearningRates.size > 0);
    const lr = (optimizerConfig.config.learningRate as number) * factors.model;
    setLearningRate(this.optimizer!, lr);
    for (const [optimizer, lr] of this.penaltyLearningRates) setLearningRate(optimizer, lr * factors.penalty);
    step.setContext({ step: this.state.step, epoch: this.state.epoch });
    const ctx = step.context;
    // An epoch interrupted at a step boundary goes on from there, with its sums so far.
    const resumed = this.state.progress;
    this.state.progress = null;
    const strengths: Record<string, number> = resumed?.strengths ?? {};
    if (phase === 'train' && !resumed) for (const p of this.penalties) strengths[p.name] = p.strengthAt(ctx);
    const batches = Math.ceil(o.data.train.size / o.batchSize);
    const sums: EpochProgress = resumed
      ? { ...resumed }
      : { batch: 0, loss: 0, taskLoss: 0, penaltyLoss: 0, seen: 0, correct: 0, counted: 0, seconds: 0, strengths };
    const skip = sums.batch;
    let skipped = 0;
    const t0 = performance.now() - sums.seconds * 1000;
    let lastYield = performance.now();
    for await (const b of iterateBatches(o.data.train, o.batchSize, { shuffle: true, seed: this.seed, epoch: this.state.epoch })) {
      if (skipped < skip) {
        skipped++;
        disposeBatch(b);
        continue;
      }
      if (phase === 'train' && o.pruning) {
        const masks = o.pruning.update(step.context);
        if (masks) step.setMasks(masks);
      }
      let r: ReturnType<typeof step.run>;
      try {
        r = step.run(b.x, b.y);
        sums.seen += b.x.shape[0];
      } finally {
        disposeBatch(b);
      }
      if (r.accuracy !== undefined) {
        sums.correct += r.accuracy * b.x.shape[0];
        sums.counted += b.x.shape[0];
      }
      sums.loss += r.loss;
      sums.taskLoss += r.taskLoss;
      sums.penaltyLoss += r.penaltyLoss;
      sums.batch++;
      await o.callbacks?.onBatchEnd?.({
        phase,
        epoch: this.state.epoch,
        batch: sums.batch,
        batches,
        step: step.context.step,
        loss: r.loss,
        taskLoss: r.taskLoss,
        penaltyLoss: r.penaltyLoss,
        ...(r.accuracy !== undefined ? { accuracy: r.accuracy } : {}),
      });
      if (o.signal) {
        // Let the event loop run now and then, so that a signal (SIGINT, SIGTERM) can abort.
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
        if (o.signal.aborted) {
          sums.seconds = (performance.now() - t0) / 1000;
          this.state.progress = sums;
          this.state.step = step.context.step;
          this.state.trainSeconds += sums.seconds - (resumed?.seconds ?? 0);
          this.state.samples += sums.seen - (resumed?.seen ?? 0);
          await this.saveCheckpoint();
          throw new Interrupted();
        }
      }
    }
    const { loss, taskLoss, penaltyLoss, seen, correct, counted } = sums;
    const batch = sums.batch;
    const seconds = (performance.now() - t0) / 1000;
    const newSeconds = seconds - (resumed ? resumed.seconds : 0);
    const diagnostics: Record<string, PenaltyDiagnostics> = {};
    if (phase === 'train') {
      for (const p of this.penalties) if (p.diagnostics) diagnostics[p.name] = p.diagnostics(step.context);
    }
    step.endEpoch();
    this.state.step = step.context.step;
    this.state.trainSeconds += newSeconds;
    this.state.samples += seen - (resumed ? resumed.seen : 0);
    const sparsity = measureSparsity(this.pruneParams);
    const metrics: EpochMetrics = {
      phase,
      epoch: this.state.epoch,
      phaseEpoch: this.state.phaseEpoch,
      step: this.state.step,
      loss: loss / Math.max(batch, 1),
      taskLoss: taskLoss / Math.max(batch, 1),
      penaltyLoss: penaltyLoss / Math.max(batch, 1),
      ...(counted ? { trainAccuracy: correct / counted } : {}),
      sparsity: sparsity.global,
      nearZeroSparsity: sparsity.total ? sparsity.nearZeros / sparsity.total : 0,
      strengths,
      diagnostics,
      learningRate: lr,
      seconds,
      samplesPerSecond: seconds > 0 ? seen / seconds : 0,
    };
    if ((o.evaluateEachEpoch ?? true) && this.epochSplit) {
      const ev = await evaluate(this.model, this.epochSplit, o.batchSize);
      metrics.accuracy = ev.accuracy;
      metrics.evalLoss = ev.loss;
    }
    this.state.epoch += 1;
    this.state.phaseEpoch += 1;
    return metrics;
  }

  private async endEpoch(metrics: EpochMetrics): Promise<void> {
    this.state.history.push(metrics);
    await this.saveCheckpoint();
    await this.o.callbacks?.onEpochEnd?.(metrics);
  }

  /** ART: prune a copy at κ, evaluate it on the probe set, let the controller decide. */
  private async artProbe(metrics: EpochMetrics): Promise<boolean> {
    const { controller, sparsity } = this.o.art!;
    const artEpoch = this.state.art!.artEpochs;
    const denseAccuracy = metrics.trainAccuracy;
    if (denseAccuracy === undefined) {
      throw new SparsifyConfigError(
        'ART needs the running training accuracy: the model must output [batch, classes] logits for class labels',
      );
    }
    const variables = modelVariables(this.model);
    const live = readTensors(variables);
    const { masks } = magnitudeMasks(this.pruneParams, { sparsity, scope: 'global', rule: 'quantile' });
    let snapshot: ArtSnapshot;
    let prunedAccuracy: number;
    try {
      applyMasks(masks);
      const probe = this.o.data.probe ?? this.o.data.train;
      prunedAccuracy = (await evaluate(this.model, probe, this.o.batchSize)).accuracy;
      snapshot = { weights: readTensors(variables), masks: masksToHost(masks) };
    } finally {
      disposeMasks(masks);
      assignTensors(variables, live, 'ART probe restore');
    }
    this.artSnapshots.set(artEpoch, snapshot);
    const decision = controller.observe({ epoch: artEpoch, denseAccuracy, prunedAccuracy, snapshot });
    for (const gone of decision.discarded ?? []) {
      for (const [epoch, s] of this.artSnapshots) if (s === gone) this.artSnapshots.delete(epoch);
    }
    const art = this.state.art!;
    art.artEpochs = artEpoch + 1;
    metrics.art = { artEpoch, prunedAccuracy, denseAccuracy, stop: decision.stop };
    if (decision.reason) metrics.art.reason = decision.reason;
    if (decision.stop) {
      art.stopped = true;
      if (decision.reason) art.reason = decision.reason;
      const selected = decision.selected;
      if (selected) {
        art.selectedArtEpoch = selected.epoch;
        if (selected.snapshot) this.artSnapshots.set(selected.epoch, selected.snapshot);
      }
      // Only the selected copy matters from now on.
      for (const epoch of [...this.artSnapshots.keys()]) if (epoch !== art.selectedArtEpoch) this.artSnapshots.delete(epoch);
    }
    return decision.stop;
  }

  private readonly artSnapshots = new Map<number, ArtSnapshot>();

  /** Dense accuracy, pruning (one-shot, ART selection or the schedule's final masks), checkpoint. */
  private async endMainPhase(): Promise<void> {
    const o = this.o;
    this.state.histograms.beforePrune = this.histogram();
    const dense = this.evalSplit ? (await evaluate(this.model, this.evalSplit, o.batchSize)).accuracy : undefined;
    this.state.accuracy.dense = dense;
    let info: PruneInfo | undefined;
    if (o.art) {
      const art = this.state.art!;
      const selected = art.selectedArtEpoch !== undefined ? this.artSnapshots.get(art.selectedArtEpoch) : undefined;
      if (!art.stopped) art.reason = 'epochs';
      if (selected) {
        assignTensors(modelVariables(this.model), selected.weights, 'ART selection');
        this.ownMasks = masksFromHost(this.pruneParams, selected.masks);
      } else {
        delete art.selectedArtEpoch;
        this.ownMasks = magnitudeMasks(this.pruneParams, { sparsity: o.art.sparsity, scope: 'global', rule: 'quantile' }).masks;
      }
      applyMasks(this.ownMasks);
      info = { method: 'art', target: o.art.sparsity, achieved: 0, epoch: this.state.epoch - 1 };
    } else if (o.prune) {
      // The one default (global, quantile), or what the penalties' methods state (HALO: quantileNonZero).
      const { scope, rule } = resolvePruningDefaults(this.penalties, o.prune);
      this.ownMasks = magnitudeMasks(this.pruneParams, { sparsity: o.prune.sparsity, scope, rule }).masks;
      applyMasks(this.ownMasks);
      info = { method: 'oneShot', target: o.prune.sparsity, achieved: 0, epoch: this.state.epoch - 1 };
    } else if (o.pruning) {
      const masks = o.pruning.masks();
      if (masks.length > 0) {
        this.ownMasks = cloneMasks(masks);
        applyMasks(this.ownMasks);
      }
      const target = (o.pruning.getState?.() as { sparsity?: number } | undefined)?.sparsity;
      info = {
        method: 'schedule',
        target: typeof target === 'number' ? target : measureSparsity(this.pruneParams).global,
        achieved: 0,
        epoch: this.state.epoch - 1,
      };
    }
    if (info) {
      info.achieved = measureSparsity(this.pruneParams).global;
      if (info.method === 'schedule') {
        // The schedule pruned during training: what was measured is already the pruned model.
        this.state.accuracy.dense = undefined;
        info.accuracyAfter = dense;
      } else {
        info.accuracyBefore = dense;
        if (this.evalSplit) info.accuracyAfter = (await evaluate(this.model, this.evalSplit, o.batchSize)).accuracy;
      }
      this.state.accuracy.pruned = info.accuracyAfter;
      this.state.prune = info;
      await o.callbacks?.onPrune?.(info);
    }
    this.disposeStep();
    this.state.phase = 'finetune';
    this.state.phaseEpoch = 0;
    if (this.finetuneEpochs > 0) this.buildFinetuneStep();
    await this.saveCheckpoint();
  }

  private histogram(): MagnitudeHistogram {
    return magnitudeHistogram(this.pruneParams.map((p) => p.variable.dataSync() as Float32Array));
  }

  private async saveCheckpoint(): Promise<void> {
    // Between epochs nothing is in progress; inside one (an interruption), `progress` says where.
    const variables = modelVariables(this.model);
    const weights = readTensors(variables);
    this.lastGood = weights;
    const dir = this.o.runDir;
    if (!dir) return;
    const step = this.step;
    const penaltyVariables = this.penalties.map((p) => readTensors(p.trainableVariables()));
    const penaltyOptimizers: StoredOptimizer[] = [];
    if (step && this.state.phase === 'train') {
      for (const { optimizer } of step.penaltyOptimizers()) penaltyOptimizers.push(await readOptimizer(optimizer));
    }
    const masks = this.ownMasks ?? (this.o.pruning && this.state.phase === 'train' ? [...this.o.pruning.masks()] : null);
    const checkpoint: LoopCheckpoint = {
      ...this.state,
      model: weights,
      optimizer: step && this.optimizer ? await readOptimizer(this.optimizer) : { names: [], shapes: [], dtypes: [], values: [] },
      penaltyVariables,
      penaltyOptimizers,
      penaltyState: this.penalties.map((p) => (typeof p.getState === 'function' ? p.getState() : null)),
      masks: masks?.length ? masksToHost(masks) : null,
      pruner: this.o.pruning?.getState?.({ includeMasks: false }) ?? null,
      artController: this.o.art?.controller.getState?.() ?? null,
      artSnapshots: [...this.artSnapshots].map(([epoch, snap]) => ({ epoch, weights: snap.weights, masks: snap.masks })),
    };
    const path = await this.files!.writeCheckpoint(dir, checkpoint);
    await this.o.callbacks?.onCheckpoint?.({ path, epoch: this.state.epoch });
  }

  private checkFingerprint(c: LoopCheckpoint, file: string): void {
    const fail = (field: string, problem: string): never => {
      throw new CheckpointError(`${file}: ${field} ${problem}`, { file, field });
    };
    const here = this.state.fingerprint;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(c.fingerprint.shapes, here.shapes)) {
      fail(
        'fingerprint.shapes',
        `are ${JSON.stringify(c.fingerprint.shapes)}, this model's ${JSON.stringify(here.shapes)}; resume with the same model`,
      );
    }
    if (!same(c.fingerprint.penalties, here.penalties)) {
      fail('fingerprint.penalties', `are [${c.fingerprint.penalties.join(', ')}], this run has [${here.penalties.join(', ')}]`);
    }
    if (c.seed !== this.seed) fail('seed', `is ${c.seed}, this run's ${this.seed}`);
    const epochs = c.phase === 'train' ? this.mainEpochs : c.phase === 'finetune' ? this.finetuneEpochs : Infinity;
    if (c.phaseEpoch > epochs || (c.phaseEpoch === epochs && c.progress))
      fail('phaseEpoch', `is ${c.phaseEpoch}, past the ${epochs} epochs of phase ${c.phase}`);
    if (c.phase !== 'train' && c.masks && c.masks.length !== this.pruneParams.length) {
      fail('masks', `has ${c.masks.length} masks; this run prunes ${this.pruneParams.length} tensors`);
    }
  }

  private async restore(c: LoopCheckpoint): Promise<void> {
    const { model, optimizer, penaltyVariables, penaltyOptimizers, penaltyState, masks, pruner, artController, artSnapshots, ...state } = c;
    this.state = { ...state, fingerprint: this.state.fingerprint };
    this.resumedFrom = state.epoch;
    assignTensors(modelVariables(this.model), model, 'model weights');
    this.lastGood = model;
    for (const snap of artSnapshots ?? []) this.artSnapshots.set(snap.epoch, { weights: snap.weights, masks: snap.masks });
    if (this.o.art && artController != null) this.o.art.controller.setState?.(artController, (epoch) => this.artSnapshots.get(epoch));
    if (state.phase === 'train') {
      if (this.o.pruning && pruner != null && this.o.pruning.setState) {
        this.o.pruning.setState(pruner, masks ? masksFromHost(this.pruneParams, masks) : []);
      }
      this.buildMainStep();
      // Penalties are bound now: restore their variables and state, then the optimizers' slots.
      this.penalties.forEach((p, i) => assignTensors(p.trainableVariables(), penaltyVariables[i] ?? [], `${p.name} variables`));
      this.penalties.forEach((p, i) => {
        if (penaltyState[i] != null && typeof p.setState === 'function') p.setState(penaltyState[i]);
      });
      if (optimizer.names.length) await restoreOptimizer(this.optimizer!, optimizer);
      const groups = this.step!.penaltyOptimizers();
      for (let i = 0; i < groups.length && i < penaltyOptimizers.length; i++) {
        if (penaltyOptimizers[i].names.length) await restoreOptimizer(groups[i].optimizer, penaltyOptimizers[i]);
      }
    } else {
      // Penalties are off after the main phase, but bind them so that their state is complete for reports.
      for (const p of this.penalties) if (p.params.length === 0) p.bind(selectParams(this.model, this.o.penaltySelection));
      this.penalties.forEach((p, i) => assignTensors(p.trainableVariables(), penaltyVariables[i] ?? [], `${p.name} variables`));
      if (masks) {
        this.ownMasks = masksFromHost(this.pruneParams, masks);
        applyMasks(this.ownMasks);
      }
      if (state.phase === 'finetune' && this.finetuneEpochs > 0) {
        this.buildFinetuneStep();
        if (optimizer.names.length) await restoreOptimizer(this.optimizer!, optimizer);
      }
    }
  }

  private async result(status: TrainResult['status'], message?: string): Promise<TrainResult> {
    const o = this.o;
    const s = this.state;
    const finished = status === 'completed';
    const final = finished && this.evalSplit ? (await evaluate(this.model, this.evalSplit, o.batchSize)).accuracy : undefined;
    // Best over the epochs that had the final structure: fine-tuning, or a run that never pruned.
    const lastPhase: Phase | null = s.history.some((m) => m.phase === 'finetune') ? 'finetune' : s.prune ? null : 'train';
    let best: BestAccuracy | undefined;
    for (const m of s.history) {
      if (m.phase !== lastPhase || m.accuracy === undefined) continue;
      if (!best || m.accuracy > best.value) best = { value: m.accuracy, epoch: m.epoch, phase: m.phase };
    }
    const ctx = { step: s.step, epoch: s.epoch };
    const diagnostics: Record<string, PenaltyDiagnostics> = {};
    for (const p of this.penalties) if (p.diagnostics && p.params.length) diagnostics[p.name] = p.diagnostics(ctx);
    const seconds = (Date.now() - this.startTime) / 1000;
    const result: TrainResult = {
      status,
      history: s.history,
      evalSplit: this.evalName,
      accuracy: { dense: s.accuracy.dense, pruned: s.accuracy.pruned, final, best },
      sparsity: measureSparsity(this.pruneParams),
      histograms: { ...s.histograms, final: s.histograms.final ?? (finished ? this.histogram() : undefined) },
      diagnostics,
      epochs: s.history.length,
      steps: s.step,
      timing: {
        seconds,
        trainSeconds: s.trainSeconds,
        samples: s.samples,
        samplesPerSecond: s.trainSeconds > 0 ? s.samples / s.trainSeconds : 0,
      },
    };
    if (message) result.message = message;
    if (s.prune) result.prune = s.prune;
    if (this.resumedFrom !== undefined) result.resumedFrom = this.resumedFrom;
    if (s.art) result.art = { ...s.art };
    return result;
  }

  dispose(): void {
    this.disposeStep();
    disposeMasks(this.ownMasks);
    this.ownMasks = null;
  }
}
