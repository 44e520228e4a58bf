import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_WASM_THREADS, WASM_THREADS_ENV_VAR } from '@sparsify/backend/node';
import {
  readReport,
  renderSweepText,
  writeFileAtomic,
  writeSweepReport,
  type RunReport as Report,
  type SweepRow,
} from '@sparsify/reporting/node';
import { METHOD_PRESETS, TRAIN_DEFAULTS, validateRunConfig, type RunConfig } from './config.js';
import { UsageError, show } from './errors.js';
import type { IO } from './io.js';
import { registerPlugins } from './plugins.js';
import { checkNames } from './setup.js';
import { hasRun, signalExitCode } from './train-command.js';
import { makeDirectory, readRegularFile } from '@sparsify/train/node';

/** Per-method entry of a sweep: a name, or an object with `set` options and per-method overrides. */
export type SweepMethod =
  | string
  | ({ name: string; set?: Record<string, unknown>; label?: string } & Partial<
      Omit<RunConfig, 'version' | 'method' | 'options' | 'sparsity' | 'seed'>
    >);

export interface SweepConfig extends Partial<Omit<RunConfig, 'version' | 'method' | 'options' | 'sparsity' | 'seed'>> {
  methods: SweepMethod[];
  sparsities: number[];
  seeds?: number[];
  /** Output directory (default: beside the config file, named after it). */
  out?: string;
  /** Parallel worker processes (default 1). */
  jobs?: number;
}

export interface SweepJob {
  name: string;
  label: string;
  dir: string;
  config: RunConfig;
}

const RUN_KEYS = [
  'model',
  'dataset',
  'dataDir',
  'limit',
  'validation',
  'epochs',
  'finetuneEpochs',
  'batchSize',
  'optimizer',
  'lr',
  'momentum',
  'weightDecay',
  'finetuneLr',
  'pruneRule',
  'pruneScope',
  'penalizeBiases',
  'backend',
] as const;

function pick(source: Record<string, unknown>, where: string): Partial<RunConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(source)) {
    if ((RUN_KEYS as readonly string[]).includes(k)) out[k] = v;
    else if (!['methods', 'sparsities', 'seeds', 'out', 'jobs', 'name', 'set', 'label'].includes(k)) {
      throw new UsageError(`${where}: unknown key ${show(k)}; valid: methods, sparsities, seeds, out, jobs, ${RUN_KEYS.join(', ')}`);
    }
  }
  return out as Partial<RunConfig>;
}

const pctName = (s: number) => `s${Math.round(s * 1000) / 10}`.replace('.', '_');

/** The grid: methods × sparsities × seeds (`none` once per seed, at sparsity 0). Validates every job. */
export function expandSweep(sweep: SweepConfig, out: string): SweepJob[] {
  if (!sweep || typeof sweep !== 'object') throw new UsageError(`sweep config must be a JSON object; got ${show(sweep)}`);
  if (!Array.isArray(sweep.methods) || sweep.methods.length === 0)
    throw new UsageError(`sweep config "methods" must be a non-empty array; got ${show(sweep.methods)}`);
  if (!Array.isArray(sweep.sparsities) || sweep.sparsities.length === 0)
    throw new UsageError(`sweep config "sparsities" must be a non-empty array of fractions in [0, 1); got ${show(sweep.sparsities)}`);
  const seeds = sweep.seeds ?? [0];
  if (!Array.isArray(seeds) || seeds.length === 0)
    throw new UsageError(`sweep config "seeds" must be a non-empty array of integers; got ${show(sweep.seeds)}`);
  const { method: _m, sparsity: _s, seed: _seed, ...defaults } = TRAIN_DEFAULTS;
  const base = { ...defaults, ...pick(sweep as unknown as Record<string, unknown>, 'sweep config') };
  const jobs: SweepJob[] = [];
  const names = new Set<string>();
  sweep.methods.forEach((m, i) => {
    const entry = typeof m === 'string' ? { name: m } : m;
    if (!entry || typeof entry.name !== 'string')
      throw new UsageError(`sweep config methods[${i}] must be a name or { name, set?, ... }; got ${show(m)}`);
    const overrides = pick(entry as Record<string, unknown>, `methods[${i}]`);
    const label = entry.label ?? entry.name;
    const sparsities = entry.name === 'none' ? [0] : sweep.sparsities;
    for (const sparsity of sparsities) {
      for (const seed of seeds) {
        const where = `sweep config methods[${i}] (${entry.name}, sparsity ${sparsity}, seed ${seed})`;
        const config: RunConfig = validateRunConfig(
          {
            version: 1,
            ...base,
            // Fine-tuning a dense model changes nothing that is measured: none trains only.
            ...(entry.name === 'none' ? { finetuneEpochs: 0 } : {}),
            ...overrides,
            method: entry.name,
            // The same defaults as sparsify train: the method's preset, then what the entry sets.
            options: { ...(METHOD_PRESETS[entry.name] ?? {}), ...(entry.set ?? {}) },
            sparsity,
            seed,
          } as RunConfig,
          where,
        );
        checkNames(config, where);
        const name = `${label}-${pctName(sparsity)}-seed${seed}`;
        if (names.has(name)) throw new UsageError(`sweep config: two jobs are named ${show(name)}; give one of the methods a "label"`);
        names.add(name);
        jobs.push({ name, label, dir: join(out, name), config });
      }
    }
  });
  return jobs;
}

