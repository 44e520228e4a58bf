import type { ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Job } from 'bullmq';
import { readReport } from '@sparsify/reporting/node';
import { makeDirectory } from '@sparsify/train/node';
import { UsageError, show } from '../errors.js';
import type { IO } from '../io.js';
import { registerPlugins } from '../plugins.js';
import { binPath, completedReport, runSweepJob, summarizeReport, sweepJobEnv, sayer } from '../sweep.js';
import { signalExitCode } from '../train-command.js';
import { QUEUE_NAME, parseRedisUrl, redactUrl } from './connection.js';
import { readJobData, type QueueJobData, type QueueJobResult } from './jobs.js';
import { takeOverLostLock, touchLock } from './lost-lock.js';

export interface WorkerOptions {
  io: IO;
  json: boolean;
  url: string;
  /** Jobs run at once, each its own `sparsify train` process (default 1). */
  concurrency?: number;
  /** Where run directories go (default `runs`): point every worker at the same shared storage to resume across machines. */
  runsDir?: string;
  /** How long a job's lock lasts without renewal, in ms: a worker silent this long loses its job to another (default 30 s). */
  lockDuration?: number;
  bin?: string;
  /** Aborted on SIGINT / SIGTERM: each running job checkpoints at its next step and goes back to the queue. */
  signal?: AbortSignal;
}

/** Why a job's run was stopped early. */
type StopReason = 'worker-stopping' | 'lock-lost';

/**
 * `sparsify worker --queue redis://…`: takes jobs of any sweep from the queue and runs each exactly as
 * `sparsify sweep` does locally (same run directory layout, checkpoints and report), then sends the
 * report's summary back. Runs until SIGINT / SIGTERM.
 */
