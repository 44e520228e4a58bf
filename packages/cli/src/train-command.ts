import { existsSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels, selectBackend, type BackendPreference, type BackendSelection } from '@sparsify/backend/node';
import { planShrink } from '@sparsify/layers/node';
import { writeFileAtomic, writeReport, type ReportInput } from '@sparsify/reporting/node';
import {
  evaluate,
  hasCheckpoint,
  lockRunDirectory,
  makeDirectory,
  readRegularFile,
  readRunCheckpoint,
  train,
  type RunLock,
  type TrainResult,
} from '@sparsify/train/node';
import { validateRunConfig, type RunConfig } from './config.js';
import { UsageError, show } from './errors.js';
import type { IO } from './io.js';
import { registerPlugins } from './plugins.js';
import { Progress, type ProgressMode } from './progress.js';
import { buildRun, type RunSetup } from './setup.js';

export const RUN_CONFIG_FILE = 'run.json';

/** What `run.json` holds: the config plus facts recorded at the start (for export). */
export interface StoredRun {
  config: RunConfig;
  inputShape: number[];
  numClasses: number;
  createdAt: string;
}

/** Read (at most 1 MiB, a regular file) and checked, with messages that name the file and the key. */
export function readStoredRun(dir: string): StoredRun {
  const file = join(dir, RUN_CONFIG_FILE);
  if (!existsSync(file)) throw new UsageError(`${dir} is not a sparsify run directory: it has no ${RUN_CONFIG_FILE}`);
  let stored: StoredRun;
  try {
    stored = JSON.parse(readRegularFile(file, 2 ** 20).toString('utf8')) as StoredRun;
  } catch (error) {
    if ((error as Error).name === 'RunDirectoryError') throw error;
    throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof stored !== 'object' || stored === null)
    throw new UsageError(`${file} must hold an object { config, inputShape, numClasses }; got ${show(stored)}`);
  validateRunConfig(stored.config, `${file} config`);
  if (!Array.isArray(stored.inputShape) || !stored.inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new UsageError(`${file}: inputShape must be a list of integers > 0; got ${show(stored.inputShape)}`);
  }
  if (!Number.isSafeInteger(stored.numClasses) || stored.numClasses < 2)
    throw new UsageError(`${file}: numClasses must be an integer ≥ 2; got ${show(stored.numClasses)}`);
  return stored;
}

/** True when `dir` holds a run (its config or a checkpoint). */
export function hasRun(dir: string): boolean {
  return existsSync(join(dir, RUN_CONFIG_FILE)) || hasCheckpoint(dir);
}

/** The exit code of a run stopped by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM). */
export function signalExitCode(signal: AbortSignal | undefined): number {
  const name = typeof signal?.reason === 'string' ? signal.reason : 'SIGINT';
  return 128 + ((constants.signals as Record<string, number>)[name] ?? constants.signals.SIGINT);
}

