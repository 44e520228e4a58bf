import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, check, checkPruningMethod, measureSparsity, selectParams, type SelectOptions } from '@sparsify/core';
import { isPruner } from './penalties.js';
import { prunerOf } from './prune.js';
import { Pruner, resolvePruningSchedule, type PrunedParamSummary, type PrunerOptions } from '@sparsify/schedules';

export type UpdatePruningStepOptions = PrunerOptions | { pruner: Pruner };

/**
 * The tfmot `UpdatePruningStep` equivalent for plain `model.fit`: counts optimizer steps, recomputes
 * the masks when the schedule says so (before the batch's forward pass) and re-applies them after
 * every batch (`onBatchEnd`), at epoch end and at train end, so the weights are exactly sparse after
 * every batch. Under plain `fit` the gradients cannot be masked: a pruned weight moves during the
 * update and is put back to 0 right after it (and the validation pass of the last batch of an epoch,
 * which tfjs runs before `onBatchEnd`, sees it moved). `fitWithPenalties` / `penaltiesCallback`
 * mask gradients and weights inside the step instead.
 *
 * Without options it drives the pruner of the model being trained, as tfmot's does: the model must
 * have been through `pruneLowMagnitude` (or a torch-style call such as `l1Unstructured`, whose mask it
 * then keeps in place). With options it creates its own pruner (or takes yours).
 *
 * The step counter and masks persist across `fit` calls with the same callback (resume). `dispose()`
 * frees the masks of a pruner it created.
 */
export class UpdatePruningStep extends tf.Callback {
  private instance: Pruner | null;
  private readonly ownsPruner: boolean;
  private readonly prunerOptions: PrunerOptions | null;
  private prunedModel: tf.LayersModel | null = null;
  /** No options: drive the pruner of the model being trained (`pruneLowMagnitude`). */
  private readonly fromModel: boolean;

  constructor(options?: UpdatePruningStepOptions) {
    super();
    if (options === undefined) {
      // The model's own pruner (pruneLowMagnitude), looked up at each onTrainBegin.
      this.instance = null;
      this.ownsPruner = false;
      this.prunerOptions = null;
      this.fromModel = true;
      return;
    }
    this.fromModel = false;
    check(typeof options === 'object' && options !== null, 'updatePruningStep options', options, '{ schedule, … } or { pruner }');
    if ('pruner' in options) {
      check(isPruner(options.pruner), 'updatePruningStep pruner', typeof options.pruner, 'a Pruner');
      this.instance = options.pruner;
      this.ownsPruner = false;
      this.prunerOptions = null;
    } else {
      // Validate now, not at the first batch.
      resolvePruningSchedule(options.schedule);
      if (options.method) checkPruningMethod(options.method);
      this.instance = null;
      this.ownsPruner = true;
      this.prunerOptions = options;
    }
  }

  /** The pruner (created from the options at the first `onTrainBegin`). */
  get pruner(): Pruner | null {
    return this.instance;
  }

  override async onTrainBegin(): Promise<void> {
    if (this.fromModel) {
      const model = this.model as tf.LayersModel;
      this.instance = prunerOf(model);
      if (!this.instance) {
        throw new SparsifyConfigError(
          `updatePruningStep(): model ${JSON.stringify(model.name)} is not pruned; call pruneLowMagnitude(model, { pruningSchedule }) first, or give updatePruningStep a schedule`,
        );
      }
    }
    if (this.instance && this.ownsPruner && this.prunedModel !== this.model) {
      throw new SparsifyConfigError('this updatePruningStep callback already prunes another model: create one per model');
    }
    if (!this.instance) {
      this.instance = new Pruner(this.model, this.prunerOptions!);
      this.prunedModel = this.model;
    }
    this.instance.apply();
  }

  override async onBatchBegin(): Promise<void> {
    this.instance!.onStep(); // applies new masks to the weights when it recomputes them
  }

  override async onBatchEnd(): Promise<void> {
    this.instance!.apply();
  }

  override async onEpochEnd(): Promise<void> {
    this.instance!.apply();
  }

  override async onTrainEnd(): Promise<void> {
    this.instance!.finish(); // oneShot({ atEnd: true })
    this.instance!.apply();
  }

  dispose(): void {
    if (this.ownsPruner) this.instance?.dispose();
    this.instance = null;
  }
}

export function updatePruningStep(options?: UpdatePruningStepOptions): UpdatePruningStep {
  return new UpdatePruningStep(options);
}

