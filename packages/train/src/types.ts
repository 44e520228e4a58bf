import type * as tf from '@tensorflow/tfjs';
import type { RunLock } from './run-dir.js';
import type {
  Mask,
  OptimizerConfig,
  Penalty,
  PenaltyDiagnostics,
  SelectOptions,
  SparsityReport,
  TaskLoss,
  ThresholdRule,
  TrainingContext,
} from '@sparsify/core';

/** One mini-batch. The loop disposes it after use (`dispose()`, or both tensors). */
export interface Batch {
  /** Inputs. */
  readonly x: tf.Tensor;
  /** Labels: class indices (rank 1) or one-hot (rank 2). */
  readonly y: tf.Tensor;
  dispose?(): void;
}

/** Batch order: the same (seed, epoch) gives the same order. */
export interface BatchOrder {
  shuffle: boolean;
  seed: number;
  epoch: number;
}

/**
 * The minimal data interface the loop needs: a size, and seeded batches made on demand. A
 * `@sparsify/datasets` `Dataset` fits it as it is; `tensorData` builds one from in-memory tensors.
 */
export interface DataSplit {
  /** Number of examples. */
  readonly size: number;
  /** One epoch of batches; the same (seed, epoch) gives the same order. */
  batches(batchSize: number, options: BatchOrder): Iterable<Batch> | AsyncIterable<Batch>;
}

export interface TrainData {
  train: DataSplit;
  /** Evaluated at every epoch end (default: `test`). */
  validation?: DataSplit;
  /** Evaluated for the dense / pruned / final accuracies (default: `validation`). */
  test?: DataSplit;
  /** The ART probe set (default: `train`, unshuffled). */
  probe?: DataSplit;
}

export type { OptimizerConfig };

/** Learning rate × gamma at each listed epoch of a phase (0-based; e.g. ART fine-tune: [80, 120], 0.1). */
/**
 * Step decay: every learning rate the phase trains with (the model's and, in the main phase, each penalty
 * optimizer's, e.g. HALO's λ) is multiplied by `gamma` once at each milestone epoch.
 */
export interface LearningRateDecay {
  milestones: number[];
  gamma: number;
  /**
   * Reproduce HALO's released CIFAR code, which decays the penalty optimizer twice per milestone and the
   * model's twice from the second milestone on (0.1 → 0.01 → 1e-4 and λ 0.1 → 1e-3 → 1e-5 at γ = 0.1).
   * Only runs with a penalty optimizer are affected. Default false: one decay per milestone for both.
   */
  legacyDoubleDecay?: boolean;
}

/**
 * A schedule-driven pruner (GMP and friends, `@sparsify/schedules`): after every optimizer step it may
 * recompute masks. The loop applies the current masks to gradients and weights on every step.
 */
export interface PrunerLike {
  /**
   * Called before every optimizer update with `ctx.step` = updates so far. Returns the new masks when
   * it recomputed them (the loop switches to them), or null/undefined when nothing changed. The pruner
   * owns its masks. (`@sparsify/schedules`' `Pruner` fits as it is.)
   */
  update(ctx: TrainingContext): readonly Mask[] | null | undefined;
  /** Current masks (empty before the first pruning step). */
  masks(): readonly Mask[];
  /**
   * JSON-serializable state (schedule step, last sparsity…), saved with checkpoints. The loop asks for
   * it without masks (it stores them itself, in binary) and hands them back to `setState`.
   */
  getState?(options?: { includeMasks?: boolean }): unknown;
  /** Restores `getState()` output and the masks saved with it (mask tensors are the pruner's from then on). */
  setState?(state: unknown, masks: readonly Mask[]): void;
  dispose?(): void;
}

/** A pruned copy of the model kept for the ART controller: host arrays, no tensors. */
export interface ArtSnapshot {
  /** Every model weight (`model.weights` order), pruned. */
  readonly weights: (Float32Array | Int32Array)[];
  /** 0/1 masks of the pruned params (`pruneSelection` order). */
  readonly masks: Uint8Array[];
}

/** What the loop tells the ART controller after each ART epoch. */
export interface ArtObservation {
  /** 0-based ART epoch (warm-up excluded). */
  epoch: number;
  /** Running training accuracy over the epoch just trained (training mode, penalty on). */
  denseAccuracy: number;
  /** Accuracy of the copy pruned globally at κ on the probe set, inference mode. */
  prunedAccuracy: number;
  snapshot?: ArtSnapshot;
}

