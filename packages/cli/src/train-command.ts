import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels, selectBackend, type BackendPreference, type BackendSelection } from '@sparsify/backend';
import { planShrink } from '@sparsify/layers';
import { writeFileAtomic, writeReport, type ReportInput } from '@sparsify/reporting';
import { CHECKPOINT_FILE, evaluate, train, type TrainResult } from '@sparsify/train';
import { validateRunConfig, type RunConfig } from './config.js';
import { UsageError, show } from './errors.js';
import type { IO } from './io.js';
import { registerPlugins } from './plugins.js';
import { Progress, type ProgressMode } from './progress.js';
import { buildRun, stepsPerEpoch } from './setup.js';

export const RUN_CONFIG_FILE = 'run.json';

/** What `run.json` holds: the config plus facts recorded at the start (for export). */
export interface StoredRun {
  config: RunConfig;
  inputShape: number[];
  numClasses: number;
  createdAt: string;
}

export function readStoredRun(dir: string): StoredRun {
  const file = join(dir, RUN_CONFIG_FILE);
  if (!existsSync(file)) throw new UsageError(`${dir} is not a sparsify run directory: it has no ${RUN_CONFIG_FILE}`);
  let stored: StoredRun;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as StoredRun;
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  validateRunConfig(stored?.config);
  return stored;
}

/** True when `dir` holds a run (its config or a checkpoint). */
export function hasRun(dir: string): boolean {
  return existsSync(join(dir, RUN_CONFIG_FILE)) || existsSync(join(dir, CHECKPOINT_FILE));
}

export interface TrainCommandOptions {
  out: string;
  resume: boolean;
  mode: ProgressMode;
  io: IO;
  /** Backend override on resume (the stored one otherwise). */
  backend?: BackendPreference;
}

export interface TrainOutcome {
  code: number;
  result?: TrainResult;
  reportPath?: string;
}

/** Activates the backend a config asks for; wasm also gets the training kernels it lacks. */
export async function activateBackend(prefer: BackendPreference): Promise<BackendSelection> {
  const selection = await selectBackend({ prefer });
  if (selection.backend === 'wasm') registerWasmTrainingKernels();
  return selection;
}

/** The report's account of the backend: the selection line, the library and devices, the threads. */
function runtimeInfo(selection: BackendSelection): ReportInput['runtime'] {
  return {
    reason: selection.reason,
    ...(selection.native ? { libtensorflow: selection.native.libtensorflow, devices: [...selection.native.devices] } : {}),
    ...(selection.wasmThreads !== undefined ? { wasmThreads: selection.wasmThreads } : {}),
  };
}

/**
 * `sparsify train`: validates everything and builds the run first (a bad value is an error before
 * any file is written), then writes run.json, trains with epoch-end checkpoints, and writes the
 * report. Exit code 0 (done), 1 (stopped on NaN/Inf or failed).
 */
