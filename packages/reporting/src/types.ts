/** One pruned/measured tensor. */
export interface LayerRow {
  name: string;
  shape: number[];
  total: number;
  /** Exact zeros. */
  zeros: number;
  /** |w| ≤ 1e-5, exact zeros included (optional). */
  nearZeros?: number;
}

/**
 * What structured sparsity left of one layer with units (Dense, Conv2D, DepthwiseConv2D), as
 * `@sparsify/layers`' `planShrink` counts it: the neurons or channels that are neither constant nor
 * unread, and the inputs still read through a non-zero weight.
 */
export interface StructureRow {
  name: string;
  /** `neurons` (Dense) or `channels` (convolutions). */
  unit: 'neurons' | 'channels';
  total: number;
  kept: number;
  inputs: number;
  inputsRead: number;
}

/** Histogram of log10|w| with exact zeros apart (as `@sparsify/train` makes them). */
export interface Histogram {
  edges: number[];
  counts: number[];
  zeros: number;
  total: number;
}

export interface EpochRow {
  epoch: number;
  phase: string;
  loss?: number;
  trainAccuracy?: number;
  accuracy?: number;
  sparsity: number;
  seconds?: number;
}

export interface AccuracyBlock {
  /** Which split these were measured on (`test` or `validation`). */
  split: string;
  /** Before pruning (end of the main phase), if measured. */
  dense?: number;
  /** Right after pruning, before fine-tuning. */
  pruned?: number;
  /** At the end of the run. */
  final: number;
  /** Best per-epoch accuracy of the last phase: a selection on `split`, labelled as such. */
  best?: { value: number; epoch: number; phase: string };
}

/** The backend a run trained on, as `@sparsify/backend`'s selection described it. */
export interface RuntimeInfo {
  /** e.g. `backend tensorflow (libtensorflow 2.21.0; CPU): explicit choice`. */
  reason: string;
  /** On tensorflow: the TensorFlow C library tfjs-node loaded. */
  libtensorflow?: string;
  /** On tensorflow: `CPU`, plus `GPU <name>` where TensorFlow runs on one. */
  devices?: string[];
  /** On wasm: XNNPACK threads. */
  wasmThreads?: number;
}

/** Everything a run report holds; `report.json` is exactly this. */
export interface RunReport {
  kind: 'sparsify-run-report';
  version: 1;
  name?: string;
  createdAt: string;
  model: string;
  dataset: string;
  penalty: { name: string; config: Record<string, unknown> };
  /** `none`, a penalty name, `magnitude`, `gmp`. */
  method: string;
  /** How the run pruned: one-shot rule/scope, schedule, ART. */
  pruning?: Record<string, unknown>;
  seed: number;
  epochs: number;
  finetuneEpochs?: number;
  backend: string;
  /** What backend selection got: its one-line reason, and on tensorflow the library and devices. */
  runtime?: RuntimeInfo;
  status?: string;
  message?: string;
  sparsity: {
    target: number;
    global: number;
    total: number;
    zeros: number;
    nearZeros?: number;
    /** total / non-zeros. */
    compression: number;
    layers: LayerRow[];
  };
  accuracy: AccuracyBlock;
  /** Neurons or channels kept per layer, and the parameters a `shrink` keeps (DeepHoyer's structure). */
  structure?: { layers: StructureRow[]; parameters: { before: number; after: number } };
  timing: { samplesPerSecond: number; seconds?: number; trainSeconds?: number; samples?: number };
  /** Whatever each penalty's `diagnostics()` returned at the end, by penalty name. */
  diagnostics?: Record<string, Record<string, number | number[]>>;
  history?: EpochRow[];
  histograms?: { beforePrune?: Histogram; final?: Histogram };
  art?: Record<string, unknown>;
}

/** What `createReport` takes: the report without the fields it fills in. */
export type ReportInput = Omit<RunReport, 'kind' | 'version' | 'createdAt' | 'sparsity'> & {
  createdAt?: string;
  sparsity: Omit<RunReport['sparsity'], 'global' | 'total' | 'zeros' | 'compression'> &
    Partial<Pick<RunReport['sparsity'], 'global' | 'total' | 'zeros' | 'compression'>>;
};

/** One finished run of a sweep. */
export interface SweepRow {
  name: string;
  method: string;
  target: number;
  seed: number;
  sparsity: number;
  dense?: number;
  pruned?: number;
  final: number;
  best?: number;
  samplesPerSecond?: number;
  seconds?: number;
  status?: string;
}

export interface SweepReport {
  kind: 'sparsify-sweep-report';
  version: 1;
  createdAt: string;
  model: string;
  dataset: string;
  backend?: string;
  rows: SweepRow[];
}