/**
 * The ART controller (packages/hypersparse/README.md, "ART"): window, best probe, stop rule and cap. The
 * `ArtController` of `@sparsify/hypersparse` fits as it is. The loop trains, probes, keeps the
 * snapshots (and checkpoints them), and fine-tunes the selected one.
 */
export interface ArtControllerLike {
  readonly warmupEpochs: number;
  /** Cap on ART epochs. */
  readonly maxEpochs: number;
  observe(observation: ArtObservation): {
    stop: boolean;
    reason?: string;
    /** On stop: the probe to fine-tune (none: the loop prunes the live model at κ). */
    selected?: { epoch: number; snapshot?: ArtSnapshot };
    /** Snapshots the controller no longer holds. */
    discarded?: ArtSnapshot[];
  };
  getState?(): unknown;
  /** Restores `getState()`; `snapshotOf(epoch)` gives back the snapshots the loop checkpointed. */
  setState?(state: unknown, snapshotOf?: (epoch: number) => ArtSnapshot | undefined): unknown;
}

export interface ArtOptions {
  controller: ArtControllerLike;
  /** κ: the probes prune a copy globally to this sparsity (strict quantile rule), and so does the end. */
  sparsity: number;
}

/** One-shot magnitude pruning at the end of the main phase (docs/conventions.md, "Magnitude-pruning baselines"). */
export interface OneShotPruning {
  /** Target sparsity in [0, 1); 0 prunes nothing. */
  sparsity: number;
  /**
   * `global` or `layer`. Default: what the penalties state (`Penalty.pruning`), else `DEFAULT_PRUNING`
   * (global); docs/defaults.md, "Pruning".
   */
  scope?: 'global' | 'layer';
  /**
   * Default: what the penalties state (HALO: `quantileNonZero`), else `DEFAULT_PRUNING` (strict
   * `quantile`; docs/conventions.md, "Magnitude thresholds").
   */
  rule?: ThresholdRule;
}

export interface FinetuneOptions {
  epochs: number;
  /** Default: the main optimizer's config (a new instance: slots start at zero). */
  optimizer?: OptimizerConfig;
  /** Default: the main `weightDecay`. */
  weightDecay?: number;
  lrDecay?: LearningRateDecay;
}

export type Phase = 'train' | 'finetune';

export interface BatchEndInfo {
  phase: Phase;
  /** Global epoch index (0-based, over all phases). */
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
  taskLoss: number;
  penaltyLoss: number;
  /** Batch accuracy (training mode), when the model is a classifier. */
  accuracy?: number;
}

export interface EpochMetrics {
  phase: Phase;
  /** Global epoch index (0-based, over all phases). */
  epoch: number;
  /** 0-based within the phase. */
  phaseEpoch: number;
  /** Optimizer steps taken at the end of this epoch. */
  step: number;
  /** Batch means over the epoch. */
  loss: number;
  taskLoss: number;
  penaltyLoss: number;
  /** Running training accuracy (training mode), when the model is a classifier. */
  trainAccuracy?: number;
  /** Evaluation accuracy and loss at epoch end (inference mode), on `evalSplit`. */
  accuracy?: number;
  evalLoss?: number;
  /** Exact-zero sparsity of the pruned set at epoch end, and |w| ≤ 1e-5 sparsity. */
  sparsity: number;
  nearZeroSparsity: number;
  /** Penalty strengths during this epoch, by penalty name. */
  strengths: Record<string, number>;
  diagnostics: Record<string, PenaltyDiagnostics>;
  learningRate: number;
  seconds: number;
  samplesPerSecond: number;
  /** ART probe of this epoch, when ART is on and past warm-up. */
  art?: { artEpoch: number; prunedAccuracy: number; denseAccuracy: number; stop: boolean; reason?: string };
}

/** Magnitude histogram: counts of log10|w| in equal bins, exact zeros apart. */
export interface MagnitudeHistogram {
  /** Bin edges in log10|w| (length bins + 1). */
  edges: number[];
  counts: number[];
  zeros: number;
  total: number;
}

export interface TrainCallbacks {
  onBatchEnd?(info: BatchEndInfo): void | Promise<void>;
  onEpochEnd?(metrics: EpochMetrics): void | Promise<void>;
  onPhaseStart?(info: { phase: Phase; epochs: number; startEpoch: number }): void | Promise<void>;
  /** After one-shot pruning or the ART selection. */
  onPrune?(info: PruneInfo): void | Promise<void>;
  /** After a checkpoint was written. */
  onCheckpoint?(info: { path: string; epoch: number }): void | Promise<void>;
  /** Something the user should know that does not stop the run (e.g. resuming from the previous checkpoint). */
  onWarning?(message: string): void | Promise<void>;
}

