import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Job, Queue } from 'bullmq';
import { makeDirectory, readRegularFile } from '@sparsify/train/node';
import { renderSweepText, writeFileAtomic, writeSweepReport, type SweepRow } from '@sparsify/reporting/node';
import { UsageError, show } from '../errors.js';
import type { IO } from '../io.js';
import { registerPlugins } from '../plugins.js';
import { expandSweep, readSweepConfig, sweepRow, type SweepJob, sayer, type Say } from '../sweep.js';
import { QUEUE_NAME, openQueue, redactUrl } from './connection.js';
import { checkRunName, queueJobId, sweepId, type QueueJobData, type QueueJobResult } from './jobs.js';

export interface QueueSweepOptions {
  io: IO;
  json: boolean;
  url: string;
  out?: string;
  /** Submit and return (`--detach`). */
  detach?: boolean;
  /** Report the sweep's state (and its summary, once finished) without submitting (`--status`). */
  status?: boolean;
  /** Tries per job before it is failed (default 3). */
  attempts?: number;
  /** First retry delay in ms, doubled on each later one (default 10 s). */
  backoff?: number;
  /** Milliseconds between looks at the queue while waiting (default 1000). */
  pollMs?: number;
  signal?: AbortSignal;
}

/** One job's state as the coordinator last saw it (also what `queue.json` records). */
interface JobState {
  name: string;
  id: string;
  state: string;
  attempts: number;
  worker?: string;
  result?: QueueJobResult;
  message?: string;
  /** The epoch it was at, from the worker's progress. */
  epoch?: number;
}

/** Exit code of `--status` while jobs are still waiting or running. */
export const STATUS_UNFINISHED = 3;

/**
 * `sparsify sweep <config> --queue redis://…`: puts each run of the grid on the queue as its own job
 * (the job id is the sweep's id and the run's name: submitting again adds nothing that is queued,
 * running or finished, and re-queues failed jobs), waits while workers run them, and writes the same
 * summary as a local sweep from the results the jobs send back. Finished results are also kept in
 * `<out>/queue.json`, so that none is lost if Redis loses its data.
 */
export async function queueSweepCommand(configPath: string, o: QueueSweepOptions): Promise<number> {
  const sweep = readSweepConfig(configPath);
  await registerPlugins();
  const out = resolve(o.out ?? sweep.out ?? join(dirname(configPath), basename(configPath).replace(/\.json$/, '')));
  const attempts = o.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) throw new UsageError(`--attempts must be an integer ≥ 1; got ${show(attempts)}`);
  const backoff = o.backoff ?? 10_000;
  if (!Number.isInteger(backoff) || backoff < 0)
    throw new UsageError(`--backoff must be an integer number of milliseconds ≥ 0; got ${show(backoff)}`);
  if (o.detach && o.status) throw new UsageError('--detach submits and --status only looks: give one of them');
  const jobs = expandSweep(sweep, out);
  jobs.forEach((job) => checkRunName(job.name, `sweep config ${configPath}`));
  const id = sweepId(basename(out), jobs);
  const say = sayer(o.io, o.json);
  const queue = await openQueue(o.url);
  makeDirectory(out);
  queue.on('error', () => undefined); // outages while waiting are reported by the polling loop
  try {
    const known = readKnownResults(out);
    if (!o.status) {
      const added = await submit(queue, id, jobs, { attempts, backoff });
      say(
        `sweep: ${jobs.length} runs on ${redactUrl(o.url)} (queue ${QUEUE_NAME}) as ${id}: ${added.added} added, ${added.present} already queued or finished${added.retried ? `, ${added.retried} failed re-queued` : ''}`,
        { event: 'sweep', runs: jobs.length, sweep: id, ...added, out },
      );
      if (o.detach) {
        say(`sweep: detached; follow it with sparsify sweep ${configPath} --queue ${redactUrl(o.url)} --status`, {
          event: 'detached',
          sweep: id,
        });
        return 0;
      }
    }
    return await follow(queue, id, jobs, out, known, { ...o, pollMs: o.status ? 0 : (o.pollMs ?? 1000) }, say);
  } finally {
    await queue.close().catch(() => undefined);
  }
}

async function submit(
  queue: Queue,
  sweep: string,
  jobs: SweepJob[],
  opts: { attempts: number; backoff: number },
): Promise<{ added: number; present: number; retried: number }> {
  const counts = { added: 0, present: 0, retried: 0 };
  for (const job of jobs) {
    const jobId = queueJobId(sweep, job.name);
    const existing = await queue.getJob(jobId);
    if (existing) {
      // Failed jobs run again (as a local sweep reruns what did not finish); everything else stays as it is.
      if ((await existing.getState()) === 'failed') {
        await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        counts.retried++;
      } else counts.present++;
      continue;
    }
    const data: QueueJobData = { version: 1, sweep, name: job.name, label: job.label, config: job.config };
    await queue.add(job.name, data, {
      jobId,
      attempts: opts.attempts,
      backoff: { type: 'exponential', delay: opts.backoff },
      // Kept: a finished job is what makes submitting again a no-op, and holds the result.
      removeOnComplete: false,
      removeOnFail: false,
    });
    counts.added++;
  }
  return counts;
}