export interface TrainCommandOptions {
  out: string;
  resume: boolean;
  mode: ProgressMode;
  io: IO;
  /** Backend override on resume (the stored one otherwise). */
  backend?: BackendPreference;
  /** Aborted on SIGINT / SIGTERM: the run stops at the next step with a checkpoint (reason: the signal's name). */
  signal?: AbortSignal;
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
 * `sparsify train`: takes the run directory's lock first (a second run into it fails at once), then
 * validates everything and builds the run (a bad value is an error before any file is written),
 * writes run.json, trains with epoch-end checkpoints, and writes the report. A run that fails before
 * its first checkpoint leaves nothing behind (not even the directory, if it made it). Exit code 0
 * (done), 1 (stopped on NaN/Inf or failed), 130 / 143 (interrupted by SIGINT / SIGTERM: resumable).
 */
export async function trainCommand(config: RunConfig, o: TrainCommandOptions): Promise<TrainOutcome> {
  validateRunConfig(config, o.resume ? `${join(o.out, RUN_CONFIG_FILE)} config` : undefined);
  const created = makeDirectory(o.out);
  const lock = lockRunDirectory(o.out);
  const configFile = join(o.out, RUN_CONFIG_FILE);
  let wroteConfig = false;
  try {
    if (!o.resume && hasRun(o.out)) {
      throw new UsageError(`--out ${o.out} already holds a run; continue it with --resume ${o.out}, or choose another --out`);
    }
    const selection = await activateBackend(o.backend ?? config.backend);
    await registerPlugins();
    const setup = buildRun(config, o.resume ? `${configFile} config` : undefined);
    try {
      if (!o.resume) {
        const stored: StoredRun = {
          config,
          inputShape: setup.data.sampleShape,
          numClasses: setup.data.numClasses,
          createdAt: new Date().toISOString(),
        };
        writeFileAtomic(configFile, `${JSON.stringify(stored, null, 2)}\n`);
        wroteConfig = true;
      }
      return await runAndReport(config, setup, selection, lock, o);
    } finally {
      setup.dispose();
    }
  } catch (error) {
    // A new run that failed before its first checkpoint: remove what it wrote, so that --out is free again.
    if (wroteConfig && !hasCheckpoint(o.out)) unlinkSync(configFile);
    throw error;
  } finally {
    lock.release();
    if (created && readdirSync(o.out).length === 0) rmdirSync(o.out);
  }
}

async function runAndReport(
  config: RunConfig,
  setup: RunSetup,
  selection: BackendSelection,
  lock: RunLock,
  o: TrainCommandOptions,
): Promise<TrainOutcome> {
  const progress = new Progress(o.io, o.mode, config.method === 'hypersparse');
  try {
    const backend = tf.getBackend();
    const params = setup.model.countParams();
    progress.event('start', {
      config,
      out: o.out,
      resume: o.resume,
      backend,
      backendReason: selection.reason,
      dataset: setup.data.source,
      params,
    });
    progress.wrappedLine(selection.reason);
    progress.wrappedLine(
      `${config.model} (${params.toLocaleString('en-US')} parameters) on ${config.dataset}: ${setup.data.train.size} train / ${setup.data.test.size} test samples (${setup.data.source})`,
    );
    const options = Object.entries(setup.penaltyConfig.config).map(([k, v]) => `${k}=${optionText(v)}`);
    progress.wrappedLine(
      `method ${config.method}, target sparsity ${(config.sparsity * 100).toFixed(1)}%, seed ${config.seed}, run directory ${o.out}${options.length ? `; options ${options.join(' ')}` : ''}`,
    );
    const mainEpochs = setup.options.art
      ? setup.options.art.controller.warmupEpochs + setup.options.art.controller.maxEpochs
      : config.epochs;
    progress.plan(mainEpochs + config.finetuneEpochs);
    const result = await train({
      ...setup.options,
      runDir: o.out,
      resume: o.resume,
      lock,
      ...(o.signal ? { signal: o.signal } : {}),
      callbacks: {
        onPhaseStart: (info) => progress.phaseStart(info),
        onBatchEnd: (info) => progress.batch(info),
        onEpochEnd: (m) => progress.epoch(m),
        onPrune: (info) => progress.prune(info),
        onWarning: (message) => progress.warning(message),
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
        layers: result.sparsity.layers.map((l) => ({
          name: l.name,
          shape: l.shape.slice(),
          total: l.total,
          zeros: l.zeros,
          nearZeros: l.nearZeros,
        })),
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
    progress.event('done', {
      status: result.status,
      report: files.json,
      html: files.html,
      accuracy: report.accuracy,
      sparsity: report.sparsity.global,
      samplesPerSecond: report.timing.samplesPerSecond,
      resumedFrom: result.resumedFrom ?? null,
    });
    const a = report.accuracy;
    const p = (v?: number) => (v === undefined ? '—' : `${(v * 100).toFixed(2)}%`);
    progress.line('');
    const outcome = `${result.status === 'completed' ? 'done' : `stopped (${result.status})`}: accuracy dense ${p(a.dense)}, pruned ${p(a.pruned)}, final ${p(a.final)}`;
    const figures = `sparsity ${p(report.sparsity.global)} (target ${p(config.sparsity)}); ${Math.round(report.timing.samplesPerSecond)} samples/s on ${backend}; ${result.timing.seconds.toFixed(1)} s`;
    progress.fittedLine(`${outcome}; ${figures}`, [outcome, `  ${figures}`]);
    if (result.status === 'nonFinite') progress.line(`${result.message}\n${divergenceAdvice(o.out, config)}`);
    if (result.status === 'interrupted') {
      const at = readRunCheckpoint(o.out)?.value;
      const where = at ? `epoch ${at.epoch + 1}${at.progress ? `, batch ${at.progress.batch}` : ''}` : 'the start';
      progress.line(
        `interrupted (${String(o.signal?.reason ?? 'signal')}) at ${where}: checkpoint written; continue with sparsify train --resume ${o.out}`,
      );
    }
    progress.line(`report: ${files.html}`);
    const code = result.status === 'completed' ? 0 : result.status === 'interrupted' ? signalExitCode(o.signal) : 1;
    return { code, result, reportPath: files.html };
  } finally {
    progress.finish();
  }
}

/** An option's value for the terminal: `3e-6` rather than `0.000003`, a constant schedule as its value. */
function optionText(value: unknown): string {
  if (typeof value === 'number') return value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential() : String(value);
  const v = value as { kind?: unknown; value?: unknown } | null;
  if (v && typeof v === 'object' && v.kind === 'constant' && typeof v.value === 'number') return optionText(v.value);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** What to do after a run stopped on a non-finite loss: where its last good state is, and how to go on. */
function divergenceAdvice(out: string, config: RunConfig): string {
  const last = readRunCheckpoint(out)?.value;
  const again = `sparsify train --config ${join(out, RUN_CONFIG_FILE)} --lr ${Number((config.lr / 10).toPrecision(3))} --out <new dir> (or a lower penalty strength with --set)`;
  if (!last)
    return `It diverged before the first epoch ended, so there is no checkpoint to go back to. Start again with a lower learning rate: ${again}`;
  return (
    `${out} keeps the checkpoint of the last good epoch (${last.epoch}); a run resumes with the settings it started with, ` +
    `so to change them start a new run from its configuration: ${again}`
  );
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
