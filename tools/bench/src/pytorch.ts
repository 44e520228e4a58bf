import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkloadName } from './models.js';

/**
 * PyTorch on this machine, in the same run: tools/bench/pytorch/step.py as a child process, asked for
 * blocks of training steps like the wasm children (threads.ts), so that "× PyTorch" compares steps
 * measured minutes apart on the same machine instead of figures from another day. Optional: without a
 * python whose torch imports, the bench says why and keeps the recorded PyTorch 1.13 figures
 * (docs/performance.md, "Reference figures").
 */

/** The python that runs it: `SPARSIFY_BENCH_PYTHON`, else `python3`. */
export const benchPython = (): string => process.env.SPARSIFY_BENCH_PYTHON || 'python3';

export interface BlockRequest {
  workload: WorkloadName;
  warmup: number;
  steps: number;
}
/**
 * `cpuMs`: each step's process CPU time (a single-threaded engine's robust clock on a loaded machine).
 * `maxRssMB`: the process's peak resident memory so far (a fresh process per workload: that workload's peak).
 */
export type BlockReply = { wallMs: number[]; cpuMs?: number[]; maxRssMB?: number } | { error: string };

export interface PyTorchChild {
  /** e.g. `PyTorch 2.13.0+cpu` */
  readonly label: string;
  readonly threads: number;
  /** Trainable parameters of each workload's PyTorch model (pytorch/models.py), to check the mirror. */
  readonly params: Partial<Record<WorkloadName, number>>;
  ask(request: BlockRequest): Promise<BlockReply>;
  close(): void;
}

/** Starts the PyTorch child (`threads`: torch.set_num_threads; default the machine's cores), or says why it cannot run. */
export async function startPyTorch(python = benchPython(), threads?: number): Promise<PyTorchChild | { error: string }> {
  const script = fileURLToPath(new URL('../pytorch/step.py', import.meta.url));
  const env = threads ? { ...process.env, SPARSIFY_BENCH_TORCH_THREADS: String(threads) } : process.env;
  const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const lines = createInterface({ input: child.stdout! });
  const pending: ((line: string) => void)[] = [];
  const early: string[] = [];
  lines.on('line', (line) => (pending.length > 0 ? pending.shift()!(line) : early.push(line)));
  const next = () =>
    new Promise<string>((resolve, reject) => {
      if (early.length > 0) return resolve(early.shift()!);
      // 'close', not 'exit': it comes after the last line of output has been read
      const onExit = (code: number | null) => reject(new Error(`${python} exited (code ${code})`));
      child.once('close', onExit);
      child.once('error', reject);
      pending.push((line) => {
        child.off('close', onExit);
        child.off('error', reject);
        resolve(line);
      });
    });
  try {
    const hello = JSON.parse(await next()) as {
      ready?: boolean;
      torch?: string;
      threads?: number;
      params?: PyTorchChild['params'];
      error?: string;
    };
    if (!hello.ready) throw new Error(hello.error ?? 'no ready line');
    return {
      label: `PyTorch ${hello.torch}`,
      threads: hello.threads ?? 1,
      params: hello.params ?? {},
      ask: async (request) => {
        child.stdin!.write(`${JSON.stringify(request)}\n`);
        return JSON.parse(await next()) as BlockReply;
      },
      close: () => child.kill(),
    };
  } catch (e) {
    child.kill();
    return { error: `${python} ${script}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