/** One epoch's pruning summary (tfmot `PruningSummaries`: per-weight sparsity and threshold). */
export interface EpochPruningSummary {
  readonly epoch: number;
  /** The pruner's next step; null when measured without a pruner. */
  readonly step: number | null;
  readonly lastPruneStep: number | null;
  readonly targetSparsity: number | null;
  /** Exact zeros / size over the measured params. */
  readonly sparsity: number;
  readonly total: number;
  readonly zeros: number;
  readonly layers: PrunedParamSummary[];
}

export interface PruningSummariesOptions {
  /**
   * Where masks and thresholds come from: a Pruner, or a callback holding one (`updatePruningStep`,
   * `penaltiesCallback`). Default: the pruner of the model being trained when it is pruned (`pruneLowMagnitude`).
   */
  source?: Pruner | { readonly pruner: Pruner | null };
  /** Without a source: which params to measure (default: dense and conv kernels). */
  selection?: SelectOptions;
  /** Called with each epoch's summary; default: one readable line on the console (`formatPruningSummary`); false: silent. */
  log?: false | ((summary: EpochPruningSummary) => void);
  /** Adds the global sparsity to the epoch logs (and so to the History) under this key; false: not. Default `sparsity`. */
  logKey?: string | false;
}

/**
 * Per-layer sparsity after every epoch: kept in `summaries` (plain JSON), passed to `log` (default: one
 * readable line on the console), and the global sparsity added to the epoch logs. The tfmot `PruningSummaries`
 * equivalent without TensorBoard.
 */
export class PruningSummaries extends tf.Callback {
  readonly summaries: EpochPruningSummary[] = [];
  private readonly options: PruningSummariesOptions;

  constructor(options: PruningSummariesOptions = {}) {
    super();
    check(typeof options === 'object' && options !== null, 'pruningSummaries options', options, 'an object');
    if (options.log !== undefined && options.log !== false)
      check(typeof options.log === 'function', 'pruningSummaries log', options.log, 'a function or false');
    if (options.logKey !== undefined && options.logKey !== false)
      check(
        typeof options.logKey === 'string' && options.logKey.length > 0,
        'pruningSummaries logKey',
        options.logKey,
        'a non-empty string or false',
      );
    this.options = options;
  }

  /** Measures now (also what `onEpochEnd` records). */
  measure(epoch: number): EpochPruningSummary {
    const source = this.options.source;
    const pruner = isPruner(source) ? source : source ? source.pruner : this.model ? prunerOf(this.model as tf.LayersModel) : null;
    if (pruner) {
      const s = pruner.summary();
      return {
        epoch,
        step: s.step,
        lastPruneStep: s.lastPruneStep,
        targetSparsity: s.targetSparsity,
        sparsity: s.sparsity,
        total: s.total,
        zeros: s.zeros,
        layers: s.layers,
      };
    }
    if (!this.model) throw new SparsifyConfigError('pruningSummaries needs a source pruner or a model being trained');
    const params = selectParams(this.model, this.options.selection);
    const report = measureSparsity(params);
    return {
      epoch,
      step: null,
      lastPruneStep: null,
      targetSparsity: null,
      sparsity: report.global,
      total: report.total,
      zeros: report.zeros,
      layers: report.layers.map((l) => ({
        name: l.name,
        layerName: l.layerName,
        shape: l.shape,
        total: l.total,
        zeros: l.zeros,
        sparsity: l.sparsity,
        maskSparsity: null,
        threshold: null,
      })),
    };
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const summary = this.measure(epoch);
    this.summaries.push(summary);
    const { log, logKey = 'sparsity' } = this.options;
    if (log === undefined) console.log(formatPruningSummary(summary));
    else if (log) log(summary);
    if (logs && logKey) logs[logKey] = summary.sparsity;
  }
}

/** `epoch 3: sparsity 90.0% (target 90.0%); dense 90.0%, dense_1 90.0%`, the default log line. */
export function formatPruningSummary(s: EpochPruningSummary): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const target = s.targetSparsity === null ? '' : ` (target ${pct(s.targetSparsity)})`;
  return `epoch ${s.epoch + 1}: sparsity ${pct(s.sparsity)}${target}; ${s.layers.map((l) => `${l.layerName} ${pct(l.sparsity)}`).join(', ')}`;
}

export function pruningSummaries(options: PruningSummariesOptions = {}): PruningSummaries {
  return new PruningSummaries(options);
}