export function readSweepConfig(path: string): SweepConfig {
  if (!existsSync(path)) throw new UsageError(`sweep config ${path} does not exist`);
  try {
    return JSON.parse(readRegularFile(path, 2 ** 20).toString('utf8')) as SweepConfig;
  } catch (error) {
    if ((error as Error).name === 'RunDirectoryError') throw error;
    throw new UsageError(`sweep config ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The built `bin.js` next to this module (dist), or the package's dist when running from source. */
export function binPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, 'bin.js'), join(here, '..', 'dist', 'bin.js')]) if (existsSync(candidate)) return candidate;
  throw new Error(`cannot find the sparsify bin (looked in ${here} and ../dist): build @sparsify/cli first`);
}

export interface JobOutcome {
  job: SweepJob;
  /** The run's exit code (0 for a skipped run). */
  code: number;
  skipped: boolean;
  /** The last lines of its stderr when it failed (the error message). */
  message?: string;
}

/** What running one job of a sweep needs: where its config goes, the bin, its environment, where to say things. */
export interface SweepJobContext {
  /** The sweep's directory: run directories and `.jobs/<name>.json` configs go in it. */
  out: string;
  bin: string;
  env: NodeJS.ProcessEnv;
  io: IO;
  json: boolean;
  /** The running `sparsify train` processes (to pass a signal on). */
  children: Set<ChildProcess>;
  say: Say;
  /** Aborted when the sweep (or worker) stops: a run that then exits non-zero was interrupted, not failed. */
  signal?: AbortSignal;
  /** Each JSON event of the run (epoch, done, …). */
  onEvent?: (event: Record<string, unknown>) => void;
}

/** A line of text, or with `--json` its event (or nothing, for lines without one). */
export type Say = (text: string, event?: Record<string, unknown>) => void;

export function sayer(io: IO, json: boolean): Say {
  return (text, event) => {
    if (json) {
      if (event) io.out(`${JSON.stringify(event)}\n`);
    } else io.out(`${text}\n`);
  };
}

/** A finished run's report, as far as the sweep's summary needs it (what a queue job sends back). */
export type RunSummary = Pick<Report, 'seed' | 'status' | 'backend'> & {
  sparsity: Pick<Report['sparsity'], 'target' | 'global'>;
  accuracy: Pick<Report['accuracy'], 'dense' | 'pruned' | 'final' | 'best'>;
  timing: Pick<Report['timing'], 'samplesPerSecond' | 'seconds'>;
};

export function summarizeReport(r: Report): RunSummary {
  return {
    seed: r.seed,
    ...(r.status !== undefined ? { status: r.status } : {}),
    backend: r.backend,
    sparsity: { target: r.sparsity.target, global: r.sparsity.global },
    accuracy: {
      final: r.accuracy.final,
      ...(r.accuracy.dense !== undefined ? { dense: r.accuracy.dense } : {}),
      ...(r.accuracy.pruned !== undefined ? { pruned: r.accuracy.pruned } : {}),
      ...(r.accuracy.best ? { best: r.accuracy.best } : {}),
    },
    timing: { samplesPerSecond: r.timing.samplesPerSecond, ...(r.timing.seconds !== undefined ? { seconds: r.timing.seconds } : {}) },
  };
}

/** The summary table's row of one run. */
export function sweepRow(job: Pick<SweepJob, 'name' | 'label'>, r: RunSummary): SweepRow {
  return {
    name: job.name,
    method: job.label,
    target: r.sparsity.target,
    seed: r.seed,
    sparsity: r.sparsity.global,
    ...(r.accuracy.dense !== undefined ? { dense: r.accuracy.dense } : {}),
    ...(r.accuracy.pruned !== undefined ? { pruned: r.accuracy.pruned } : {}),
    final: r.accuracy.final,
    ...(r.accuracy.best ? { best: r.accuracy.best.value } : {}),
    samplesPerSecond: r.timing.samplesPerSecond,
    ...(r.timing.seconds !== undefined ? { seconds: r.timing.seconds } : {}),
    status: r.status ?? 'completed',
  };
}

/** The completed report of `dir`, or undefined (none, unreadable, or not completed). */
export function completedReport(dir: string): Report | undefined {
  if (!existsSync(join(dir, 'report.json'))) return undefined;
  try {
    const report = readReport(dir);
    return report.status === 'completed' ? report : undefined;
  } catch {
    return undefined; // unreadable: run again
  }
}

/**
 * Runs one job as its own `sparsify train` process (so each has its own TF.js engine): skipped when
 * its run directory holds a completed report, resumed when it holds a run, started otherwise.
 */
export async function runSweepJob(job: SweepJob, c: SweepJobContext): Promise<JobOutcome> {
  const { say } = c;
  if (completedReport(job.dir)) {
    say(`[${job.name}] finished before: skipped`, { event: 'skip', run: job.name });
    return { job, code: 0, skipped: true };
  }
  let args: string[];
  if (hasRun(job.dir)) {
    args = ['train', '--resume', job.dir, '--json'];
    say(`[${job.name}] resuming`, { event: 'resume', run: job.name });
  } else {
    const file = join(c.out, '.jobs', `${job.name}.json`);
    makeDirectory(dirname(file));
    writeFileAtomic(file, `${JSON.stringify(job.config, null, 2)}\n`);
    args = ['train', '--config', file, '--out', job.dir, '--json'];
    say(`[${job.name}] started`, { event: 'start', run: job.name });
  }
  return new Promise((done) => {
    const child = fork(c.bin, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: c.env });
    c.children.add(child);
    if (c.json) c.io.out(`${JSON.stringify({ event: 'worker', run: job.name, pid: child.pid })}\n`);
    let buffer = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let ev: Record<string, unknown>;
        try {
          ev = JSON.parse(line);
        } catch {
          continue;
        }
        c.onEvent?.(ev);
        if (c.json) c.io.out(`${JSON.stringify({ run: job.name, ...ev })}\n`);
        else if (ev.event === 'epoch') {
          const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(2)}%` : '—');
          c.io.out(
            `[${job.name}] ${ev.phase === 'train' ? 'epoch' : 'fine-tune'} ${((ev.phaseEpoch ?? ev.epoch) as number) + 1}: loss ${(ev.loss as number).toFixed(4)}, eval ${pct(ev.accuracy)}, sparsity ${pct(ev.sparsity)}\n`,
          );
        } else if (ev.event === 'done') {
          const resumed = typeof ev.resumedFrom === 'number' ? ` (resumed from the checkpoint at epoch ${ev.resumedFrom})` : '';
          c.io.out(`${runEndLine(job.name, ev)}${resumed}\n`);
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('exit', (exitCode, signal) => {
      c.children.delete(child);
      const code = exitCode ?? (signal ? 1 : 0);
      if (c.signal?.aborted && code !== 0) {
        say(`[${job.name}] interrupted: it resumes when the sweep runs again`, { event: 'interrupted', run: job.name });
        done({ job, code, skipped: false });
        return;
      }
      if (code === 0) {
        done({ job, code, skipped: false });
        return;
      }
      const last = stderr
        .trim()
        .split('\n')
        .filter((l) => !/TensorFlow.js in Node.js|tfjs-node|====|^Hi,|SPARSIFY_DEBUG/.test(l))
        .slice(-3)
        .join(' | ');
      const message = signal ? `killed by ${signal}${last ? `: ${last}` : ''}` : last;
      say(`[${job.name}] failed (exit ${exitCode ?? signal}): ${message}`, {
        event: 'failed',
        run: job.name,
        code: exitCode,
        signal,
        stderr: message,
      });
      done({ job, code, skipped: false, message });
    });
  });
}