export async function trainCommand(config: RunConfig, o: TrainCommandOptions): Promise<TrainOutcome> {
  validateRunConfig(config);
  if (!o.resume && hasRun(o.out)) {
    throw new UsageError(`--out ${o.out} already holds a run; continue it with --resume ${o.out}, or choose another --out`);
  }
  const selection = await activateBackend(o.backend ?? config.backend);
  await registerPlugins();
  const setup = buildRun(config);
  const progress = new Progress(o.io, o.mode, config.method === 'hypersparse');
  try {
    const backend = tf.getBackend();
    if (!o.resume) {
      mkdirSync(o.out, { recursive: true });
      const stored: StoredRun = { config, inputShape: setup.data.sampleShape, numClasses: setup.data.numClasses, createdAt: new Date().toISOString() };
      writeFileAtomic(join(o.out, RUN_CONFIG_FILE), `${JSON.stringify(stored, null, 2)}\n`);
    }
    const params = setup.model.countParams();
    progress.event('start', { config, out: o.out, resume: o.resume, backend, backendReason: selection.reason, dataset: setup.data.source, params });
    progress.line(selection.reason);
    progress.line(
      `${config.model} (${params.toLocaleString('en-US')} parameters) on ${config.dataset}: ${setup.data.train.size} train / ${setup.data.test.size} test samples (${setup.data.source})`,
    );
    progress.line(`method ${config.method}${Object.keys(setup.penaltyConfig.config).length ? ` ${JSON.stringify(setup.penaltyConfig.config)}` : ''}, target sparsity ${(config.sparsity * 100).toFixed(1)}%, seed ${config.seed}, run directory ${o.out}`);
    const mainEpochs = setup.options.art ? setup.options.art.controller.warmupEpochs + setup.options.art.controller.maxEpochs : config.epochs;
    progress.plan(mainEpochs + config.finetuneEpochs, stepsPerEpoch(setup.data.train.size, config.batchSize));
    const result = await train({
      ...setup.options,
      runDir: o.out,
      resume: o.resume,
      callbacks: {
        onPhaseStart: (info) => progress.phaseStart(info),
        onBatchEnd: (info) => progress.batch(info),
        onEpochEnd: (m) => progress.epoch(m),
        onPrune: (info) => progress.prune(info),
      },
    });
    progress.finish();
    if (result.resumedFrom !== undefined) progress.line(`resumed from the checkpoint at epoch ${result.resumedFrom}`);
    let final = result.accuracy.final;
    if (final === undefined) final = (await evaluate(setup.model, setup.data.test, config.batchSize)).accuracy;
    const input: ReportInput = {
      name: o.out.split(/[\\/]/).filter(Boolean).pop(),
      model: config.model,
      dataset: config.dataset,
      method: config.method,
      penalty: setup.penaltyConfig,
      pruning: { ...setup.pruning, ...(result.prune ? { achieved: result.prune.achieved } : {}) },
      seed: config.seed,
      epochs: result.history.filter((h) => h.phase === 'train').length,
      finetuneEpochs: result.history.filter((h) => h.phase === 'finetune').length,
      backend,
      runtime: runtimeInfo(selection),
      status: result.status,
      ...(result.message ? { message: result.message } : {}),
      sparsity: {
        target: config.sparsity,
        layers: result.sparsity.layers.map((l) => ({ name: l.name, shape: l.shape.slice(), total: l.total, zeros: l.zeros, nearZeros: l.nearZeros })),
      },
      accuracy: {
        split: result.evalSplit === 'none' ? 'test' : result.evalSplit,
        ...(result.accuracy.dense !== undefined ? { dense: result.accuracy.dense } : {}),
        ...(result.accuracy.pruned !== undefined ? { pruned: result.accuracy.pruned } : {}),
        final,
        ...(result.accuracy.best ? { best: result.accuracy.best } : {}),
      },
      ...structureOf(setup.model),
      timing: {
        samplesPerSecond: result.timing.samplesPerSecond,
        seconds: result.timing.seconds,
        trainSeconds: result.timing.trainSeconds,
        samples: result.timing.samples,
      },
      diagnostics: result.diagnostics,
      history: result.history.map((h) => ({
        epoch: h.epoch,
        phase: h.phase,
        loss: h.loss,
        trainAccuracy: h.trainAccuracy,
        ...(h.accuracy !== undefined ? { accuracy: h.accuracy } : {}),
        sparsity: h.sparsity,
        seconds: h.seconds,
      })),
      histograms: {
        ...(result.histograms.beforePrune ? { beforePrune: result.histograms.beforePrune } : {}),
        ...(result.histograms.final ? { final: result.histograms.final } : {}),
      },
      ...(result.art ? { art: { ...result.art } } : {}),
    };
    const { report, files } = writeReport(o.out, input);
    progress.event('done', { status: result.status, report: files.json, html: files.html, accuracy: report.accuracy, sparsity: report.sparsity.global, samplesPerSecond: report.timing.samplesPerSecond, resumedFrom: result.resumedFrom ?? null });
    const a = report.accuracy;
    const p = (v?: number) => (v === undefined ? '—' : `${(v * 100).toFixed(2)}%`);
    progress.line('');
    progress.line(
      `${result.status === 'completed' ? 'done' : `stopped (${result.status})`}: accuracy dense ${p(a.dense)}, pruned ${p(a.pruned)}, final ${p(a.final)}; ` +
        `sparsity ${p(report.sparsity.global)} (target ${p(config.sparsity)}); ${Math.round(report.timing.samplesPerSecond)} samples/s on ${backend}; ${result.timing.seconds.toFixed(1)} s`,
    );
    if (result.status === 'nonFinite') progress.line(`${result.message}\nThe last good checkpoint is in ${o.out}.`);
    progress.line(`report: ${files.html}`);
    return { code: result.status === 'completed' ? 0 : 1, result, reportPath: files.html };
  } finally {
    progress.finish();
    setup.dispose();
  }
}

/**
 * The neurons or channels a shrink keeps per layer, for the report. An optional block: a model the
 * analysis cannot read must not cost the run its report, so a failure leaves the block out.
 */
function structureOf(model: tf.LayersModel): Pick<ReportInput, 'structure'> {
  try {
    const plan = planShrink(model);
    return {
      structure: {
        layers: plan.layers.map(({ name, unit, total, kept, inputs, inputsRead }) => ({ name, unit, total, kept, inputs, inputsRead })),
        parameters: { ...plan.parameters },
      },
    };
  } catch {
    return {};
  }
}

export function describeConfigError(error: unknown): string {
  return `${(error as Error).message ?? show(error)}`;
}
