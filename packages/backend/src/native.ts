import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerTensorflowTrainingKernels } from './kernels/tensorflow.js';
import type { NativeRuntime } from './platform.js';

/**
 * Lines the native library and tfjs print on every load that tell a user nothing actionable: absl's
 * notice that it logs before initialisation, oneDNN's notice (printed at load whatever TF_CPP_MIN_LOG_LEVEL
 * says), the CPU-feature notice, tfjs's platform re-registration.
 */
const LOAD_NOISE: readonly RegExp[] = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^I\d{4} [\d:. ]+\s+\d+ port\.cc:\d+\] oneDNN custom operations are on\./,
  /^I\d{4} [\d:. ]+\s+\d+ cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized/,
  /^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$/,
  /^Platform node has already been set\. Overwriting the platform with node\.$/,
];

/** The captured load output without the known noise (what still reaches stderr). */
export function withoutLoadNoise(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !LOAD_NOISE.some((re) => re.test(line)))
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * Runs `load` with file descriptor 2 pointed at a temporary file, so what native code prints while
 * loading (it writes to fd 2 directly, past process.stderr) can be filtered: known noise dropped, the
 * rest (errors, CUDA warnings) written to stderr afterwards. Node has no dup2: the descriptor is closed
 * and reopened (POSIX gives the lowest free number), and restored from /proc/self/fd (/dev/fd on macOS)
 * in append mode. Where stderr cannot be reopened that way (a socket, Windows), `load` runs unfiltered.
 */
export async function withStderrFiltered<T>(load: () => Promise<T>): Promise<T> {
  const fdDir = process.platform === 'linux' ? '/proc/self/fd' : process.platform === 'darwin' ? '/dev/fd' : undefined;
  let saved: number | undefined;
  try {
    if (fdDir && !fstatSync(2).isSocket()) saved = openSync(`${fdDir}/2`, 'a');
  } catch {
    saved = undefined;
  }
  if (saved === undefined) return load();
  // process.stderr is created on first use, with a type fitting fd 2 then: create it before the swap.
  void process.stderr;
  const dir = mkdtempSync(join(tmpdir(), 'sparsify-load-'));
  const file = join(dir, 'stderr');
  let captured = false;
  try {
    closeSync(2);
    const fd = openSync(file, 'w');
    captured = fd === 2;
    // Another thread took fd 2 in between (it cannot be restored then): leave it, load unfiltered.
    if (!captured) closeSync(fd);
    return await load();
  } finally {
    if (captured) {
      closeSync(2);
      openSync(`${fdDir}/${saved}`, 'a'); // the lowest free descriptor: 2, the original stderr again
    }
    closeSync(saved);
    const rest = captured ? withoutLoadNoise(readFileSync(file, 'utf8')) : '';
    rmSync(dir, { recursive: true, force: true });
    if (rest) writeSync(2, rest);
  }
}

interface NodeBackendInternals {
  binding?: { TF_Version?: string };
  isUsingGpuDevice?: boolean;
}

/** The name nvidia-smi gives the first GPU CUDA exposes (CUDA_VISIBLE_DEVICES honoured), if it answers. */
export function gpuName(
  env: Record<string, string | undefined> = process.env,
  run: (args: string[]) => string | undefined = (args) => {
    const r = spawnSync('nvidia-smi', args, { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 ? r.stdout : undefined;
  },
): string | undefined {
  const first = env.CUDA_VISIBLE_DEVICES?.split(',')[0]?.trim();
  const select = first && /^(\d+|GPU-[\w-]+|MIG-[\w/-]+)$/.test(first) ? ['-i', first] : [];
  const out = run(['--query-gpu=name', '--format=csv,noheader', ...select]);
  return out?.split('\n')[0]?.trim() || undefined;
}

/**
 * Imports tfjs-node or tfjs-node-gpu and activates backend `tensorflow` with the load's stderr noise
 * filtered and sparsify's tensorflow kernels registered (kernels/tensorflow.ts), and says what it runs
 * on. TF_CPP_MIN_LOG_LEVEL defaults to 1 (TensorFlow's INFO lines off, warnings and errors kept) unless
 * the environment sets it; libtensorflow reads it once, at load.
 */
export async function loadNative(
  specifier: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu',
  importModule: (specifier: string) => Promise<unknown>,
  env: Record<string, string | undefined>,
): Promise<NativeRuntime> {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  await withStderrFiltered(async () => {
    await importModule(specifier);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('backend "tensorflow" failed to initialise');
  });
  registerTensorflowTrainingKernels();
  const backend = tf.backend() as unknown as NodeBackendInternals;
  const libtensorflow = backend.binding?.TF_Version ?? 'unknown';
  if (backend.isUsingGpuDevice) {
    const name = gpuName(env);
    return { package: specifier, libtensorflow, devices: ['CPU', name ? `GPU ${name}` : 'GPU'] };
  }
  return {
    package: specifier,
    libtensorflow,
    devices: ['CPU'],
    ...(specifier === '@tensorflow/tfjs-node-gpu'
      ? { note: 'no GPU in use: TensorFlow found none it can run on (libtensorflow 2.9.1 needs CUDA 11.2 and cuDNN 8.1)' }
      : {}),
  };
}