async function look(queue: Queue, sweep: string, job: SweepJob): Promise<JobState> {
  const id = queueJobId(sweep, job.name);
  const j = (await queue.getJob(id)) as Job<QueueJobData, QueueJobResult> | undefined;
  if (!j) return { name: job.name, id, state: 'missing', attempts: 0 };
  const state = await j.getState();
  const progress = j.progress as { epoch?: number } | number;
  return {
    name: job.name,
    id,
    state,
    attempts: j.attemptsMade,
    ...(state === 'completed' && j.returnvalue ? { result: j.returnvalue, worker: j.returnvalue.worker } : {}),
    ...(state === 'failed' ? { message: j.failedReason } : {}),
    ...(typeof progress === 'object' && typeof progress?.epoch === 'number' ? { epoch: progress.epoch } : {}),
  };
}

function readKnownResults(out: string): Map<string, QueueJobResult> {
  const known = new Map<string, QueueJobResult>();
  const file = join(out, 'queue.json');
  if (!existsSync(file)) return known;
  try {
    const saved = JSON.parse(readRegularFile(file, 64 * 2 ** 20).toString('utf8')) as { jobs?: JobState[] };
    for (const s of saved.jobs ?? []) if (s.state === 'completed' && s.result?.summary) known.set(s.name, s.result);
  } catch {
    /* unreadable: Redis has the results */
  }
  return known;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}

/** Watches the jobs until all are completed or failed (once, with `pollMs` 0), then writes the summary. */
async function follow(
  queue: Queue,
  sweep: string,
  jobs: SweepJob[],
  out: string,
  known: Map<string, QueueJobResult>,
  o: QueueSweepOptions & { pollMs: number },
  say: Say,
): Promise<number> {
  const started = Date.now();
  let finishedHere = 0;
  const last = new Map<string, JobState>();
  let unreachable = false;
  for (;;) {
    let states: JobState[];
    try {
      states = [];
      for (const job of jobs) states.push(await look(queue, sweep, job));
      if (unreachable) say('sweep: Redis answers again', { event: 'redis', reachable: true });
      unreachable = false;
    } catch (error) {
      if (!unreachable)
        say(`sweep: Redis unreachable (${(error as Error).message}); waiting for it`, {
          event: 'redis',
          reachable: false,
          message: (error as Error).message,
        });
      unreachable = true;
      if (o.pollMs === 0) throw error;
      await sleep(o.pollMs, o.signal);
      if (o.signal?.aborted) return interrupted(o, sweep, say);
      continue;
    }
    for (const s of states) {
      // A result the coordinator saw before stays, whatever Redis has now (a restart without persistence).
      const saved = known.get(s.name);
      if (saved && s.state !== 'completed') Object.assign(s, { state: 'completed', result: saved, worker: saved.worker });
      if (s.state === 'completed' && s.result) known.set(s.name, s.result);
    }
    // Jobs Redis lost (restarted without persistence): queued again; workers skip what finished in the runs dir.
    const missing = states.filter((s) => s.state === 'missing');
    if (missing.length && o.pollMs > 0) {
      const back = await submit(
        queue,
        sweep,
        jobs.filter((j) => missing.some((m) => m.name === j.name)),
        { attempts: o.attempts ?? 3, backoff: o.backoff ?? 10_000 },
      );
      say(`sweep: ${back.added} job(s) were missing from Redis: queued again`, { event: 'requeued', count: back.added });
    }
    let changed = false;
    for (const s of states) {
      const before = last.get(s.name);
      if (before && before.state === s.state && before.epoch === s.epoch) continue;
      changed = true;
      last.set(s.name, s);
      if (o.pollMs === 0) continue;
      if (s.state === 'completed' && s.result) {
        if (before) finishedHere++;
        const r = s.result;
        const resumed = r.resumedFrom !== undefined ? `, resumed from epoch ${r.resumedFrom}` : '';
        say(
          `[${s.name}] done on ${r.worker}: final ${(r.summary.accuracy.final * 100).toFixed(2)}%, sparsity ${(r.summary.sparsity.global * 100).toFixed(2)}%${r.skipped ? ' (had finished before)' : ''}${resumed}`,
          { event: 'done', run: s.name, ...r },
        );
      } else if (s.state === 'failed')
        say(`[${s.name}] failed after ${s.attempts} attempt(s): ${s.message}`, {
          event: 'failed',
          run: s.name,
          attempts: s.attempts,
          message: s.message,
        });
      else if (s.state === 'active')
        say(`[${s.name}] running${s.epoch !== undefined ? `: epoch ${s.epoch + 1} done` : ''}`, {
          event: 'active',
          run: s.name,
          epoch: s.epoch ?? null,
        });
      else if (before)
        say(`[${s.name}] ${s.state}${s.attempts ? ` (after ${s.attempts} attempt(s))` : ''}`, {
          event: s.state,
          run: s.name,
          attempts: s.attempts,
        });
    }
    const done = states.filter((s) => s.state === 'completed').length;
    const failed = states.filter((s) => s.state === 'failed').length;
    const active = states.filter((s) => s.state === 'active').length;
    const left = jobs.length - done - failed;
    if (changed) {
      saveStates(out, sweep, states);
      if (o.pollMs > 0) {
        const eta = finishedHere > 0 && left > 0 ? `, ETA ${duration(((Date.now() - started) / finishedHere) * left)}` : '';
        say(`sweep: ${done}/${jobs.length} done, ${failed} failed, ${active} running, ${left - active} waiting${eta}`, {
          event: 'progress',
          done,
          failed,
          active,
          waiting: left - active,
          total: jobs.length,
        });
      }
    }
    if (left === 0) return summarize(jobs, states, out, o, say);
    if (o.pollMs === 0) {
      say(`sweep ${sweep}: ${done}/${jobs.length} done, ${failed} failed, ${active} running, ${left - active} waiting`, {
        event: 'status',
        sweep,
        done,
        failed,
        active,
        waiting: left - active,
        total: jobs.length,
      });
      for (const s of states) {
        const detail =
          s.state === 'failed' ? `: ${s.message}` : s.state === 'active' && s.epoch !== undefined ? `: epoch ${s.epoch + 1} done` : '';
        say(`  ${s.name.padEnd(Math.max(...jobs.map((j) => j.name.length)))}  ${s.state}${detail}`, {
          event: 'job',
          run: s.name,
          state: s.state,
          ...(s.message ? { message: s.message } : {}),
        });
      }
      return STATUS_UNFINISHED;
    }
    await sleep(o.pollMs, o.signal);
    if (o.signal?.aborted) return interrupted(o, sweep, say);
  }
}

