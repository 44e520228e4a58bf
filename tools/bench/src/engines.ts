import * as tf from '@tensorflow/tfjs';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { registerSparsifyKernels } from '../../../packages/backend/src/accelerate/index.js';
import { selectBackend } from '../../../packages/backend/src/select-node.js';
import { startWasmWithThreads } from '../../../packages/backend/src/wasm-threads.js';
import { CONFIGS, type Config } from './configs.js';
import { stats, type Stats } from './measure.js';
import { WORKLOADS, type WorkloadName } from './models.js';
import { longRun, type MemoryResult } from './memory.js';
import { loadPenalties, measurePenaltyOverhead, type PenaltyOverheadOptions, type PenaltyOverheadRow } from './penalties.js';
import type { BlockReply, BlockRequest, PyTorchChild } from './pytorch.js';
import { profileSteps, type StepProfile } from './profile.js';
import { Runner } from './runner.js';

/**
 * Engines compared side by side, each in its own child process: wasm with a thread count (fixed when
 * its module starts, once per process), tensorflow (tfjs-node, whose native thread pools should not
 * share a process with wasm's), cpu; and PyTorch (pytorch.ts). The parent alternates blocks of steps
 * between them (order rotated every block), so a load change on the machine hits every engine alike.
 * Wall clock; process CPU time too, which only means one engine's work where it runs one thread (it
 * adds threads up, idle spinning included).
 */

/**
 * `wasm:<threads>`, `tensorflow` (libtensorflow's own thread pools), `tensorflow:<threads>` (its intra-op
 * and inter-op pools at that size, through TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS) or `cpu`.
 */
export type EngineName = `wasm:${number}` | 'tensorflow' | `tensorflow:${number}` | 'cpu';

/** The engine names the bench's options accept. */
export const ENGINE_NAME = /^(wasm:[1-9]\d*|tensorflow(:[1-9]\d*)?|cpu)$/;

const CHILD_ENV = 'SPARSIFY_BENCH_ENGINE';
const SETTLE_MS = 100;

/**
 * A block of training steps, (`penalties`) a whole penalty-overhead measurement, (`profile`) a kernel
 * profile, or (`memory`) a long run sampling memory every `every` steps, at `batch` where given.
 */
interface Request extends BlockRequest {
  penalties?: boolean;
  profile?: boolean;
  memory?: { every: number; batch?: number };
  /** With `penalties`: the clock, and how rounds become a ratio (penaltyOverhead's options). */
  penaltyOptions?: PenaltyOverheadOptions;
}
type Reply = BlockReply | { rows: PenaltyOverheadRow[] } | { profile: StepProfile } | { memory: MemoryResult };
type Hello = { ready: true; label: string } | { ready: false; error: string };

export interface EngineResult {
  workload: WorkloadName;
  kind: 'wasm' | 'tensorflow' | 'cpu' | 'pytorch';
  /** e.g. `wasm + sparsify, 2 threads`, `tensorflow (libtensorflow 2.21.0; CPU)`, `PyTorch 2.13.0+cpu`. */
  engine: string;
  threads?: number;
  steps: number;
  wallMs: Stats;
  samplesPerSec: number;
  /** Per-step process CPU time, where the engine reports it: on one thread, the clock other load does not move. */
  cpuMs?: Stats;
  /** Samples per second of process CPU time (median step). */
  samplesPerCpuSec?: number;
  /** The engine process's peak resident memory (its own process, fresh for the workload), MB. */
  peakRssMB: number;
  error?: string;
}

export function isEngineChild(): boolean {
  return process.env[CHILD_ENV] !== undefined && typeof process.send === 'function';
}

const wasmThreadsOf = (engine: string): number | undefined => (engine.startsWith('wasm:') ? Number(engine.slice(5)) : undefined);
const tensorflowThreadsOf = (engine: string): number | undefined =>
  engine.startsWith('tensorflow:') ? Number(engine.slice('tensorflow:'.length)) : undefined;

/** The child's environment: libtensorflow reads its pool sizes from these when it starts. */
function engineEnv(engine: EngineName): NodeJS.ProcessEnv {
  const tfThreads = tensorflowThreadsOf(engine);
  return {
    ...process.env,
    [CHILD_ENV]: engine,
    ...(tfThreads !== undefined ? { TF_NUM_INTRAOP_THREADS: String(tfThreads), TF_NUM_INTEROP_THREADS: String(tfThreads) } : {}),
  };
}