/**
 * `sparsify sweep <config.json>`: runs the grid in `jobs` parallel worker processes (each its own
 * `sparsify train`, so each has its own TF.js engine), skips finished runs, resumes interrupted ones,
 * then writes sweep.json / sweep.md / sweep.html and prints the summary table.
 */
/** Parallel runs share the cores: each gets its share of wasm threads, unless the variable is set. */
export function sweepJobEnv(jobs: number, env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): NodeJS.ProcessEnv {
  const share = Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(cores / jobs)));
  return { ...env, [WASM_THREADS_ENV_VAR]: env[WASM_THREADS_ENV_VAR] ?? String(share) };
}

/** A worker's last line: `done` only for a completed run; a stopped one (signal, divergence) is no result. */
export function runEndLine(name: string, ev: Record<string, unknown>): string {
  const acc = ev.accuracy as { final: number };
  const verb = ev.status === 'completed' ? 'done' : `stopped (${String(ev.status)})`;
  return `[${name}] ${verb}: final ${(acc.final * 100).toFixed(2)}%, sparsity ${((ev.sparsity as number) * 100).toFixed(2)}%`;
}

/**
 * Worker processes for `requested` parallel jobs: no more than the grid has runs or the machine has
 * cores (more would only share the same cores and multiply memory); `note` says when it is fewer.
 */