function interrupted(o: QueueSweepOptions, sweep: string, say: Say): number {
  say(
    `sweep: stopped waiting; the jobs of ${sweep} go on in the queue (sparsify sweep <config> --queue ${redactUrl(o.url)} --status collects them)`,
    { event: 'sweep-detached', sweep },
  );
  return 0;
}

function saveStates(out: string, sweep: string, states: JobState[]): void {
  writeFileAtomic(join(out, 'queue.json'), `${JSON.stringify({ sweep, updatedAt: new Date().toISOString(), jobs: states }, null, 2)}\n`);
}

function summarize(jobs: SweepJob[], states: JobState[], out: string, o: QueueSweepOptions, say: Say): number {
  const rows: SweepRow[] = [];
  let backend: string | undefined;
  for (const job of jobs) {
    const s = states.find((x) => x.name === job.name)!;
    if (s.state !== 'completed' || !s.result) continue;
    backend ??= s.result.summary.backend;
    rows.push(sweepRow(job, s.result.summary));
  }
  const failures = states.filter((s) => s.state === 'failed');
  const failedText = failures.map((s) => `  ${s.name}: failed after ${s.attempts} attempt(s): ${s.message}`).join('\n');
  if (rows.length === 0) {
    say(`sweep: no run finished (${failures.length} failed)\n${failedText}`, { event: 'sweep-done', failed: failures.length, rows: 0 });
    return 1;
  }
  const first = jobs[0].config;
  const { report, files } = writeSweepReport(out, { model: first.model, dataset: first.dataset, ...(backend ? { backend } : {}), rows });
  if (o.json)
    o.io.out(
      `${JSON.stringify({ event: 'sweep-done', failed: failures.length, failures: failures.map((s) => ({ run: s.name, message: s.message })), rows: rows.length, html: files.html, json: files.json })}\n`,
    );
  else {
    o.io.out(`\n${renderSweepText(report)}\n\n`);
    if (failures.length) o.io.out(`failed:\n${failedText}\n`);
    o.io.out(
      `${rows.length} of ${jobs.length} runs finished${failures.length ? `, ${failures.length} failed` : ''}; report: ${files.html}\n`,
    );
  }
  return failures.length ? 1 : 0;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const wake = () => {
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', wake);
      done();
    }, ms);
    signal?.addEventListener('abort', wake, { once: true });
  });
}