/** Starts the child's engine; returns its configuration and the label its rows carry. */
async function startEngine(engine: string): Promise<{ config: Config; label: string }> {
  const threads = wasmThreadsOf(engine);
  if (threads !== undefined) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const start = async () => {
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    };
    if (threads > 1) await startWasmWithThreads(wasm, threads, start);
    else await start();
    registerSparsifyKernels(); // what selectBackend does; the penalties' ops otherwise run as plain tfjs
    return { config: CONFIGS.wasm, label: `wasm + sparsify, ${threads} thread${threads > 1 ? 's' : ''}` };
  }
  if (engine === 'tensorflow' || tensorflowThreadsOf(engine) !== undefined) {
    const selection = await selectBackend({ prefer: 'tensorflow' });
    const label = selection.reason.replace(/^backend /, '').replace(/: .*$/, '');
    const tfThreads = tensorflowThreadsOf(engine);
    return { config: CONFIGS.tensorflow, label: tfThreads ? `${label}, ${tfThreads} thread${tfThreads > 1 ? 's' : ''}` : label };
  }
  if (engine === 'cpu') {
    await selectBackend({ prefer: 'cpu' });
    return { config: CONFIGS.cpu, label: 'cpu' };
  }
  throw new Error(`unknown bench engine ${JSON.stringify(engine)}`);
}

/** The child's loop: start the engine, then run step blocks (or a penalty measurement) on request. */
export async function runEngineChild(): Promise<void> {
  const engine = process.env[CHILD_ENV]!;
  let started: { config: Config; label: string };
  try {
    started = await startEngine(engine);
  } catch (e) {
    process.send!({ ready: false, error: (e instanceof Error ? e.message : String(e)).split('\n')[0] } satisfies Hello);
    return;
  }
  const { config, label } = started;
  const runners = new Map<WorkloadName, Runner>();
  const { available } = await loadPenalties();
  process.on('message', async (request: Request) => {
    let reply: Reply;
    try {
      if (request.penalties) {
        // On the threaded wasm build HyperSparse's pass runs on the accelerator's helper thread: also measured in place.
        const inPlace = (wasmThreadsOf(engine) ?? 1) > 1 ? ['hyperSparse'] : [];
        const rows = measurePenaltyOverhead(WORKLOADS[request.workload], config, request.steps, available, 'wall', label, inPlace, {
          ...request.penaltyOptions,
          // Process CPU time adds a threaded engine's threads up (idle spinning included): wall clock there.
          ...(engine === 'cpu' || wasmThreadsOf(engine) === 1 || tensorflowThreadsOf(engine) === 1 ? {} : { clock: 'wall' }),
        });
        process.send!({ rows } satisfies Reply);
        return;
      }
      if (request.memory) {
        const { every, batch } = request.memory;
        const base = WORKLOADS[request.workload];
        const w = batch ? { ...base, batch, label: base.label.replace(/b=\d+/, `b=${batch}`) } : base;
        const tag = `  ${label}, ${w.label}`;
        const t0 = performance.now();
        const result = longRun(w, config, request.steps, every, (p) =>
          console.error(
            `${tag}: step ${p.step}, ${((performance.now() - t0) / 1000).toFixed(0)} s, RSS ${p.rssMB.toFixed(0)} MB, ${p.numTensors} tensors${
              p.wasmHeapMB != null ? `, wasm heap ${p.wasmHeapMB.toFixed(0)} MB` : ''
            }`,
          ),
        );
        process.send!({ memory: { ...result, engine: label } } satisfies Reply);
        return;
      }
      let runner = runners.get(request.workload);
      if (!runner) runners.set(request.workload, (runner = new Runner(WORKLOADS[request.workload], config)));
      for (let i = 0; i < request.warmup; i++) runner.step(false);
      if (request.profile) {
        process.send!({ profile: await profileSteps(runner, request.steps) } satisfies Reply);
        return;
      }
      runner.samples.length = 0;
      for (let i = 0; i < request.steps; i++) runner.step();
      reply = runner.error
        ? { error: runner.error }
        : {
            wallMs: runner.samples.map((s) => s.wallMs),
            cpuMs: runner.samples.map((s) => s.cpuMs),
            maxRssMB: process.resourceUsage().maxRSS / 1024,
          };
    } catch (e) {
      reply = { error: e instanceof Error ? e.message : String(e) };
    }
    process.send!(reply);
  });
  process.send!({ ready: true, label } satisfies Hello);
}

