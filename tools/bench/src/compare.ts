import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { captureSections, writeDocs } from './docs.js';
import { fmt, table } from './measure.js';

const USAGE = `npm run bench:compare -- --baseline <dir> [options]

Runs the bench of this checkout and of the checkout at <dir> (built, e.g. a git worktree of an older
commit) in turns, round after round, and prints the medians side by side: before (<dir>) and after (here).
  --baseline <dir>   the other checkout (its tools/bench/dist/index.js must exist: npm run build there)
  --rounds <n>       rounds; each runs both benches once, the first to run alternating (default 3)
  --only <sections>  passed to both benches: throughput and/or penalties (default: throughput,penalties)
  --quick            passed to both benches
  --write-docs       put the table into docs/performance.md (between <!-- bench:compare --> markers)
  --help             this text`;

interface Args {
  baseline: string;
  rounds: number;
  only: string;
  quick: boolean;
  writeDocs: boolean;
}

function parseArgs(argv: string[]): Args {
  let baseline: string | undefined;
  const args = { rounds: 3, only: 'throughput,penalties', quick: false, writeDocs: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n\n${USAGE}`);
      return v;
    };
    if (a === '--baseline') baseline = resolve(value());
    else if (a === '--rounds') {
      const v = value();
      args.rounds = Number(v);
      if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new Error(`--rounds ${v}: expected a whole number ≥ 1`);
    } else if (a === '--only') {
      args.only = value();
      const bad = args.only.split(',').filter((s) => s !== 'throughput' && s !== 'penalties');
      if (bad.length) throw new Error(`--only ${args.only}: ${bad.join(', ')} cannot be compared (throughput, penalties)`);
    } else if (a === '--quick') args.quick = true;
    else if (a === '--write-docs') args.writeDocs = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n\n${USAGE}`);
  }
  if (!baseline) throw new Error(`--baseline <dir> is required\n\n${USAGE}`);
  return { baseline, ...args };
}

/** What one bench run measured, by row key: throughput in samples/s, penalty overhead as a ratio. */
export interface RunFigures {
  throughput: Map<string, number>;
  penalties: Map<string, number>;
}

interface BenchJson {
  throughput?: { workload: string; batch: number; label: string; samplesPerSec?: number; samplesPerSecCpu?: number }[];
  penalties?: { backend: string; workload: string; penalty: string; ratio: number; error?: string }[];
}

/** The rows of a bench results file that the comparison reads. */
export function figuresOf(json: BenchJson): RunFigures {
  const throughput = new Map<string, number>();
  for (const r of json.throughput ?? []) {
    // CPU-time throughput where the bench has it: the other checkout's run shares the machine.
    const v = r.samplesPerSecCpu ?? r.samplesPerSec;
    if (v !== undefined) throughput.set(`${r.workload} b=${r.batch} · ${r.label}`, v);
  }
  const penalties = new Map<string, number>();
  for (const r of json.penalties ?? []) if (!r.error) penalties.set(`${r.workload} · ${r.backend} · ${r.penalty}`, r.ratio);
  return { throughput, penalties };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Keys present in both, with the median over rounds of each side. */
export function pair(before: readonly Map<string, number>[], after: readonly Map<string, number>[]): [string, number, number][] {
  const keys = [...new Set(after.flatMap((m) => [...m.keys()]))].filter((k) => before.some((m) => m.has(k)));
  const side = (runs: readonly Map<string, number>[], k: string) => median(runs.flatMap((m) => (m.has(k) ? [m.get(k)!] : [])));
  return keys.map((k) => [k, side(before, k), side(after, k)]);
}

/** A checkout as the table names it: its commit where git knows it, else its path. */
function describeCheckout(dir: string): string {
  const rev = spawnSync('git', ['-C', dir, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' });
  return rev.status === 0 && rev.stdout.trim() ? `${rev.stdout.trim().slice(0, 60)}` : dir;
}

function runBench(dir: string, args: Args, out: string): RunFigures {
  const script = join(dir, 'tools/bench/dist/index.js');
  const argv = [script, '--only', args.only, '--out', out, ...(args.quick ? ['--quick'] : [])];
  const child = spawnSync(process.execPath, argv, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  if (child.status !== 0) throw new Error(`${script} exited with ${child.status ?? child.signal}`);
  return figuresOf(JSON.parse(readFileSync(out, 'utf8')) as BenchJson);
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const here = resolve('.');
  for (const dir of [args.baseline, here]) {
    if (!existsSync(join(dir, 'tools/bench/dist/index.js')))
      throw new Error(`${dir}: tools/bench/dist/index.js is missing (run npm run build there)`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'sparsify-compare-'));
  const runs = { before: [] as RunFigures[], after: [] as RunFigures[] };
  try {
    for (let round = 0; round < args.rounds; round++) {
      const order = round % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
      for (const side of order) {
        process.stderr.write(`round ${round + 1}/${args.rounds}: ${side === 'before' ? args.baseline : here}…\n`);
        runs[side].push(runBench(side === 'before' ? args.baseline : here, args, join(tmp, `${side}-${round}.json`)));
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const capture = args.writeDocs ? captureSections() : undefined;
  console.log(`== Before and after (medians of ${args.rounds} rounds, alternating) ==`);
  console.log(`before: ${describeCheckout(args.baseline)}`);
  console.log(`after:  ${describeCheckout(here)}`);
  const throughput = pair(
    runs.before.map((r) => r.throughput),
    runs.after.map((r) => r.throughput),
  );
  if (throughput.length) {
    console.log('Training step throughput, samples/s from process CPU time:');
    console.log(
      table(
        ['workload · engine', 'before', 'after', 'after / before'],
        throughput.map(([k, b, a]) => [k, fmt(b, 4), fmt(a, 4), `${fmt(a / b, 3)}×`]),
      ),
    );
  }
  const penalties = pair(
    runs.before.map((r) => r.penalties),
    runs.after.map((r) => r.penalties),
  );
  if (penalties.length) {
    const pct = (ratio: number) => `${((ratio - 1) * 100).toFixed(1)}%`;
    console.log('Penalty overhead (step with penalty / without − 1):');
    console.log(
      table(
        ['workload · backend · penalty', 'before', 'after'],
        penalties.map(([k, b, a]) => [k, pct(b), pct(a)]),
      ),
    );
  }
  if (capture) {
    const load = loadavg()
      .map((v) => v.toFixed(1))
      .join(' ');
    const command = `npm run bench:compare -- --baseline <worktree> ${process.argv
      .slice(2)
      .filter((a, i, all) => a !== '--baseline' && all[i - 1] !== '--baseline')
      .join(' ')}`;
    writeDocs(resolve('docs', 'performance.md'), capture.stop(), {
      date: new Date().toISOString().slice(0, 10),
      cores: cpus().length,
      node: process.versions.node,
      load,
      command,
    });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main();
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
