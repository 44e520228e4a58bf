import { closeSync, constants, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { makeCase, type Case, type Target } from './cases.js';
import { BAD_OUTCOMES, GOOD_OUTCOMES, type CaseResult, type Outcome } from './outcomes.js';

export { makeCase, type Case, type Op, type Target } from './cases.js';
export { BAD_OUTCOMES, GOOD_OUTCOMES, MEMORY_MB, SLOW_MS, type CaseResult, type Outcome } from './outcomes.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The committed corpus: the worst cases of issue 22, by name. */
export function corpus(): Case[] {
  const file = [join(here, '..', 'corpus', 'corpus.json'), join(here, 'corpus', 'corpus.json')].find((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
  if (!file) throw new Error(`the fuzz corpus is missing (looked beside ${here})`);
  return JSON.parse(readFileSync(file, 'utf8')) as Case[];
}

export interface FuzzOptions {
  /** Seeded cases 0 … cases − 1 of `seed` (see `makeCase`). */
  cases?: number;
  seed?: number;
  /** Also the committed corpus (default true). */
  withCorpus?: boolean;
  /** A case that gives no answer for this long is a hang: the worker is terminated (default 15 s). */
  watchdogMs?: number;
  /** The built worker (default: dist/worker.js beside this module, or ../dist from src). */
  workerFile?: string;
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  /** Counts per target and outcome. */
  counts: Record<Target, Partial<Record<Outcome, number>>>;
  /** Every case whose outcome is not allowed, with what happened. */
  findings: CaseResult[];
  corpus: CaseResult[];
  seconds: number;
}

function workerPath(explicit?: string): string {
  if (explicit) return explicit;
  for (const candidate of [join(here, 'worker.js'), join(here, '..', 'dist', 'worker.js')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      /* next */
    }
  }
  throw new Error(`cannot find the fuzz worker (looked for worker.js in ${here} and ../dist): build @sparsify/fuzz first`);
}

/** Opens every FIFO under `dir` for writing and closes it: a reader blocked on it gets EOF. */
function releaseFifos(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (statSync(path).isFIFO()) closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      /* no reader, or gone */
    }
  }
}

/** Runs `cases` in worker threads, one after another; a hung case is recorded and the rest go on. */
async function runCases(cases: Case[], workerFile: string, watchdogMs: number): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  let next = 0;
  while (next < cases.length) {
    const slice = cases.slice(next);
    const done = await new Promise<{ ran: number; hung: boolean }>((resolve, reject) => {
      const worker = new Worker(workerFile, { workerData: { cases: slice } });
      let current = -1;
      let currentDir = '';
      let ran = 0;
      let timer: NodeJS.Timeout | undefined;
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const c = slice[current];
          releaseFifos(currentDir);
          results.push({ name: c.name, target: c.target, outcome: 'hang', ms: ms, rssMB: 0, detail: `no answer in ${ms} ms` });
          void worker.terminate();
          resolve({ ran: current + 1, hung: true });
        }, ms);
      };
      arm(120_000); // building the bases
      worker.on('message', (m: { type: string; index: number; dir: string; result: CaseResult }) => {
        if (m.type === 'start') {
          current = m.index;
          currentDir = m.dir;
          arm(watchdogMs);
        } else if (m.type === 'result') {
          results.push(m.result);
          ran = m.index + 1;
        } else if (m.type === 'done') {
          clearTimeout(timer);
          resolve({ ran, hung: false });
        }
      });
      worker.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    next += done.ran;
  }
  return results;
}

/**
 * The seeded fuzz run: `cases` generated cases (and the corpus), each damaging or crafting one file
 * read by the sparse decoder, the checkpoint reader, or the IDX / CIFAR readers. Every outcome is
 * counted; the findings are the cases whose outcome is in `BAD_OUTCOMES`.
 */
export async function runFuzz(options: FuzzOptions = {}): Promise<FuzzSummary> {
  const seed = options.seed ?? 1;
  const count = options.cases ?? 2000;
  const t0 = performance.now();
  const generated = Array.from({ length: count }, (_, i) => makeCase(seed, i));
  const extra = options.withCorpus === false ? [] : corpus();
  const results = await runCases([...generated, ...extra], workerPath(options.workerFile), options.watchdogMs ?? 15_000);
  const counts = { sparse: {}, checkpoint: {}, idx: {}, cifar: {} } as FuzzSummary['counts'];
  for (const r of results.slice(0, count)) counts[r.target as Target][r.outcome] = (counts[r.target as Target][r.outcome] ?? 0) + 1;
  const bad = (r: CaseResult) => (BAD_OUTCOMES as readonly string[]).includes(r.outcome);
  return {
    seed,
    cases: count,
    counts,
    findings: results.slice(0, count).filter(bad),
    corpus: results.slice(count),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The counts as a Markdown table: one row per target, one column per outcome seen. */
export function countsTable(summary: FuzzSummary): string {
  const outcomes = [...GOOD_OUTCOMES, ...BAD_OUTCOMES].filter((o) => Object.values(summary.counts).some((c) => c[o]));
  const rows = (Object.entries(summary.counts) as [Target, Partial<Record<Outcome, number>>][]).map(([target, c]) => {
    const total = Object.values(c).reduce((a, b) => a + (b ?? 0), 0);
    return `| ${target} | ${total} | ${outcomes.map((o) => c[o] ?? 0).join(' | ')} |`;
  });
  return [`| target | cases | ${outcomes.join(' | ')} |`, `|---|---|${outcomes.map(() => '---').join('|')}|`, ...rows].join('\n');
}