function ask<T>(child: ChildProcess, message: Request | null): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench child exited (code ${code})`));
    child.once('exit', onExit);
    child.once('message', (m: T) => {
      child.off('exit', onExit);
      resolve(m);
    });
    if (message) child.send(message);
  });
}

/** Something the parent asks for blocks of steps: an engine child, or PyTorch (pytorch.ts). */
interface BlockRunner {
  readonly kind: EngineResult['kind'];
  readonly engine: string;
  readonly threads?: number;
  ask(request: Request): Promise<Reply>;
  close(): void;
}

/** Forks an engine child and waits for it to start its engine; an engine that cannot start says why. */
async function forkEngine(engine: EngineName): Promise<BlockRunner | { engine: EngineName; error: string }> {
  const script = fileURLToPath(import.meta.url.replace(/engines\.[jt]s$/, 'index.js'));
  const child = fork(script, [], { env: engineEnv(engine), stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let hello: Hello;
  try {
    hello = await ask<Hello>(child, null);
  } catch (e) {
    child.kill();
    return { engine, error: e instanceof Error ? e.message : String(e) };
  }
  if (!hello.ready) {
    child.kill();
    return { engine, error: hello.error };
  }
  const threads = wasmThreadsOf(engine) ?? tensorflowThreadsOf(engine);
  return {
    kind:
      wasmThreadsOf(engine) !== undefined
        ? 'wasm'
        : tensorflowThreadsOf(engine) !== undefined
          ? 'tensorflow'
          : (engine as 'tensorflow' | 'cpu'),
    engine: hello.label,
    ...(threads !== undefined ? { threads } : {}),
    ask: (request) => ask<Reply>(child, request),
    close: () => child.kill(),
  };
}

/** Penalty overhead measured inside one engine child (wall clock), `plans`: workload and recorded rounds. */
export async function measureEnginePenaltyOverhead(
  engine: EngineName,
  plans: [WorkloadName, number][],
  penaltyOptions?: PenaltyOverheadOptions,
): Promise<PenaltyOverheadRow[] | { error: string }> {
  const rows: PenaltyOverheadRow[] = [];
  // A fresh child per workload, as a training run has its process to itself: the runners of the one
  // before leave their memory behind (the accelerator's host memory, TensorFlow's pools).
  for (const [workload, steps] of plans) {
    const runner = await forkEngine(engine);
    if ('error' in runner) return { error: runner.error };
    try {
      const reply = await runner.ask({ workload, warmup: 0, steps, penalties: true, ...(penaltyOptions ? { penaltyOptions } : {}) });
      if ('error' in reply) throw new Error(reply.error);
      if ('rows' in reply) rows.push(...reply.rows);
    } finally {
      runner.close();
    }
  }
  return rows;
}

/** Steps per recorded block for an engine on a workload, or why it is not run there. */
export type BlockPlan = (workload: WorkloadName, kind: EngineResult['kind']) => { steps: number; blocks?: number } | string;

export interface EngineMeasurement {
  rows: EngineResult[];
  /** Engines that could not start, and engines left out of a workload: why. */
  skipped: { engine: string; workload?: WorkloadName; why: string }[];
  /** Trainable parameters of PyTorch's models, where PyTorch ran (to check that they mirror the tfjs ones). */
  pytorchParams?: PyTorchChild['params'];
}

/**
 * Each engine on each workload: one warm-up block, then `blocks` recorded blocks (or fewer, where the
 * plan says) of the plan's steps, blocks alternated between the engines, order rotated every block.
 * Every workload gets fresh processes (engine children, and PyTorch from `pytorch` where given), so
 * that each row's peak memory is that workload's; they are closed when its blocks are done.
 */
export async function measureEngines(
  workloads: WorkloadName[],
  engines: EngineName[],
  blocks: number,
  plan: BlockPlan,
  log: (s: string) => void,
  pytorch?: () => Promise<PyTorchChild | { error: string }>,
): Promise<EngineMeasurement> {
  const skipped: EngineMeasurement['skipped'] = [];
  const rows: EngineResult[] = [];
  let pytorchParams: PyTorchChild['params'] | undefined;
  for (const workload of workloads) {
    const runners: BlockRunner[] = [];
    const [forked, torch] = await Promise.all([Promise.all(engines.map(forkEngine)), pytorch?.()]);
    for (const started of forked) {
      if ('error' in started) skipped.push({ engine: started.engine, workload, why: started.error });
      else runners.push(started);
    }
    if (torch && 'error' in torch) skipped.push({ engine: 'PyTorch', workload, why: torch.error });
    else if (torch) {
      pytorchParams = torch.params;
      runners.push({ kind: 'pytorch', engine: torch.label, threads: torch.threads, ask: torch.ask, close: torch.close });
    }
    try {
      const planned = runners.map((r) => plan(workload, r.kind));
      planned.forEach((p, i) => typeof p === 'string' && skipped.push({ engine: runners[i].engine, workload, why: p }));
      const times = runners.map(() => [] as number[]);
      const cpuTimes = runners.map(() => [] as number[]);
      const peakRss = runners.map(() => NaN);
      const errors: (string | undefined)[] = runners.map(() => undefined);
      for (let b = 0; b <= blocks; b++) {
        for (let j = 0; j < runners.length; j++) {
          const i = (b + j) % runners.length;
          const p = planned[i];
          if (typeof p === 'string' || errors[i] || b > (p.blocks ?? blocks)) continue;
          // Idle pool threads spin before they sleep: let the last block's settle first.
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          // Block 0 warms up (JIT, graph caches, the pool's first wake-up) and is not recorded.
          const reply = await runners[i].ask({ workload, warmup: b === 0 ? 1 : 0, steps: b === 0 ? 1 : p.steps });
          if ('error' in reply) errors[i] = reply.error;
          else if ('wallMs' in reply) {
            if (b > 0) times[i].push(...reply.wallMs);
            if (b > 0 && reply.cpuMs) cpuTimes[i].push(...reply.cpuMs);
            if (reply.maxRssMB !== undefined) peakRss[i] = reply.maxRssMB;
          }
        }
        if (b > 0) log(`  ${WORKLOADS[workload].label}: ${b}/${blocks} blocks`);
      }
      runners.forEach(({ kind, engine, threads }, i) => {
        if (typeof planned[i] === 'string') return;
        const wallMs = stats(times[i]);
        const cpuMs = cpuTimes[i].length === times[i].length && times[i].length > 0 ? stats(cpuTimes[i]) : undefined;
        rows.push({
          workload,
          kind,
          engine,
          ...(threads !== undefined ? { threads } : {}),
          steps: times[i].length,
          wallMs,
          samplesPerSec: (WORKLOADS[workload].batch / wallMs.median) * 1000,
          ...(cpuMs ? { cpuMs, samplesPerCpuSec: (WORKLOADS[workload].batch / cpuMs.median) * 1000 } : {}),
          peakRssMB: peakRss[i],
          ...(errors[i] ? { error: errors[i] } : {}),
        });
      });
    } finally {
      for (const r of runners) r.close();
    }
  }
  return { rows, skipped, ...(pytorchParams ? { pytorchParams } : {}) };
}

/** A long run of `workload` in a fresh child of `engine`: memory sampled every `every` steps. */
export async function measureEngineMemory(
  engine: EngineName,
  workload: WorkloadName,
  steps: number,
  every: number,
  batch?: number,
): Promise<MemoryResult | { engine: string; error: string }> {
  const runner = await forkEngine(engine);
  if ('error' in runner) return { engine, error: runner.error };
  try {
    const reply = await runner.ask({ workload, warmup: 0, steps, memory: { every, ...(batch ? { batch } : {}) } });
    if ('error' in reply) return { engine: runner.engine, error: reply.error };
    if (!('memory' in reply)) return { engine: runner.engine, error: 'unexpected reply' };
    return reply.memory;
  } finally {
    runner.close();
  }
}

export interface EngineProfile {
  engine: string;
  workload: WorkloadName;
  /** The median step without the profiler, in the same child. */
  plainStepMs: number;
  profile: StepProfile;
}

/** A kernel profile of `workload` in each engine's child (one at a time: nothing else runs meanwhile). */
export async function profileEngines(
  workload: WorkloadName,
  engines: EngineName[],
  steps: number,
  log: (s: string) => void,
): Promise<(EngineProfile | { engine: string; error: string })[]> {
  const out: (EngineProfile | { engine: string; error: string })[] = [];
  for (const engine of engines) {
    const runner = await forkEngine(engine);
    if ('error' in runner) {
      out.push({ engine, error: runner.error });
      continue;
    }
    try {
      log(`  profiling ${WORKLOADS[workload].label} on ${runner.engine}…`);
      const plain = await runner.ask({ workload, warmup: 2, steps });
      if ('error' in plain) throw new Error(plain.error);
      const profiled = await runner.ask({ workload, warmup: 0, steps, profile: true });
      if ('error' in profiled) throw new Error(profiled.error);
      if (!('profile' in profiled) || !('wallMs' in plain)) throw new Error('unexpected reply');
      out.push({ engine: runner.engine, workload, plainStepMs: stats(plain.wallMs).median, profile: profiled.profile });
    } catch (e) {
      out.push({ engine: runner.engine, error: e instanceof Error ? e.message : String(e) });
    } finally {
      runner.close();
    }
  }
  return out;
}
