import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../src/queue/connection.js';
import { readJobData, sweepId } from '../src/queue/jobs.js';
import { takeOverLostLock } from '../src/queue/lost-lock.js';
import { main } from '../src/main.js';
import { BIN, cleanup, ensureBin, memoryIO, runBin, tempDir } from './helpers.js';
import { redisCommand, redisServerBinary, startRedis, type TestRedis } from './redis.js';

describe('queue sweep: ids and URLs', () => {
  it('checks the Redis URL before connecting', () => {
    expect(parseRedisUrl('redis://10.0.0.5:6380/2')).toMatchObject({ host: '10.0.0.5', port: 6380, db: 2 });
    expect(parseRedisUrl('rediss://u:p%40ss@h')).toMatchObject({ host: 'h', port: 6379, db: 0, username: 'u', password: 'p@ss', tls: {} });
    expect(() => parseRedisUrl('localhost:6379')).toThrow(/must start with redis:\/\/ or rediss:\/\/; got "localhost:6379"/);
    expect(() => parseRedisUrl('redis://h:1/99')).toThrow(/database .* integer in \[0, 15\]; got "99"/);
    expect(() => parseRedisUrl('redis://h:1/x')).toThrow(/got "x"/);
  });

  it('bad queue flags exit 2 with a message, before anything connects', async () => {
    const dir = tempDir();
    const grid = join(dir, 'grid.json');
    writeFileSync(grid, JSON.stringify({ methods: ['magnitude'], sparsities: [0.5] }));
    const cases: [string[], RegExp][] = [
      [['sweep', grid, '--detach'], /--detach need --queue redis:\/\/host:port/],
      [['sweep', grid, '--queue', 'redis://127.0.0.1:1', '--jobs', '2'], /--jobs is for a local sweep/],
      [['sweep', grid, '--queue', 'localhost:6379'], /--queue must start with redis:\/\/ or rediss:\/\/; got "localhost:6379"/],
      [['sweep', grid, '--queue', 'redis://127.0.0.1:1', '--detach', '--status'], /--detach submits and --status only looks/],
      [['sweep', grid, '--queue', 'redis://127.0.0.1:1', '--attempts', '0'], /--attempts must be an integer ≥ 1; got 0/],
      [['worker'], /sparsify worker needs --queue/],
      [['worker', '--queue', 'redis://127.0.0.1:1', '--concurrency', '0'], /--concurrency must be an integer ≥ 1; got 0/],
      [
        ['worker', '--queue', 'redis://127.0.0.1:1', '--lock-duration', '10'],
        /--lock-duration must be an integer number of milliseconds ≥ 1000; got 10/,
      ],
    ];
    for (const [args, message] of cases) {
      const io = memoryIO();
      expect(await main(args, io), args.join(' ')).toBe(2);
      expect(io.stderr).toMatch(message);
    }
    expect(existsSync(join(dir, 'grid'))).toBe(false);
    cleanup();
  });

  it('gives the same grid the same sweep id whatever the key order, and a changed grid a new one', () => {
    const config = { model: 'lenet-300-100', lr: 0.1, options: { a: 1, b: 2 } } as never;
    const reordered = { options: { b: 2, a: 1 }, lr: 0.1, model: 'lenet-300-100' } as never;
    const id = sweepId('grid', [{ name: 'x', label: 'x', config }]);
    expect(id).toMatch(/^grid-[0-9a-f]{12}$/);
    expect(sweepId('grid', [{ name: 'x', label: 'x', config: reordered }])).toBe(id);
    expect(sweepId('grid', [{ name: 'x', label: 'x', config: { ...(config as object), lr: 0.2 } as never }])).not.toBe(id);
    expect(sweepId('../../etc', [])).toMatch(/^etc-/);
  });

  it('refuses job data that would leave the runs dir or is not a run', () => {
    expect(() => readJobData({ version: 1, sweep: '..', name: 'a', label: 'a', config: {} }, '1')).toThrow(
      /sweep must be a directory name; got "\.\."/,
    );
    expect(() => readJobData({ version: 1, sweep: 's', name: '../a', label: 'a', config: {} }, '1')).toThrow(
      /run name "\.\.\/a" cannot be a directory name/,
    );
    expect(() => readJobData({ version: 2 }, '1')).toThrow(/not a sparsify sweep job/);
  });

  it("takes over a lost machine's run-directory lock only once its heartbeat is stale", () => {
    const dir = join(tempDir(), 'run');
    mkdirSync(dir);
    const lock = join(dir, '.sparsify.lock');
    const owner = { pid: 4242, host: 'lost-machine', startedAt: '2026-01-01T00:00:00.000Z' };
    writeFileSync(lock, JSON.stringify(owner));
    expect(takeOverLostLock(dir, 90_000)).toMatchObject({ taken: false, owner });
    expect(existsSync(lock)).toBe(true);
    const old = new Date(Date.now() - 100_000);
    utimesSync(lock, old, old);
    expect(takeOverLostLock(dir, 90_000)).toMatchObject({ taken: true, owner });
    expect(existsSync(lock)).toBe(false);
    // This host's locks are left to the run's own check (by PID).
    writeFileSync(lock, JSON.stringify({ ...owner, host: hostname() }));
    utimesSync(lock, old, old);
    expect(takeOverLostLock(dir, 90_000)).toEqual({ taken: false });
    expect(existsSync(lock)).toBe(true);
    cleanup();
  });
});

