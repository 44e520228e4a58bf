import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { measureAvenues, type AvenueRow } from './avenues.js';
import { CONFIGS, loadWasm, type Config } from './configs.js';
import { exportSizes, type ExportResult } from './export-size.js';
import { captureSections, writeDocs } from './docs.js';
import { VARIANTS, measureInference, type InferenceResult } from './inference.js';
import { fmt, table } from './measure.js';
import { longRun, middlePoint, type MemoryResult } from './memory.js';
import { WORKLOADS, type Workload, type WorkloadName } from './models.js';
import { isParallelWorker, measureParallel, runParallelWorker, type ParallelResult } from './parallel.js';
import { loadPenalties, measurePenaltyOverhead, type PenaltyOverheadRow } from './penalties.js';
import { selectBackend } from '../../../packages/backend/src/select-node.js';
import { autoWasmThreads } from '../../../packages/backend/src/wasm-threads.js';
import {
  ENGINE_NAME,
  isEngineChild,
  measureEngineMemory,
  measureEnginePenaltyOverhead,
  measureEngines,
  profileEngines,
  runEngineChild,
  type EngineProfile,
  type EngineMeasurement,
  type EngineName,
  type EngineResult,
} from './engines.js';
import { startPyTorch } from './pytorch.js';
import { enableRelaxedSimd, measureRelaxed, type RelaxedRow } from './relaxed.js';
import { measureThroughput, type ThroughputResult } from './throughput.js';

const USAGE = `npm run bench [-- options]

  --quick            short run (few steps; about 2 minutes, most of it the cpu LeNet-5 step)
  --out <file>       also write the JSON results to <file>
  --only <sections>  comma-separated: throughput,engines,profile,threads,penalties,memory,export,bundles,inference,avenues,
                     relaxed,parallel (default: all)
  --relaxed-workloads <list>
                     the relaxed section's workloads (default resnet-20)
  --relaxed-rounds <n>
                     the relaxed section's recorded rounds (default 4)
  --trained <dir>    inference: also measure this model (model.json + weights.bin, e.g. sparsify export) as it is;
                     repeatable
  --no-cpu-conv      skip the cpu backend on LeNet-5 and the CIFAR models (naive conv backprop: seconds to minutes per step)
  --workloads <list> the engines section's workloads (default: lenet-300-100,lenet-5-caffe,resnet-20,resnet-32,vgg-small)
  --penalty-workloads <list>
                     the penalties section on these workloads instead (e.g. resnet-20; resnet-8 for cpu), each engine
                     in a child, rounds interleaved step by step, ratio = fastest step with / fastest without
                     (process CPU time on one-thread engines, wall clock on threaded ones); a control row
                     (a second runner without a penalty) shows the estimate's own error
  --penalty-engines <list>
                     engines for --penalty-workloads (default: wasm:1,tensorflow:1, whose CPU time resolves a few
                     percent on a loaded machine; wasm:2 or tensorflow add the threaded engines, on wall clock);
                     without --penalty-workloads, only these engine children run (e.g. tensorflow), not the
                     in-process cpu and single-threaded wasm rows
  --penalty-rounds <n>
                     recorded rounds for --penalty-workloads (default 8; 3 warm-up rounds before them)
  --engines <list>   the engines section's engines (default: wasm:<auto threads>,tensorflow,cpu); tensorflow:<n> sets
                     libtensorflow's intra-op and inter-op pools to n threads
  --torch-threads <n>
                     PyTorch's threads (torch.set_num_threads; default the machine's cores)
  --memory-workloads <list>
                     the memory section on these workloads instead (e.g. resnet-20), each in a fresh engine child
  --memory-engines <list>
                     engines for --memory-workloads (default: tensorflow,wasm:<auto threads>; e.g. wasm:2)
  --memory-steps <n> steps of each --memory-workloads run (default 1000)
  --memory-every <k> sample RSS, live tensors and the wasm heap every k steps (default 50)
  --memory-batch <n> batch size of the --memory-workloads runs (default: the workload's, 128)
  --write-docs       put each section's output into docs/performance.md (between <!-- bench:<section> --> markers)
  --help             this text

The engines and threads sections also time PyTorch's step alongside (pytorch/step.py) with the python
named by SPARSIFY_BENCH_PYTHON (default python3) when its torch imports; otherwise they say why and skip
it. The engines section and the penalty overhead include tensorflow (tfjs-node) where it is installed
(npm run setup:tfjs-node); otherwise they say so.

Results: printed tables, and JSON in bench-results/<timestamp>.json.`;

interface Args {
  quick: boolean;
  out?: string;
  only: Set<string>;
  cpuConv: boolean;
  workloads?: WorkloadName[];
  penaltyWorkloads?: WorkloadName[];
  trained: string[];
  writeDocs: boolean;
  memoryWorkloads?: WorkloadName[];
  memoryEngines?: EngineName[];
  memorySteps: number;
  memoryEvery: number;
  memoryBatch?: number;
  penaltyEngines?: EngineName[];
  penaltyRounds: number;
  engines?: EngineName[];
  torchThreads?: number;
  relaxedWorkloads?: WorkloadName[];
  relaxedRounds: number;
}

