import { createHash } from 'node:crypto';
import { validateRunConfig, type RunConfig } from '../config.js';
import { UsageError, show } from '../errors.js';
import type { RunSummary, SweepJob } from '../sweep.js';

/** What a queue job carries: everything a worker needs to run it as `sparsify sweep` would. */
export interface QueueJobData {
  version: 1;
  /** The sweep's id: its run directories go in `<runs dir>/<sweep>/`. */
  sweep: string;
  /** The run's name, and its directory under the sweep's. */
  name: string;
  /** The method's label in the summary. */
  label: string;
  config: RunConfig;
}

/** What a finished job sends back through the queue (artifacts stay in the runs dir). */
export interface QueueJobResult {
  summary: RunSummary;
  /** `host:pid` of the worker that finished it. */
  worker: string;
  runDir: string;
  /** True when the run had finished before (a re-delivered job), so nothing was trained. */
  skipped: boolean;
  /** The epoch it resumed from, when another worker had begun it. */
  resumedFrom?: number;
}

const SAFE_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** JSON with sorted keys: the same config hashes the same whatever the key order in the file. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A sweep's id: its name and a hash of every job (name, label, full config). Submitting the same
 * grid again gives the same id, so the same job ids (nothing is queued twice); a changed grid gets a
 * new id, and so new run directories: a run is never continued with a config it did not start with.
 */
export function sweepId(name: string, jobs: readonly Pick<SweepJob, 'name' | 'label' | 'config'>[]): string {
  const hash = createHash('sha256')
    .update(canonical(jobs.map((j) => ({ name: j.name, label: j.label, config: j.config }))))
    .digest('hex')
    .slice(0, 12);
  const base =
    name
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^[._-]+/, '')
      .slice(0, 64) || 'sweep';
  return `${base}-${hash}`;
}

/** The BullMQ job id of one run of a sweep (no ":" — BullMQ reserves it). */
export function queueJobId(sweep: string, name: string): string {
  return `${sweep}.${name}`;
}

/** Refuses names that could not be one directory (a worker joins them to its runs dir). */
export function checkRunName(name: string, where: string): void {
  if (!SAFE_SEGMENT.test(name))
    throw new UsageError(
      `${where}: run name ${show(name)} cannot be a directory name on the workers; use letters, digits, ".", "_" and "-" in method labels`,
    );
}

/** A job's data as read from Redis, checked before a worker uses it for paths and a run. */
export function readJobData(data: unknown, id: string | undefined): QueueJobData {
  const d = data as Partial<QueueJobData> | null;
  const where = `queue job ${show(id)}`;
  if (!d || typeof d !== 'object' || d.version !== 1)
    throw new UsageError(`${where} is not a sparsify sweep job (version 1); got ${show(d && (d as { version?: unknown }).version)}`);
  if (typeof d.sweep !== 'string' || !SAFE_SEGMENT.test(d.sweep))
    throw new UsageError(`${where}: sweep must be a directory name; got ${show(d.sweep)}`);
  if (typeof d.name !== 'string') throw new UsageError(`${where}: name must be a string; got ${show(d.name)}`);
  checkRunName(d.name, where);
  if (typeof d.label !== 'string') throw new UsageError(`${where}: label must be a string; got ${show(d.label)}`);
  validateRunConfig(d.config as RunConfig, `${where} config`);
  return d as QueueJobData;
}