export function workerCount(requested: number, runs: number, cores = availableParallelism()): { workers: number; note?: string } {
  const workers = Math.max(1, Math.min(requested, runs, cores));
  if (workers === requested) return { workers };
  const why = requested > cores && cores < runs ? `this machine has ${cores} cores` : `the grid has ${runs} runs`;
  return { workers, note: `jobs ${requested}: running ${workers} at a time, as ${why}` };
}

export async function sweepCommand(
  configPath: string,
  o: { io: IO; json: boolean; jobs?: number; out?: string; bin?: string; signal?: AbortSignal },
): Promise<number> {
  const sweep = readSweepConfig(configPath);
  await registerPlugins();
  const out = resolve(
    o.out ??
      sweep.out ??
      join(
        dirname(configPath),
        configPath
          .split(/[\\/]/)
          .pop()!
          .replace(/\.json$/, ''),
      ),
  );
  const jobsCount = o.jobs ?? sweep.jobs ?? 1;
  if (!Number.isInteger(jobsCount) || jobsCount < 1)
    throw new UsageError(
      `${o.jobs !== undefined ? '--jobs' : `sweep config ${configPath}: jobs`} must be an integer ≥ 1; got ${show(jobsCount)}`,
    );
  const jobs = expandSweep(sweep, out);
  const bin = o.bin ?? binPath();
  makeDirectory(join(out, '.jobs'));
  const { workers: workerTotal, note } = workerCount(jobsCount, jobs.length);
  const say = sayer(o.io, o.json);
  say(`sweep: ${jobs.length} runs, ${workerTotal} in parallel, into ${out}`, { event: 'sweep', runs: jobs.length, jobs: workerTotal, out });
  if (note) say(`sweep: ${note}`, { event: 'note', message: note });
  const childEnv = sweepJobEnv(workerTotal);
  // On SIGINT / SIGTERM: no new runs; the running ones get the signal, checkpoint and stop (resumable).
  const children = new Set<ChildProcess>();
  const stop = () => {
    queue.length = 0;
    for (const child of children) child.kill(typeof o.signal?.reason === 'string' ? (o.signal.reason as NodeJS.Signals) : 'SIGTERM');
  };
  o.signal?.addEventListener('abort', stop, { once: true });
  const queue = jobs.slice();
  const outcomes: JobOutcome[] = [];
  const context: SweepJobContext = {
    out,
    bin,
    env: childEnv,
    io: o.io,
    json: o.json,
    children,
    say,
    ...(o.signal ? { signal: o.signal } : {}),
  };
  const workers = Array.from({ length: workerTotal }, async () => {
    while (queue.length && !o.signal?.aborted) {
      const job = queue.shift()!;
      outcomes.push(await runSweepJob(job, context));
    }
  });
  try {
    await Promise.all(workers);
  } finally {
    o.signal?.removeEventListener('abort', stop);
  }
  if (o.signal?.aborted) {
    say(`sweep: interrupted; run sparsify sweep ${configPath} again to finish it (finished runs are skipped, interrupted ones resume)`, {
      event: 'sweep-interrupted',
    });
    return signalExitCode(o.signal);
  }
  const rows: SweepRow[] = [];
  let backend: string | undefined;
  for (const job of jobs) {
    if (!existsSync(join(job.dir, 'report.json'))) continue;
    const r = readReport(job.dir);
    backend ??= r.backend;
    rows.push(sweepRow(job, summarizeReport(r)));
  }
  const failed = outcomes.filter((x) => x.code !== 0).length;
  if (rows.length === 0) {
    say(`sweep: no run finished (${failed} failed)`, { event: 'sweep-done', failed, rows: 0 });
    return 1;
  }
  const first = jobs[0].config;
  const { report, files } = writeSweepReport(out, { model: first.model, dataset: first.dataset, ...(backend ? { backend } : {}), rows });
  if (o.json) o.io.out(`${JSON.stringify({ event: 'sweep-done', failed, rows: rows.length, html: files.html, json: files.json })}\n`);
  else {
    o.io.out(`\n${renderSweepText(report)}\n\n`);
    o.io.out(`${rows.length} of ${jobs.length} runs finished${failed ? `, ${failed} failed` : ''}; report: ${files.html}\n`);
  }
  return failed ? 1 : 0;
}