interface Proc {
  child: ChildProcess;
  out: () => string;
  /** Resolves with the first stdout line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

function start(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout!.on('data', (c: Buffer) => {
    const before = out.length;
    out += c.toString();
    const start = out.lastIndexOf('\n', before - 1) + 1;
    for (const line of out.slice(start).split('\n').slice(0, -1)) {
      for (const w of waiters.splice(0)) {
        if (w.pattern.test(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => void (out += c.toString().replace(/=+\nHi, looks like[\s\S]*?=+\n/, '')));
  return {
    child,
    out: () => out,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const hit = out.split('\n').find((l) => pattern.test(l));
        if (hit) return resolve(hit);
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      }),
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
}

/** sweep.json rows without what depends on the machine's speed. */
function table(file: string) {
  const rows = JSON.parse(readFileSync(file, 'utf8')).rows as Record<string, unknown>[];
  return rows.map(({ samplesPerSecond: _s, seconds: _t, ...rest }) => rest).sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

const GRID = {
  model: 'lenet-300-100',
  dataset: 'synthetic:64',
  limit: 256,
  backend: 'cpu',
  batchSize: 32,
  lr: 0.01,
  epochs: 3,
  finetuneEpochs: 1,
  methods: ['magnitude', { name: 'gmp', set: { frequency: 1 } }],
  sparsities: [0.8],
  seeds: [0, 1],
};

const binary = redisServerBinary();
if (!binary) {
  console.warn('\n!!! queue tests SKIPPED: redis-server is not installed (apt-get install -y redis-server; .ci/run installs it) !!!\n');
}

describe.skipIf(!binary)('queue sweep on a real Redis', () => {
  let redis: TestRedis;
  const workers: Proc[] = [];
  beforeAll(async () => {
    ensureBin();
    redis = await startRedis(tempDir('sparsify-redis-'));
  });
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await redis?.stop();
    cleanup();
  });

  const worker = (cwd: string, extra: string[] = []) => {
    const w = start(['worker', '--queue', redis.url, '--runs-dir', 'shared-runs', '--lock-duration', '2000', ...extra], cwd);
    workers.push(w);
    return w;
  };

  it('two workers, one killed mid-job: every job finishes once, and the table equals a local sweep', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'grid.json'), JSON.stringify(GRID));
    const a = worker(cwd);
    const b = worker(cwd);
    await Promise.all([a.waitFor(/^worker /), b.waitFor(/^worker /)]);
    const sweep = start(['sweep', 'grid.json', '--queue', redis.url, '--out', 'queued'], cwd);
    // Worker a is mid-job once its run has finished an epoch: then the machine is "lost".
    const line = await a.waitFor(/^\[[^\]]+\] epoch 1:/);
    const killed = line.slice(1, line.indexOf(']'));
    a.child.kill('SIGKILL');
    await a.exited;
    // Redis restarts mid-sweep, once a job has finished: that result stays, and the sweep goes on.
    await sweep.waitFor(/^sweep: 1\/4 done/);
    await redis.restart();
    const result = await sweep.exited;
    const out = sweep.out();
    console.log(`--- worker a (SIGKILL after "${line}") ---\n${a.out()}--- worker b ---\n${b.out()}--- coordinator ---\n${out}`);
    expect(result.code).toBe(0);
    // The killed worker's job went to b, which resumed it from the checkpoint in the shared runs dir.
    expect(b.out()).toContain(`[${killed}] resuming`);
    expect(out).toMatch(new RegExp(`\\[${killed}\\] done on [^:]+:${b.child.pid}: .*resumed from epoch \\d`));
    // Every job finished once: one "completed" over both workers, one epoch each in its history.
    const runs = new Map<string, { history: { loss: number }[] }>();
    for (const name of ['magnitude-s80-seed0', 'magnitude-s80-seed1', 'gmp-s80-seed0', 'gmp-s80-seed1']) {
      expect((a.out() + b.out()).match(new RegExp(`\\[${name}\\] completed`, 'g'))?.length, name).toBe(1);
      const report = JSON.parse(
        readFileSync(
          join(
            cwd,
            'shared-runs',
            readFileSync(join(cwd, 'queued', 'queue.json'), 'utf8').match(/"sweep": "([^"]+)"/)![1],
            name,
            'report.json',
          ),
          'utf8',
        ),
      );
      expect(
        report.history.map((h: { epoch: number }) => h.epoch),
        name,
      ).toEqual([0, 1, 2, 3]);
      runs.set(name, report);
    }

    // Submitting again adds nothing and gives the same summary; --status collects it too.
    const again = await runBin(['sweep', 'grid.json', '--queue', redis.url, '--out', 'queued'], cwd);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/0 added, 4 already queued or finished/);
    const status = await runBin(['sweep', 'grid.json', '--queue', redis.url, '--out', 'queued', '--status'], cwd);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/4 of 4 runs finished/);

    // The same grid locally, same seeds: the same table.
    const local = await runBin(['sweep', 'grid.json', '--out', 'local', '--jobs', '2'], cwd);
    expect(local.code).toBe(0);
    console.log(`--- local sweep ---\n${local.stdout}`);
    expect(table(join(cwd, 'queued', 'sweep.json'))).toEqual(table(join(cwd, 'local', 'sweep.json')));
    // To the bit, the killed-and-resumed run included: every epoch's loss equals the local run's.
    for (const [name, report] of runs) {
      const localReport = JSON.parse(readFileSync(join(cwd, 'local', name, 'report.json'), 'utf8'));
      expect(
        report.history.map((h) => h.loss),
        name,
      ).toEqual(localReport.history.map((h: { loss: number }) => h.loss));
    }

    // Redis restarts (append-only file): the finished results are still there.
    await redis.restart();
    const afterRestart = await runBin(['sweep', 'grid.json', '--queue', redis.url, '--out', 'queued', '--status'], cwd);
    expect(afterRestart.code).toBe(0);
    expect(afterRestart.stdout).toMatch(/4 of 4 runs finished/);
    // Even with Redis's data gone, the coordinator's queue.json keeps them.
    expect(await redisCommand(redis.port, 'FLUSHALL')).toBe('+OK');
    const afterFlush = await runBin(['sweep', 'grid.json', '--queue', redis.url, '--out', 'queued', '--status'], cwd);
    expect(afterFlush.stdout).toMatch(/4 of 4 runs finished/);
    expect(table(join(cwd, 'queued', 'sweep.json'))).toEqual(table(join(cwd, 'local', 'sweep.json')));
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(143);
  }, 240_000);

  it('SIGTERM on a worker: the job checkpoints, goes back to the queue, and another worker resumes it', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'one.json'), JSON.stringify({ ...GRID, epochs: 4, methods: ['magnitude'], seeds: [7] }));
    const submitted = await runBin(['sweep', 'one.json', '--queue', redis.url, '--detach'], cwd);
    expect(submitted.code).toBe(0);
    expect(submitted.stdout).toMatch(/1 added[\s\S]*detached/);
    const a = worker(cwd);
    await a.waitFor(/^\[magnitude-s80-seed7\] epoch 1:/);
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(143);
    expect(a.out()).toMatch(/stopping: 1 running job\(s\) checkpoint and go back to the queue/);
    const status = await runBin(['sweep', 'one.json', '--queue', redis.url, '--status'], cwd);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/magnitude-s80-seed7\s+waiting/);
    // As if a worker on a lost machine still held the run directory: b waits for its heartbeat to go stale, then takes it over.
    const [sweepDir] = readdirSync(join(cwd, 'shared-runs'));
    writeFileSync(
      join(cwd, 'shared-runs', sweepDir, 'magnitude-s80-seed7', '.sparsify.lock'),
      JSON.stringify({ pid: 4242, host: 'lost-machine', startedAt: new Date().toISOString() }),
    );
    const b = worker(cwd);
    const follow = await runBin(['sweep', 'one.json', '--queue', redis.url], cwd);
    expect(follow.code).toBe(0);
    console.log(`--- SIGTERM: worker a ---\n${a.out()}--- worker b ---\n${b.out()}`);
    expect(b.out()).toMatch(
      /\[magnitude-s80-seed7\] run directory held by lost-machine:4242 \(touched \d+ s ago\): back in the queue for \d+ s/,
    );
    expect(b.out()).toMatch(
      /\[magnitude-s80-seed7\] took over the run directory from lost worker lost-machine:4242 \(silent for [6-9] s\)/,
    );
    expect(b.out()).toContain('[magnitude-s80-seed7] resuming');
    expect(b.out()).toMatch(/attempt 1 of 3/);
    b.child.kill('SIGTERM');
    await b.exited;
  }, 120_000);

  it('a run killed under its worker (say, by the OOM killer) is retried after the backoff and resumes', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'oom.json'), JSON.stringify({ ...GRID, methods: ['magnitude'], seeds: [3] }));
    const w = worker(cwd, ['--json']);
    const sweep = start(['sweep', 'oom.json', '--queue', redis.url, '--attempts', '2', '--backoff', '500'], cwd);
    const started = JSON.parse(await w.waitFor(/"event":"worker","run":"magnitude-s80-seed3"/));
    await w.waitFor(/"event":"epoch"/);
    process.kill(started.pid, 'SIGKILL');
    expect((await sweep.exited).code).toBe(0);
    const events = w
      .out()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(events.find((e) => e.event === 'job-failed')).toMatchObject({ final: false, message: 'killed by SIGKILL' });
    expect(events.filter((e) => e.event === 'job').map((e) => e.attempt)).toEqual([1, 2]);
    expect(events.some((e) => e.event === 'resume')).toBe(true);
    expect(sweep.out()).toMatch(/magnitude-s80-seed3\] done on .*resumed from epoch \d/);
    w.child.kill('SIGTERM');
    await w.exited;
  }, 120_000);

  it('a job that fails deterministically fails once, with its message in the summary', async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'bad.json'),
      JSON.stringify({
        ...GRID,
        epochs: 1,
        finetuneEpochs: 0,
        methods: [
          'none',
          { name: 'magnitude', label: 'broken', dataDir: join(cwd, 'no-such-dir'), dataset: 'mnist' },
          { name: 'magnitude', label: 'diverged', lr: 1e12 },
        ],
        seeds: [0],
      }),
    );
    const w = worker(cwd);
    const r = await runBin(['sweep', 'bad.json', '--queue', redis.url, '--attempts', '3', '--backoff', '100'], cwd);
    w.child.kill('SIGTERM');
    await w.exited;
    console.log(`--- deterministic failure: coordinator ---\n${r.stdout}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\[broken-s80-seed0\] failed after 1 attempt\(s\): .*no-such-dir/);
    expect(r.stdout).toMatch(/failed:\n {2}broken-s80-seed0: failed after 1 attempt\(s\)/);
    expect(r.stdout).toMatch(/\[diverged-s80-seed0\] failed after 1 attempt\(s\): .*(NaN|Inf|non-finite)/i);
    expect(r.stdout).toMatch(/1 of 3 runs finished, 2 failed/);
    expect(existsSync(join(cwd, 'bad', 'sweep.json'))).toBe(true);
  }, 120_000);
});
