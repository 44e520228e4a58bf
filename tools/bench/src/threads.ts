import * as tf from '@tensorflow/tfjs';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startWasmWithThreads } from '../../../packages/backend/src/wasm-threads.js';
import { CONFIGS } from './configs.js';
import { stats, type Stats } from './measure.js';
import { WORKLOADS, type WorkloadName } from './models.js';
import { loadPenalties, measurePenaltyOverhead, type PenaltyOverheadRow } from './penalties.js';
import type { BlockReply, BlockRequest, PyTorchChild } from './pytorch.js';
import { Runner } from './runner.js';

/**
 * wasm's thread count is fixed when its module starts, once per process, so each thread count runs in
 * its own child process. The parent alternates blocks of steps between them (order rotated every
 * block), so a load change on the machine hits every thread count alike. Wall clock only: process CPU
 * time adds the threads up.
 */

const CHILD_ENV = 'SPARSIFY_BENCH_WASM_THREADS';
const SETTLE_MS = 100;

/** A block of training steps, or (`penalties`) a whole penalty-overhead measurement. */
interface Request extends BlockRequest {
  penalties?: boolean;
}
type Reply = BlockReply | { rows: PenaltyOverheadRow[] };


export interface ThreadsResult {
  workload: string;
  /** Set on PyTorch's rows (e.g. `PyTorch 2.13.0+cpu`); wasm + sparsify kernels otherwise. */
  engine?: string;
  threads: number;
  steps: number;
  wallMs: Stats;
  samplesPerSec: number;
  error?: string;
}

export function isThreadsChild(): boolean {
  return process.env[CHILD_ENV] !== undefined && typeof process.send === 'function';
}

/** The child's loop: start wasm with the asked thread count, then run step blocks on request. */
export async function runThreadsChild(): Promise<void> {
  const threads = Number(process.env[CHILD_ENV]);
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const start = async () => {
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  };
  if (threads > 1) await startWasmWithThreads(wasm, threads, start);
  else await start();
  const runners = new Map<WorkloadName, Runner>();
  const { available } = await loadPenalties();
  process.on('message', (request: Request) => {
    let reply: Reply;
    try {
      if (request.penalties) {
        const rows = measurePenaltyOverhead(WORKLOADS[request.workload], CONFIGS.wasm, request.steps, available, 'wall', `wasm, ${threads} threads`, [
          // its pass runs on the accelerator's helper thread here: the same penalty with the pass in place, for comparison
          'hyperSparse',
        ]);
        process.send!({ rows } satisfies Reply);
        return;
      }
      let runner = runners.get(request.workload);
      if (!runner) runners.set(request.workload, (runner = new Runner(WORKLOADS[request.workload], CONFIGS.wasm)));
      for (let i = 0; i < request.warmup; i++) runner.step(false);
      runner.samples.length = 0;
      for (let i = 0; i < request.steps; i++) runner.step();
      reply = runner.error ? { error: runner.error } : { wallMs: runner.samples.map((s) => s.wallMs) };
    } catch (e) {
      reply = { error: e instanceof Error ? e.message : String(e) };
    }
    process.send!(reply);
  });
  process.send!({ ready: true });
}

function ask(child: ChildProcess, message: Request | null): Promise<Reply & { ready?: boolean }> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench child exited (code ${code})`));
    child.once('exit', onExit);
    child.once('message', (m: Reply & { ready?: boolean }) => {
      child.off('exit', onExit);
      resolve(m);
    });
    if (message) child.send(message);
  });
}

/** A child process whose wasm runs `threads` threads (see runThreadsChild). */
function forkChild(threads: number): ChildProcess {
  const script = fileURLToPath(import.meta.url.replace(/threads\.[jt]s$/, 'index.js'));
  return fork(script, [], { env: { ...process.env, [CHILD_ENV]: String(threads) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

/**
 * Penalty overhead on wasm with `threads` threads, in one child process (wall clock: CPU time adds the
 * threads up). `plans`: workload and recorded rounds.
 */
export async function measureThreadedPenaltyOverhead(threads: number, plans: [WorkloadName, number][]): Promise<PenaltyOverheadRow[]> {
  const child = forkChild(threads);
  const rows: PenaltyOverheadRow[] = [];
  try {
    await ask(child, null);
    for (const [workload, steps] of plans) {
      const reply = await ask(child, { workload, warmup: 0, steps, penalties: true });
      if ('error' in reply) throw new Error(reply.error);
      if ('rows' in reply) rows.push(...reply.rows);
    }
  } finally {
    child.kill();
  }
  return rows;
}

/** Something the parent asks for blocks of steps: a wasm child, or PyTorch (pytorch.ts). */
interface BlockRunner {
  readonly threads: number;
  /** PyTorch's label; undefined for wasm + sparsify kernels. */
  readonly engine?: string;
  ask(request: Request): Promise<Reply>;
  close(): void;
}

/**
 * Measures wasm + sparsify kernels with each thread count on each workload, and `pytorch` where given
 * (its row has `engine` set): `blocks` rounds of `steps` recorded steps each (after one warm-up block),
 * blocks alternated between them.
 */
export async function measureThreads(
  workloads: WorkloadName[],
  threadCounts: number[],
  blocks: number,
  steps: number,
  log: (s: string) => void,
  pytorch?: PyTorchChild,
): Promise<ThreadsResult[]> {
  const children = threadCounts.map(forkChild);
  const runners: BlockRunner[] = children.map((child, i) => ({ threads: threadCounts[i], ask: (request) => ask(child, request), close: () => child.kill() }));
  if (pytorch) runners.push({ ...pytorch, engine: pytorch.label });
  const results: ThreadsResult[] = [];
  try {
    await Promise.all(children.map((c) => ask(c, null)));
    for (const workload of workloads) {
      const times = runners.map(() => [] as number[]);
      const errors: (string | undefined)[] = runners.map(() => undefined);
      for (let b = 0; b <= blocks; b++) {
        for (let j = 0; j < runners.length; j++) {
          const i = (b + j) % runners.length;
          if (errors[i]) continue;
          // Idle pool threads spin before they sleep: let the last block's settle first.
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          // Block 0 warms up (JIT, the pool's first wake-up) and is not recorded.
          const reply = await runners[i].ask({ workload, warmup: b === 0 ? 2 : 0, steps });
          if ('error' in reply) errors[i] = reply.error;
          else if (b > 0 && 'wallMs' in reply) times[i].push(...reply.wallMs);
        }
        if (b > 0) log(`  ${WORKLOADS[workload].label}: ${b}/${blocks} blocks`);
      }
      runners.forEach(({ threads, engine }, i) => {
        const wallMs = stats(times[i]);
        results.push({
          workload,
          ...(engine ? { engine } : {}),
          threads,
          steps: times[i].length,
          wallMs,
          samplesPerSec: (WORKLOADS[workload].batch / wallMs.median) * 1000,
          error: errors[i],
        });
      });
    }
  } finally {
    for (const r of runners) r.close();
  }
  return results;
}