export async function workerCommand(o: WorkerOptions): Promise<number> {
  const connection = parseRedisUrl(o.url);
  // Imported here, not at the top: the bundled CLI loads BullMQ only for the queue commands.
  const { DelayedError, UnrecoverableError, WaitingError, Worker } = await import('bullmq');
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError(`--concurrency must be an integer ≥ 1; got ${show(concurrency)}`);
  const lockDuration = o.lockDuration ?? 30_000;
  if (!Number.isInteger(lockDuration) || lockDuration < 1000)
    throw new UsageError(`--lock-duration must be an integer number of milliseconds ≥ 1000; got ${show(lockDuration)}`);
  const runsDir = resolve(o.runsDir ?? 'runs');
  makeDirectory(runsDir);
  await registerPlugins();
  const bin = o.bin ?? binPath();
  const env = sweepJobEnv(concurrency);
  const me = `${hostname()}:${process.pid}`;
  const say = sayer(o.io, o.json);
  const running = new Map<string, AbortController>();

  const processJob = async (job: Job<QueueJobData, QueueJobResult>, token?: string): Promise<QueueJobResult> => {
    let data: QueueJobData;
    try {
      data = readJobData(job.data, job.id);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message); // the same data fails the same way on every worker
    }
    const out = join(runsDir, data.sweep);
    const dir = join(out, data.name);
    say(`[${data.name}] job ${job.id} (attempt ${job.attemptsMade + 1}${job.opts.attempts ? ` of ${job.opts.attempts}` : ''}) in ${dir}`, {
      event: 'job',
      run: data.name,
      id: job.id,
      attempt: job.attemptsMade + 1,
      dir,
    });
    const staleMs = 3 * lockDuration;
    const lost = takeOverLostLock(dir, staleMs);
    if (lost.taken)
      say(
        `[${data.name}] took over the run directory from lost worker ${lost.owner.host}:${lost.owner.pid} (silent for ${Math.round(lost.silentMs / 1000)} s)`,
        { event: 'lock-taken-over', run: data.name, owner: lost.owner },
      );
    else if (lost.owner) {
      // Another host's worker touched it lately: it may still be stopping. Back to the queue, without using an attempt, until its heartbeat would be stale.
      const waitMs = staleMs - (lost.silentMs ?? 0) + 1000;
      say(
        `[${data.name}] run directory held by ${lost.owner.host}:${lost.owner.pid} (touched ${Math.round((lost.silentMs ?? 0) / 1000)} s ago): back in the queue for ${Math.round(waitMs / 1000)} s`,
        { event: 'lock-held', run: data.name, owner: lost.owner, waitMs },
      );
      await job.moveToDelayed(Date.now() + waitMs, token);
      throw new DelayedError();
    }
    // The progress of a worker that lost this job is stale now.
    void job.updateProgress({}).catch(() => undefined);
    const stop = new AbortController();
    running.set(job.id!, stop);
    const children = new Set<ChildProcess>();
    stop.signal.addEventListener('abort', () => {
      for (const child of children) child.kill('SIGTERM');
    });
    if (o.signal?.aborted) stop.abort('worker-stopping' satisfies StopReason);
    let resumedFrom: number | undefined;
    const heartbeat = setInterval(() => touchLock(dir), lockDuration / 2);
    try {
      const outcome = await runSweepJob(
        { name: data.name, label: data.label, dir, config: data.config },
        {
          out,
          bin,
          env,
          io: o.io,
          json: o.json,
          children,
          say,
          signal: stop.signal,
          onEvent: (ev) => {
            if (ev.event === 'epoch')
              void job
                .updateProgress({ phase: ev.phase, epoch: ev.epoch, accuracy: ev.accuracy, sparsity: ev.sparsity })
                .catch(() => undefined);
            if (ev.event === 'done' && typeof ev.resumedFrom === 'number') resumedFrom = ev.resumedFrom;
          },
        },
      );
      if (outcome.code === 0) {
        const report = completedReport(dir);
        if (!report) throw new Error(`${dir} has no completed report.json after its run exited 0`);
        return {
          summary: summarizeReport(report),
          worker: me,
          runDir: dir,
          skipped: outcome.skipped,
          ...(resumedFrom !== undefined ? { resumedFrom } : {}),
        };
      }
      if (stop.signal.aborted) {
        if (stop.signal.reason === ('lock-lost' satisfies StopReason))
          throw new Error(
            `worker ${me} lost the job's lock (Redis unreachable for ${lockDuration} ms?): stopped it at a checkpoint for the worker that has it now`,
          );
        // Back to the queue without counting as an attempt: another worker resumes from the checkpoint.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const message = outcome.message || `sparsify train exited with code ${outcome.code}`;
      // Bad values (exit 2) and divergence fail the same way every time: no retry.
      if (outcome.code === 2 && !/is in use by/.test(message)) throw new UnrecoverableError(message);
      const stopped = stoppedReport(dir);
      if (stopped?.status === 'nonFinite') throw new UnrecoverableError(stopped.message ?? message);
      throw new Error(message);
    } finally {
      clearInterval(heartbeat);
      running.delete(job.id!);
    }
  };

  const worker = new Worker<QueueJobData, QueueJobResult>(QUEUE_NAME, processJob, {
    connection,
    concurrency,
    lockDuration,
    stalledInterval: lockDuration,
    // One lost worker is a fault to recover from; a job that takes down its worker a third time is failed.
    maxStalledCount: 2,
    autorun: false,
  });
  let lastError = '';
  worker.on('error', (error) => {
    // ioredis repeats a connection error on every retry: once per distinct message is enough.
    if (error.message !== lastError) o.io.err(`sparsify worker: ${error.message}\n`);
    lastError = error.message;
  });
  worker.on('lockRenewalFailed', (ids: string[]) => {
    for (const id of ids) running.get(id)?.abort('lock-lost' satisfies StopReason);
  });
  worker.on('completed', (job) =>
    say(`[${job.data.name}] completed${job.returnvalue?.skipped ? ' (had finished before)' : ''}`, { event: 'completed', id: job.id }),
  );
  worker.on('failed', (job, error) => {
    if (!job || error instanceof WaitingError || error instanceof DelayedError) return;
    const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    say(`[${job.data?.name ?? job.id}] ${final ? 'failed' : 'failed, to be retried'}: ${error.message}`, {
      event: 'job-failed',
      id: job.id,
      run: job.data?.name,
      final,
      message: error.message,
    });
  });
  worker.on('ready', () => (lastError = ''));

  const stopWorker = async () => {
    say(`worker: stopping: ${running.size} running job(s) checkpoint and go back to the queue`, {
      event: 'stopping',
      running: running.size,
    });
    for (const stop of running.values()) stop.abort('worker-stopping' satisfies StopReason);
    await worker.close();
  };
  const stopped = new Promise<void>((done) => {
    if (!o.signal) return;
    if (o.signal.aborted) done();
    else o.signal.addEventListener('abort', () => done(), { once: true });
  });
  say(`worker ${me}: queue ${QUEUE_NAME} on ${redactUrl(o.url)}, concurrency ${concurrency}, runs dir ${runsDir}`, {
    event: 'worker',
    id: me,
    concurrency,
    runsDir,
  });
  const runLoop = worker.run();
  await Promise.race([stopped, runLoop]);
  await stopWorker();
  await runLoop.catch(() => undefined);
  say('worker: stopped', { event: 'stopped' });
  return o.signal?.aborted ? signalExitCode(o.signal) : 0;
}

/** The status (`nonFinite`, `interrupted`, …) and message of a stopped run's report, if it wrote one. */
function stoppedReport(dir: string): { status?: string; message?: string } | undefined {
  try {
    const { status, message } = readReport(dir);
    return { status, message };
  } catch {
    return undefined;
  }
}