const SECTIONS = [
  'throughput',
  'engines',
  'profile',
  'threads',
  'penalties',
  'memory',
  'export',
  'bundles',
  'inference',
  'avenues',
  'relaxed',
  'parallel',
];

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    only: new Set(SECTIONS),
    cpuConv: true,
    trained: [],
    writeDocs: false,
    memorySteps: 1000,
    memoryEvery: 50,
    penaltyRounds: 8,
    relaxedRounds: 4,
  };
  const engines = (option: string, value: string): EngineName[] => {
    const names = value.split(',');
    for (const n of names)
      if (!ENGINE_NAME.test(n))
        throw new Error(`${option}: unknown engine ${n}; valid: wasm:<threads>, tensorflow, tensorflow:<threads>, cpu`);
    return names as EngineName[];
  };
  const count = (option: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${option}: expected a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--out') args.out = argv[++i];
    else if (a === '--only') args.only = new Set(argv[++i].split(','));
    else if (a === '--no-cpu-conv') args.cpuConv = false;
    else if (a === '--memory-steps') args.memorySteps = count(a, argv[++i]);
    else if (a === '--memory-every') args.memoryEvery = count(a, argv[++i]);
    else if (a === '--memory-batch') args.memoryBatch = count(a, argv[++i]);
    else if (a === '--penalty-rounds') args.penaltyRounds = count(a, argv[++i]);
    else if (a === '--torch-threads') args.torchThreads = count(a, argv[++i]);
    else if (a === '--relaxed-rounds') args.relaxedRounds = count(a, argv[++i]);
    else if (a === '--memory-engines') args.memoryEngines = engines(a, argv[++i]);
    else if (a === '--penalty-engines') args.penaltyEngines = engines(a, argv[++i]);
    else if (a === '--engines') args.engines = engines(a, argv[++i]);
    else if (a === '--workloads' || a === '--penalty-workloads' || a === '--memory-workloads' || a === '--relaxed-workloads') {
      const names = argv[++i].split(',');
      for (const n of names)
        if (!(n in WORKLOADS)) throw new Error(`${a}: unknown workload ${n}; valid: ${Object.keys(WORKLOADS).join(', ')}`);
      if (a === '--workloads') args.workloads = names as WorkloadName[];
      else if (a === '--memory-workloads') args.memoryWorkloads = names as WorkloadName[];
      else if (a === '--relaxed-workloads') args.relaxedWorkloads = names as WorkloadName[];
      else args.penaltyWorkloads = names as WorkloadName[];
    } else if (a === '--trained') args.trained.push(argv[++i]);
    else if (a === '--write-docs') args.writeDocs = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`unknown option ${a}\n\n${USAGE}`);
      process.exit(2);
    }
  }
  for (const s of args.only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s}; valid: ${SECTIONS.join(', ')}`);
  return args;
}

const log = (s: string) => console.error(s);
const ms = (v: number | undefined) => fmt(v, 3);
/** A with/without ratio as the overhead in percent. */
const overhead = (ratio: number) => `${((ratio - 1) * 100).toFixed(1)}%`;

/**
 * The engines table: each engine's median step per workload, with ratios to PyTorch and to wasm; with
 * `cpuClock` (every engine on one thread) also per process CPU time, which other load moves far less.
 */
function printEngineTable(m: EngineMeasurement, cpuClock = false): void {
  const find = (r: EngineResult, kind: EngineResult['kind']) =>
    m.rows.find((o) => o.workload === r.workload && o.kind === kind && !o.error);
  console.log(
    table(
      [
        'workload',
        'engine',
        'steps',
        'wall ms',
        'samples/s',
        '× PyTorch',
        '× wasm',
        ...(cpuClock ? ['cpu ms', 'samples/cpu-s', '× PyTorch (cpu)'] : []),
        'peak RSS MB',
      ],
      m.rows.map((r) => {
        const w = WORKLOADS[r.workload];
        if (r.error)
          return [w.label, r.engine, '—', '—', `fails: ${r.error}`, '—', '—', ...(cpuClock ? ['—', '—', '—'] : []), ms(r.peakRssMB)];
        const torch = find(r, 'pytorch');
        const wasm = find(r, 'wasm');
        const ratio = (o?: EngineResult) => (o && o !== r ? `${fmt(r.samplesPerSec / o.samplesPerSec, 3)}×` : '—');
        const cpuRatio = (o?: EngineResult) =>
          o && o !== r && o.samplesPerCpuSec && r.samplesPerCpuSec ? `${fmt(r.samplesPerCpuSec / o.samplesPerCpuSec, 3)}×` : '—';
        return [
          w.label,
          r.engine,
          String(r.steps),
          ms(r.wallMs.median),
          ms(r.samplesPerSec),
          ratio(torch),
          ratio(wasm),
          ...(cpuClock ? [ms(r.cpuMs?.median), ms(r.samplesPerCpuSec), cpuRatio(torch)] : []),
          fmt(r.peakRssMB, 4),
        ];
      }),
    ),
  );
  for (const s of m.skipped) console.log(`  ${s.engine}${s.workload ? ` on ${WORKLOADS[s.workload].label}` : ''}: ${s.why}`);
  const params = m.pytorchParams;
  if (params) {
    const mismatched = m.rows
      .filter((r) => r.kind === 'pytorch')
      .flatMap((r) => {
        const theirs = params[r.workload];
        const model = WORKLOADS[r.workload].build(1);
        const ours = model.trainableWeights.reduce((n, v) => n + v.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
        model.dispose();
        return theirs === ours ? [] : [`${r.workload}: PyTorch ${theirs ?? '?'} vs tfjs ${ours} trainable parameters`];
      });
    console.log(
      mismatched.length
        ? `  PyTorch models do not mirror the tfjs ones: ${mismatched.join('; ')}`
        : "  PyTorch models (pytorch/models.py) have the tfjs models' trainable parameter counts.",
    );
  }
}

/** Overhead (%) per penalty (rows) per backend (columns), one table per workload. */
function printOverheadPivot(rows: PenaltyOverheadRow[]): void {
  for (const workload of [...new Set(rows.map((r) => r.workload))]) {
    const mine = rows.filter((r) => r.workload === workload);
    const backends = [...new Set(mine.map((r) => r.backend))];
    const penalties = [...new Set(mine.map((r) => r.penalty))];
    console.log(`Overhead per penalty per backend, ${WORKLOADS[workload as WorkloadName].label} (step with / without − 1):`);
    console.log(
      table(
        ['penalty', ...backends],
        penalties.map((p) => [
          p,
          ...backends.map((b) => {
            const r = mine.find((o) => o.penalty === p && o.backend === b);
            return !r ? '—' : r.error ? 'fails' : overhead(r.ratio);
          }),
        ]),
      ),
    );
  }
  console.log('');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await loadWasm();
  await selectBackend({ prefer: 'cpu' }); // cpu, without tfjs's "install tfjs-node" banner
  const started = new Date();
  const meta = {
    date: started.toISOString(),
    node: process.version,
    tfjs: tf.version.tfjs,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverageAtStart: loadavg().map((v) => Number(v.toFixed(2))),
    wasmSimd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    wasmThreads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
    quick: args.quick,
  };
  console.log(`sparsify bench — ${meta.date}`);
  console.log(`node ${meta.node}, tfjs ${meta.tfjs}, ${meta.platform}, ${meta.cores}× ${meta.cpu}`);
  console.log(`backends: cpu; wasm (SIMD ${meta.wasmSimd ? 'on' : 'off'}, threads ${meta.wasmThreads ? 'on' : 'off'})`);
  console.log(
    `load average at start: ${meta.loadAverageAtStart.join(' ')} (timings are per step; cpu ms = process CPU time, robust to other load)\n`,
  );
  const capture = args.writeDocs ? captureSections() : undefined;

  const results: {
    meta: typeof meta;
    throughput?: ThroughputResult[];
    engines?: EngineMeasurement;
    profile?: (EngineProfile | { engine: string; error: string })[];
    threads?: EngineMeasurement;
    penalties?: unknown[];
    penaltyNotes?: Record<string, string>;
    memory?: MemoryResult[];
    export?: ExportResult;
    inference?: InferenceResult;
    avenues?: { rows: AvenueRow[]; ops: Record<string, unknown> };
    parallel?: ParallelResult[];
    relaxed?: RelaxedRow[] | { error: string };
    durationSec?: number;
  } = { meta };

  const q = args.quick;
  const workloads = [WORKLOADS['lenet-300-100'], WORKLOADS['lenet-5-caffe']];

  if (args.only.has('throughput')) {
    console.log('== Training step throughput (forward + backward + SGD-momentum update, softmax CE) ==');
    const rows: ThroughputResult[] = [];
    for (const w of workloads) {
      const conv = w.name === 'lenet-5-caffe';
      const configs: Config[] = [CONFIGS.cpu, CONFIGS['wasm-stock'], CONFIGS.wasm].filter(
        (c) => !(conv && c.id === 'cpu' && !args.cpuConv),
      );
      log(`measuring ${w.label} on ${configs.map((c) => c.id).join(', ')}…`);
      rows.push(
        ...measureThroughput(
          w,
          configs,
          {
            warmup: q ? 2 : 3,
            steps: q ? 5 : 20,
            stepsFor: (c) =>
              c.id !== 'cpu'
                ? { warmup: q ? 2 : 3, steps: q ? 5 : 20 }
                : conv
                  ? { warmup: 0, steps: q ? 1 : 2, separate: true }
                  : { warmup: 1, steps: q ? 3 : 8 },
          },
          log,
        ),
      );
    }
    results.throughput = rows;
    const printRows = rows.map((r) => {
      const cpuRow = rows.find((o) => o.workload === r.workload && o.config === 'cpu' && !o.error);
      const w = WORKLOADS[r.workload as keyof typeof WORKLOADS];
      if (r.error) return [w.label, r.label, 'fails (below)', '—', '—', '—', '—', '—', '—'];
      const vsCpu = cpuRow?.timing ? cpuRow.timing.cpu.median / r.timing!.cpu.median : undefined;
      const torch = `${fmt(r.samplesPerSecCpu! / w.pytorch![1], 2)}–${fmt(r.samplesPerSecCpu! / w.pytorch![0], 2)}`;
      return [
        w.label,
        r.label,
        String(r.steps),
        ms(r.timing!.wall.median),
        ms(r.timing!.cpu.median),
        ms(r.samplesPerSec),
        ms(r.samplesPerSecCpu),
        vsCpu ? `${fmt(vsCpu, 3)}×` : '—',
        torch,
      ];
    });
    console.log(
      table(['workload', 'backend', 'steps', 'wall ms', 'cpu ms', 'samples/s', 'samples/s (cpu)', 'vs cpu', '× PyTorch'], printRows),
    );
    for (const r of rows.filter((o) => o.error))
      console.log(`  ${WORKLOADS[r.workload as keyof typeof WORKLOADS].label} on ${r.label} fails: ${r.error}`);
    console.log(
      `PyTorch 1.13 CPU on the 2-core development machine (docs/performance.md): LeNet-300-100 b=128 ${WORKLOADS['lenet-300-100'].pytorch!.join('–')} samples/s; LeNet-5-Caffe b=64 ${WORKLOADS['lenet-5-caffe'].pytorch!.join('–')} samples/s. Target: ≥ 0.5×.\n`,
    );
  }

  if (args.only.has('engines')) {
    const threads = autoWasmThreads();
    const engines: EngineName[] = args.engines ?? [`wasm:${threads}`, 'tensorflow', 'cpu'];
    console.log('== Engines side by side (one process each, fresh per workload, blocks alternated, wall clock; PyTorch alongside) ==');
    const lenet5Cpu = args.cpuConv && !q;
    const m = await measureEngines(
      args.workloads ?? ['lenet-300-100', 'lenet-5-caffe', 'resnet-20', 'resnet-32', 'vgg-small'],
      engines,
      q ? 1 : 3,
      (workload, kind) => {
        const cifar = workload !== 'lenet-300-100' && workload !== 'lenet-5-caffe';
        const slowCpu = args.cpuConv && !q;
        if (kind === 'cpu' && cifar)
          return slowCpu ? { steps: 1, blocks: 1 } : 'not run (--no-cpu-conv or --quick): minutes per step (naive conv backprop)';
        if (kind === 'cpu' && workload === 'lenet-5-caffe')
          return lenet5Cpu ? { steps: 1, blocks: 1 } : 'not run (--no-cpu-conv or --quick): ≈ 30 s per step';
        if (kind === 'cpu') return { steps: q ? 2 : 4 };
        return { steps: cifar ? (q ? 1 : 2) : q ? 3 : 8 };
      },
      log,
      () => startPyTorch(undefined, args.torchThreads),
    );
    results.engines = m;
    // One thread everywhere (wasm:1, tensorflow:1, PyTorch 1 thread): CPU time is each engine's own work.
    const oneThread = args.torchThreads === 1 && engines.every((e) => e === 'cpu' || /:1$/.test(e));
    printEngineTable(m, oneThread);
    console.log(
      `Wall clock, median step. × PyTorch and × wasm: samples/s relative to those engines' in the same blocks. Peak RSS: each engine's own process, started for that workload. Load average now ${loadavg()
        .map((v) => v.toFixed(1))
        .join(' ')} on ${meta.cores} cores.\n`,
    );
  }

  if (args.only.has('profile')) {
    const threads = autoWasmThreads();
    const engines: EngineName[] = [`wasm:${threads}`, 'tensorflow'];
    console.log('== Where a CIFAR ResNet-20 b=128 training step goes, per kernel (tf.profile; one engine at a time) ==');
    const profiles = await profileEngines('resnet-20', engines, q ? 2 : 4, log);
    results.profile = profiles;
    for (const p of profiles) {
      if ('error' in p) {
        console.log(`  ${p.engine}: ${p.error}`);
        continue;
      }
      const { profile: pr, plainStepMs } = p;
      console.log(
        `${p.engine}: step ${ms(plainStepMs)} ms (${ms(pr.stepMs)} ms profiled), kernels ${ms(pr.kernelMs)} ms, outside kernels ${ms(pr.stepMs - pr.kernelMs)} ms; ${fmt(
          pr.kernels.reduce((n, k) => n + k.calls, 0),
          4,
        )} kernel calls per step`,
      );
      const top = pr.kernels.filter((k) => k.ms >= 0.005 * pr.kernelMs);
      const rest = pr.kernels.filter((k) => !top.includes(k));
      const rows = top.map((k) => [k.name, fmt(k.calls, 4), ms(k.ms), `${fmt((100 * k.ms) / pr.stepMs, 2)}%`]);
      if (rest.length) {
        const restMs = rest.reduce((s, k) => s + k.ms, 0);
        rows.push([
          `${rest.length} others`,
          fmt(
            rest.reduce((n, k) => n + k.calls, 0),
            4,
          ),
          ms(restMs),
          `${fmt((100 * restMs) / pr.stepMs, 2)}%`,
        ]);
      }
      rows.push(['(outside kernels)', '', ms(pr.stepMs - pr.kernelMs), `${fmt((100 * (pr.stepMs - pr.kernelMs)) / pr.stepMs, 2)}%`]);
      console.log(table(['kernel', 'calls/step', 'ms/step', 'of step'], rows));
      console.log('');
    }
  }

  if (args.only.has('threads')) {
    const counts = [1, autoWasmThreads()].filter((t, i, all) => all.indexOf(t) === i);
    console.log(
      `== wasm threads (threaded SIMD build in Node, wasm + sparsify kernels; ${counts.join(' vs ')} threads, one process each, blocks alternated; PyTorch alongside) ==`,
    );
    const m = await measureEngines(
      ['lenet-300-100', 'lenet-5-caffe'],
      counts.map((t): EngineName => `wasm:${t}`),
      q ? 3 : 8,
      () => ({ steps: q ? 3 : 5 }),
      log,
      () => startPyTorch(),
    );
    results.threads = m;
    const rows = m.rows;
    console.log(
      table(
        [
          'workload',
          'engine',
          'threads',
          'steps',
          'wall ms',
          'samples/s',
          'vs 1 thread',
          '× PyTorch (this run)',
          '× PyTorch 1.13 (recorded)',
        ],
        rows.map((r) => {
          const w = WORKLOADS[r.workload];
          if (r.error) return [w.label, r.engine, String(r.threads ?? '—'), '—', '—', `fails: ${r.error}`, '—', '—', '—'];
          const wasm = r.kind === 'wasm';
          const one = wasm ? rows.find((o) => o.workload === r.workload && o.kind === 'wasm' && o.threads === 1 && !o.error) : undefined;
          const torchNow = rows.find((o) => o.workload === r.workload && o.kind === 'pytorch' && !o.error);
          const old = `${fmt(r.samplesPerSec / w.pytorch![1], 2)}–${fmt(r.samplesPerSec / w.pytorch![0], 2)}`;
          return [
            w.label,
            r.engine,
            String(r.threads ?? '—'),
            String(r.steps),
            ms(r.wallMs.median),
            ms(r.samplesPerSec),
            one ? `${fmt(one.wallMs.median / r.wallMs.median, 3)}×` : '—',
            torchNow ? `${fmt(r.samplesPerSec / torchNow.samplesPerSec, 2)}×` : '—',
            wasm ? old : '—',
          ];
        }),
      ),
    );
    for (const s of m.skipped) console.log(`  ${s.engine} skipped: ${s.why}`);
    console.log(
      `Wall clock (median step). × PyTorch (this run): against PyTorch's steps in the same blocks (pytorch/step.py; python: SPARSIFY_BENCH_PYTHON or python3); PyTorch 1.13 (recorded): against the figures above. Load average now ${loadavg()
        .map((v) => v.toFixed(1))
        .join(' ')} on ${meta.cores} cores.\n`,
    );
  }

  if (args.only.has('penalties')) {
    console.log('== Penalty overhead (step with penalty / step without, same backend, interleaved) ==');
    const { available, skipped } = await loadPenalties();
    for (const [id, why] of skipped) console.log(`  skipped ${id}: ${why}`);
    results.penaltyNotes = Object.fromEntries(skipped);
    const rows: PenaltyOverheadRow[] = [];
    const plans: [Workload, Config, number][] = args.penaltyWorkloads
      ? // Seconds per step: a few rounds, in the engine children only (no single-threaded in-process run).
        args.penaltyWorkloads.map((name) => [WORKLOADS[name], CONFIGS.wasm, q ? 2 : args.penaltyRounds])
      : [
          // Overheads are small next to a step, on a machine whose speed drifts: enough rounds for a median
          // that repeats within a few points (sizes and durations: docs/performance.md).
          [WORKLOADS['lenet-300-100'], CONFIGS.wasm, q ? 5 : 200],
          [WORKLOADS['lenet-300-100'], CONFIGS.cpu, q ? 3 : 10],
          [WORKLOADS['lenet-5-caffe'], CONFIGS.wasm, q ? 3 : 48],
        ];
    if (available.size > 0) {
      for (const [w, c, steps] of args.penaltyWorkloads || args.penaltyEngines ? [] : plans) {
        log(`measuring penalty overhead: ${w.label} on ${c.label}…`);
        rows.push(...measurePenaltyOverhead(w, c, steps, available, 'cpu', c.id === 'wasm' ? 'wasm + sparsify, 1 thread' : c.id));
      }
      // Wall clock in the children: their threads add up in process CPU time.
      const wasmPlans = plans.filter(([, c]) => c.id === 'wasm').map(([w, , steps]): [WorkloadName, number] => [w.name, steps]);
      // LeNet-5-Caffe's steps on tensorflow take a third of wasm's: rounds enough for a median within a
      // point or two (48 varied by ±5 points from run to run).
      const tensorflowPlans = wasmPlans.map(([w, steps]): [WorkloadName, number] => [w, w === 'lenet-5-caffe' && !q ? 160 : steps]);
      const threads = autoWasmThreads();
      const engines: EngineName[] =
        args.penaltyEngines ??
        (args.penaltyWorkloads ? ['wasm:1', 'tensorflow:1'] : [...(threads > 1 ? [`wasm:${threads}` as const] : []), 'tensorflow']);
      const children = engines
        .filter((e, i, all) => all.indexOf(e) === i)
        .map((e): [EngineName, [WorkloadName, number][]] => [
          e,
          !args.penaltyWorkloads && e.startsWith('tensorflow') ? tensorflowPlans : wasmPlans,
        ]);
      for (const [engine, enginePlans] of children) {
        log(`measuring penalty overhead on ${engine} (a child process)…`);
        // Few long steps: the fastest of each, on the clock other load moves least (the child picks wall where threaded).
        const got = await measureEnginePenaltyOverhead(
          engine,
          enginePlans,
          args.penaltyWorkloads ? { clock: 'cpu', estimator: 'min', control: true } : undefined,
        );
        if ('error' in got) console.log(`  ${engine} skipped: ${got.error}`);
        else rows.push(...got);
      }
      console.log(
        table(
          ['workload', 'backend', 'penalty', 'clock', 'rounds', 'base ms', 'with ms', 'ratio', 'overhead', 'other estimator'],
          rows.map((r) => [
            WORKLOADS[r.workload as keyof typeof WORKLOADS].label,
            r.backend,
            r.penalty,
            `${r.clock}, ${r.estimator ?? 'median'}`,
            String(r.rounds ?? '—'),
            ms(r.baseMs),
            r.error ? 'fails (below)' : ms(r.withMs),
            r.error ? '' : `${fmt(r.ratio, 3)}×`,
            r.error ? '' : overhead(r.ratio),
            r.error ? '' : overhead((r.estimator === 'min' ? r.medianRatio : r.minRatio) ?? NaN),
          ]),
        ),
      );
      for (const r of rows.filter((o) => o.error)) console.log(`  ${r.penalty} on ${r.backend} fails: ${r.error}`);
      console.log(
        'ratio, median: the median of per-round ratios (with / without, steps of the same round), robust to the machine slowing down mid-run;',
      );
      console.log(
        '  min: the fastest step with over the fastest without (few long steps: other load only slows a step down). other estimator: the',
      );
      console.log(
        '  other one, beside it (where they disagree by much, the machine was noisy). clock cpu: process CPU time (one-thread engines).',
      );
      if (rows.some((r) => r.penalty.endsWith(', in place'))) {
        console.log(
          "', in place': the same penalty with the accelerator's helper thread off (its pass then runs in the step, not during the forward pass).",
        );
      }
      console.log(
        args.penaltyWorkloads
          ? 'Target (issue 19): ≤ 5% for every penalty on the CIFAR networks, on every backend.\n'
          : 'Targets (issue 6): ≤ 10% for every penalty but HALO (≤ 25%). cpu LeNet-5 is skipped (seconds per step).\n',
      );
      printOverheadPivot(rows);
    } else console.log('  no penalty package available\n');
    results.penalties = rows;
  }

  if (args.only.has('memory') && args.memoryWorkloads) {
    const engines = args.memoryEngines ?? ['tensorflow', `wasm:${autoWasmThreads()}`];
    console.log(
      `== Memory over a long run (${args.memorySteps} steps, sampled every ${args.memoryEvery}; a fresh engine child per run) ==`,
    );
    const runs: MemoryResult[] = [];
    for (const name of args.memoryWorkloads) {
      for (const engine of engines) {
        log(
          `long run: ${WORKLOADS[name].label.replace(/b=\d+/, `b=${args.memoryBatch ?? WORKLOADS[name].batch}`)} on ${engine}, ${args.memorySteps} steps…`,
        );
        const got = await measureEngineMemory(engine, name, args.memorySteps, args.memoryEvery, args.memoryBatch);
        if ('error' in got) console.log(`  ${got.engine} on ${WORKLOADS[name].label} fails: ${got.error}`);
        else runs.push(got);
      }
    }
    results.memory = runs;
    const at = (p?: MemoryResult['start']) =>
      p ? `${fmt(p.rssMB, 4)} MB, ${p.numTensors} t${p.wasmHeapMB != null ? `, heap ${fmt(p.wasmHeapMB, 4)}` : ''}` : '—';
    console.log(
      table(
        ['workload', 'engine', 'steps', 'start (step 1)', 'middle', 'end', 'peak RSS MB', 'tensor growth', 's/step'],
        runs.map((r) => {
          const mid = middlePoint(r);
          return [
            `${WORKLOADS[r.workload as WorkloadName].label.replace(/b=\d+/, `b=${r.batch}`)}`,
            r.engine ?? r.config,
            String(r.steps),
            at(r.start),
            mid ? `${mid.step}: ${at(mid)}` : '—',
            at(r.end),
            fmt(r.maxRssMB, 4),
            String(r.tensorGrowth),
            fmt((r.wallSec ?? NaN) / (r.steps + 1), 3),
          ];
        }),
      ),
    );
    console.log(
      "RSS and live tensors (t) after the first step (the optimizer's slots exist), in the middle and at the end; heap: the wasm module's memory, MB. Peak RSS: getrusage maxRSS of the child.\n",
    );
  } else if (args.only.has('memory')) {
    console.log('== Memory over a long run (wasm + sparsify kernels) ==');
    const runs: MemoryResult[] = [];
    for (const [w, steps] of [
      [WORKLOADS['lenet-300-100'], q ? 60 : 500],
      [WORKLOADS['lenet-5-caffe'], q ? 15 : 100],
    ] as [Workload, number][]) {
      log(`long run: ${w.label}, ${steps} steps…`);
      runs.push(longRun(w, CONFIGS.wasm, steps, Math.max(1, Math.floor(steps / 10))));
    }
    results.memory = runs;
    console.log(
      table(
        [
          'workload',
          'steps',
          'tensors start→end (peak)',
          'RSS MB start→end (peak)',
          'JS heap MB end (peak)',
          'wasm heap MB end (peak)',
          'tensor growth',
        ],
        runs.map((r) => [
          WORKLOADS[r.workload as keyof typeof WORKLOADS].label,
          String(r.steps),
          `${r.start.numTensors}→${r.end.numTensors} (${r.peak.numTensors})`,
          `${fmt(r.start.rssMB)}→${fmt(r.end.rssMB)} (${fmt(r.peak.rssMB)})`,
          `${fmt(r.end.heapUsedMB)} (${fmt(r.peak.heapUsedMB)})`,
          `${fmt(r.end.wasmHeapMB)} (${fmt(r.peak.wasmHeapMB)})`,
          String(r.tensorGrowth),
        ]),
      ),
    );
    console.log('');
  }

  if (args.only.has('export')) {
    console.log('== Export size: dense vs pruned (per-layer magnitude pruning of kernels) ==');
    const exp = await exportSizes(workloads, [0, 0.9, 0.95, 0.98, 0.99]);
    results.export = exp;
    if (exp.note) console.log(`  note: ${exp.note}`);
    const variants = [...new Set(exp.rows.flatMap((r) => Object.keys(r.sparse)))];
    console.log(
      table(
        ['workload', 'sparsity', 'dense KB', 'JSON + gzip(weights) KB', ...variants.map((v) => `${v} KB (×)`)],
        exp.rows.map((r) => [
          WORKLOADS[r.workload as keyof typeof WORKLOADS].label.split(' ')[0],
          `${r.sparsity * 100}%`,
          fmt(r.denseBytes / 1024),
          `${fmt(r.gzipDenseBytes / 1024)} (${fmt(r.denseBytes / r.gzipDenseBytes, 3)}×)`,
          ...variants.map((v) => (r.sparse[v] ? `${fmt(r.sparse[v].bytes / 1024)} (${fmt(r.sparse[v].ratio, 3)}×)` : '—')),
        ]),
      ),
    );
    console.log('Target (issue 6): sparse export ≥ 10× smaller than dense at 95%.\n');
  }

  if (args.only.has('bundles')) {
    // The measurement of `npm run bundle-sizes` (tools/scripts/browser-bundles.mjs), which the README's table comes from.
    console.log("== Browser bundle sizes (each package's main entry, tree-shaken, on top of TensorFlow.js) ==");
    const script = new URL('../../scripts/browser-bundles.mjs', import.meta.url).href;
    const { bundleSizeTable } = (await import(script)) as { bundleSizeTable: () => Promise<string> };
    console.log(`${await bundleSizeTable()}\n`);
  }

  if (args.only.has('inference')) {
    console.log('== Inference: dense vs sparse (CSR sparse × dense) vs shrunk (dead units removed), per predict call ==');
    await loadWasm();
    // tfjs-node in this process too, where installed: loaded only when this section runs.
    const native = await selectBackend({ prefer: 'tensorflow' }).then(
      () => null,
      (e: unknown) => `tensorflow: not measured (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`,
    );
    const inf = await measureInference({
      workloads: [
        { workload: WORKLOADS['lenet-300-100'], batches: [1, 32] },
        { workload: WORKLOADS['lenet-5-caffe'], batches: [1] },
        ...(q ? [] : [{ workload: WORKLOADS['vgg-small'], batches: [1] }]),
      ],
      sparsities: q ? [0.95] : [0.9, 0.95, 0.98, 0.99],
      backends: ['wasm', 'cpu', ...(native ? [] : ['tensorflow'])],
      trained: args.trained,
      budgetMs: q ? 300 : 1500,
      log,
    });
    results.inference = inf;
    await selectBackend({ prefer: 'cpu' });
    const groups = new Map<string, typeof inf.rows>();
    for (const r of inf.rows) {
      const key = `${r.model}|${r.batch}|${r.sparsity}|${r.backend}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const kb = (b: number) => fmt(b / 1024);
    console.log(
      table(
        [
          'model',
          'batch',
          'sparsity',
          'backend',
          'dense ms',
          'dense plan',
          'sparse ms',
          '× dense',
          'shrunk ms',
          '× dense',
          'shrunk predict',
          '× dense',
          'dense KB',
          'sparse KB',
          'shrunk KB',
        ],
        [...groups.values()].map((g) => {
          const [d, dp, s, k, kp] = VARIANTS.map((v) => g.find((r) => r.variant === v)!);
          const x = (a: typeof d, b: typeof d) => `${fmt(a.minMs / b.minMs, 3)}×`;
          return [
            d.model,
            String(d.batch),
            `${fmt(d.sparsity * 100, 4)}%`,
            d.backend,
            fmt(d.minMs, 3),
            fmt(dp.minMs, 3),
            fmt(s.minMs, 3),
            x(d, s),
            fmt(k.minMs, 3),
            x(d, k),
            fmt(kp.minMs, 3),
            x(d, kp),
            kb(d.bytes),
            kb(s.bytes),
            kb(k.bytes),
          ];
        }),
      ),
    );
    const kept = new Map(inf.rows.filter((r) => r.kept).map((r) => [`${r.model} ${fmt(r.sparsity * 100, 4)}%`, r.kept!]));
    for (const [k, v] of kept) console.log(`  shrunk ${k}: ${v}`);
    for (const n of [...inf.notes, ...(native ? [native] : [])]) console.log(`  note: ${n}`);
    console.log(
      '  Min over 20 interleaved rounds. Dense and sparse: per-layer unstructured magnitude pruning; shrunk: whole neurons/filters',
    );
    console.log('  pruned by L2 norm to the same weight count (a trained model: the same weights throughout). × dense: speed-up over');
    console.log('  LayersModel.predict of the dense model. shrunk: its predict (an inference plan for chains: one kernel call per layer);');
    console.log(
      "  dense plan: the dense model through SparseModel's runner; shrunk predict: the shrunk model through LayersModel.predict.",
    );
    console.log('  webgl needs a browser: node tools/scripts/browser-inference.mjs <model dir> (docs/performance.md); not measured here.');
    console.log(
      'Targets (issue 21): 95%, LeNet-300-100 on wasm: sparse ≥ 4× at batch 1, ≥ 2× at batch 32; Group-HS shrunk ≥ 3× on every backend.\n',
    );
  }

  if (args.only.has('avenues') && !q) {
    console.log('== Avenues (wasm + sparsify kernels; first variant of each is the default) ==');
    const av = await measureAvenues(2, 16, 8, log);
    results.avenues = av;
    console.log(
      table(
        ['avenue', 'variant', 'cpu ms', 'wall ms', 'samples/s (cpu)', 'vs default'],
        av.rows.map((r) => [
          r.avenue,
          r.variant,
          ms(r.timing?.cpu.median),
          ms(r.timing?.wall.median),
          ms(r.samplesPerSecCpu),
          r.ratio ? `${fmt(r.ratio, 3)}×` : (r.error ?? ''),
        ]),
      ),
    );
    for (const [k, v] of Object.entries(av.ops)) console.log(`  ops per LeNet-300-100 step, ${k}: ${JSON.stringify(v)}`);
    console.log('');
  } else if (args.only.has('avenues')) console.log('(avenues skipped in --quick)\n');

  if (args.only.has('relaxed') && !q) {
    console.log('== Relaxed SIMD (FMA) against plain SIMD: the direct conv loops, wasm + sparsify, 1 thread, interleaved ==');
    if (!enableRelaxedSimd()) {
      console.log('  not measured: this runtime does not compile relaxed SIMD, even with --experimental-wasm-relaxed-simd\n');
      results.relaxed = { error: 'relaxed SIMD does not compile here' };
    } else {
      const rows = measureRelaxed(
        (args.relaxedWorkloads ?? ['resnet-20']).map((n) => WORKLOADS[n]),
        1,
        args.relaxedRounds,
        log,
      );
      results.relaxed = rows;
      console.log(
        table(
          ['workload', 'variant', 'rounds', 'cpu ms min', 'cpu ms median', 'min / plain', 'median / plain'],
          rows.map((r) => [
            WORKLOADS[r.workload as WorkloadName].label,
            r.variant,
            String(r.timing?.cpu.n ?? 0),
            ms(r.timing?.cpu.min),
            ms(r.timing?.cpu.median),
            r.error ? `fails: ${r.error}` : `${fmt(r.minRatio, 3)}×`,
            r.error ? '' : `${fmt(r.medianRatio, 3)}×`,
          ]),
        ),
      );
      console.log(
        `Process CPU time per step, ${process.version}${process.execArgv.length ? ` ${process.execArgv.join(' ')}` : ''} (relaxed SIMD switched on by the bench where Node needs the flag).\n`,
      );
    }
  } else if (args.only.has('relaxed')) console.log('(relaxed skipped in --quick)\n');

  if (args.only.has('parallel')) {
    console.log('== Data-parallel worker threads (prototype: wasm + sparsify kernels per thread, gradients averaged in shared memory) ==');
    const rows: ParallelResult[] = [];
    for (const name of ['lenet-300-100', 'lenet-5-caffe'] as const) {
      for (const workers of [1, 2]) {
        log(`parallel: ${WORKLOADS[name].label}, ${workers} worker(s)…`);
        rows.push(await measureParallel(name, workers, 2, q ? 5 : name === 'lenet-5-caffe' ? 10 : 20));
      }
    }
    results.parallel = rows;
    console.log(
      table(
        ['workload', 'workers', 'steps', 'wall ms', 'samples/s', 'vs 1 worker'],
        rows.map((r) => {
          const one = rows.find((o) => o.workload === r.workload && o.workers === 1);
          return [
            WORKLOADS[r.workload as keyof typeof WORKLOADS].label,
            String(r.workers),
            String(r.steps),
            ms(r.wallMs.median),
            r.error ? `fails: ${r.error}` : ms(r.samplesPerSec),
            one ? `${fmt(one.wallMs.median / r.wallMs.median, 3)}×` : '',
          ];
        }),
      ),
    );
    console.log(
      `Wall-clock only (the work is spread over threads); load average now ${loadavg()
        .map((v) => v.toFixed(1))
        .join(' ')} on ${meta.cores} cores.\n`,
    );
  }

  if (capture) {
    const load = loadavg()
      .map((v) => v.toFixed(1))
      .join(' ');
    const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`;
    writeDocs(resolve('docs', 'performance.md'), capture.stop(), {
      date: meta.date.slice(0, 10),
      cores: meta.cores,
      node: meta.node,
      load,
      command,
    });
    console.log(`sections written into ${resolve('docs', 'performance.md')}`);
  }
  results.durationSec = (Date.now() - started.getTime()) / 1000;
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const file = resolve('bench-results', `${stamp}.json`);
  mkdirSync(dirname(file), { recursive: true });
  const json = JSON.stringify(results, null, 2);
  writeFileSync(file, json);
  console.log(`results: ${file}`);
  if (args.out) {
    mkdirSync(dirname(resolve(args.out)), { recursive: true });
    writeFileSync(resolve(args.out), json);
    console.log(`results: ${resolve(args.out)}`);
  }
}

if (isEngineChild()) {
  runEngineChild().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (isParallelWorker()) {
  runParallelWorker().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