export interface PruneInfo {
  method: 'oneShot' | 'art' | 'schedule';
  /** Requested sparsity. */
  target: number;
  /** Achieved sparsity right after pruning (exact zeros / pruned set). */
  achieved: number;
  /** Accuracy right before and right after pruning, on the test split. */
  accuracyBefore?: number;
  accuracyAfter?: number;
  /** The global epoch after which it happened. */
  epoch: number;
}

export interface TrainOptions {
  model: tf.LayersModel;
  data: TrainData;
  /** Default momentum SGD, lr 0.01, μ 0.9. */
  optimizer?: OptimizerConfig;
  lrDecay?: LearningRateDecay;
  /** Main-phase epochs (with ART: the warm-up plus at most `art.maxEpochs` ART epochs instead). */
  epochs: number;
  batchSize: number;
  /** Shuffling seed (model initialisation is the caller's). Default 0. */
  seed?: number;
  /** Built penalties (from any package); unbound ones are bound to `penaltySelection` of the model. */
  penalties?: readonly Penalty[];
  penaltySelection?: SelectOptions;
  /** What is pruned and measured (default: dense and conv kernels). */
  pruneSelection?: SelectOptions;
  /** Coupled L2 weight decay on every model variable (and penalty variables unless they say otherwise). */
  weightDecay?: number;
  /** Schedule-driven pruning during the main phase (GMP). */
  pruning?: PrunerLike;
  /** One-shot magnitude pruning at the end of the main phase. */
  prune?: OneShotPruning;
  /** ART (HyperSparse): warm-up, ART epochs with a probe each, stop, fine-tune the selected copy. */
  art?: ArtOptions;
  /** Fine-tuning with fixed masks, penalties off, a new optimizer. */
  finetune?: FinetuneOptions;
  loss?: TaskLoss;
  callbacks?: TrainCallbacks;
  /**
   * Where checkpoints go (`checkpoint.bin`, written atomically at every epoch end). Without it the
   * run keeps no checkpoint on disk.
   */
  runDir?: string;
  /** Continue from `runDir`'s checkpoint when there is one (default false: an existing one is an error). */
  resume?: boolean;
  /**
   * `runDir`'s lock when the caller holds it already (`lockRunDirectory`, e.g. taken before writing
   * files of its own into the directory); otherwise `train` takes it for the run and releases it.
   */
  lock?: RunLock;
  /** Evaluate every epoch (default true); the final accuracies are measured either way. */
  evaluateEachEpoch?: boolean;
  /** Stop after this many epochs in this call (a deliberate interruption, for tests and time limits). */
  stopAfterEpochs?: number;
  /**
   * Stops the run at the next step boundary once aborted (e.g. on SIGINT): with `runDir` a checkpoint
   * of that very step is written first, so `resume` goes on from there exactly as an uninterrupted run
   * would have. The result's status is then `interrupted`.
   */
  signal?: AbortSignal;
}

export interface BestAccuracy {
  value: number;
  epoch: number;
  phase: Phase;
}

export interface TrainResult {
  /** `completed`, `nonFinite` (stopped on NaN/Inf; the model holds the last good epoch's weights) or `interrupted`. */
  status: 'completed' | 'nonFinite' | 'interrupted';
  message?: string;
  history: EpochMetrics[];
  /** Which split the accuracies below were measured on. */
  evalSplit: 'test' | 'validation' | 'none';
  accuracy: {
    /** Before pruning (end of the main phase); absent when a schedule pruned during training. */
    dense?: number;
    /** Right after pruning, before fine-tuning. */
    pruned?: number;
    /** At the end of the run. */
    final?: number;
    /**
     * Best per-epoch evaluation accuracy over the fine-tuning epochs (or all epochs of a run that never
     * pruned): a selection on `evalSplit`, optimistic when that is the test set. Absent otherwise.
     */
    best?: BestAccuracy;
  };
  prune?: PruneInfo;
  sparsity: SparsityReport;
  histograms: { initial?: MagnitudeHistogram; beforePrune?: MagnitudeHistogram; final?: MagnitudeHistogram };
  diagnostics: Record<string, PenaltyDiagnostics>;
  epochs: number;
  steps: number;
  timing: { seconds: number; trainSeconds: number; samples: number; samplesPerSecond: number };
  /** The epoch the run resumed at (global index), when it did. */
  resumedFrom?: number;
  art?: { stopped: boolean; reason?: string; artEpochs: number; selectedArtEpoch?: number };
}
