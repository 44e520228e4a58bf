import * as tf from '@tensorflow/tfjs';
import { registerSparsifyKernels, unregisterSparsifyKernels } from './accelerate/index.js';
import { registerWasmTrainingKernels } from './kernels/index.js';
import { type BackendPlatform, MAX_WASM_THREADS, type NativeRuntime, type WasmThreadsModule } from './platform.js';

/** What a caller may ask for. `auto` tries tfjs-node-gpu → tfjs-node → wasm → cpu. */
export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** The environment variable that overrides `prefer` (an explicit option still wins over it). */
export const BACKEND_ENV_VAR = 'SPARSIFY_BACKEND';

/** The environment variable that sets `wasmThreads` (an explicit option still wins over it). */
export const WASM_THREADS_ENV_VAR = 'SPARSIFY_WASM_THREADS';

export interface BackendAttempt {
  readonly candidate: Exclude<BackendPreference, 'auto'>;
  readonly ok: boolean;
  /** Why it was skipped or failed (module missing, init failed…). */
  readonly detail: string;
}

export interface BackendSelection {
  /** The tfjs backend name now active: `tensorflow`, `wasm` or `cpu`. */
  readonly backend: string;
  /** The candidate that won (`tensorflow-gpu` and `tensorflow` both run as backend `tensorflow`). */
  readonly candidate: Exclude<BackendPreference, 'auto'>;
  /** One line: what was chosen and why. */
  readonly reason: string;
  /** On wasm: the XNNPACK threads it runs with (1 = the single-threaded build); else undefined. */
  readonly wasmThreads?: number;
  /** On wasm with `auto` threads: why it runs single-threaded on a multi-core machine, if it does. */
  readonly wasmThreadsNote?: string;
  /** On tensorflow: the package, the libtensorflow version and the devices it runs on. */
  readonly native?: NativeRuntime;
  readonly tried: readonly BackendAttempt[];
}

export interface SelectBackendOptions {
  /** Explicit choice; default: the SPARSIFY_BACKEND environment variable, else `auto`. */
  prefer?: BackendPreference;
  /** Environment to read SPARSIFY_BACKEND from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Called with the one-line reason once a backend is active (default: none). */
  log?: (message: string) => void;
  /**
   * Register sparsify's kernels: on wasm the training kernels tfjs-backend-wasm lacks (conv and
   * depthwise gradients, UnsortedSegmentSum) and its fast matmul paths, and on cpu and wasm the loop
   * kernels of sparsify's ops (`registerSparsifyKernels`). Default true.
   */
  trainingKernels?: boolean;
  /**
   * On wasm in Node: XNNPACK threads, the caller included (1–8; 1 = the single-threaded build), or
   * `auto`: one per core up to 8, falling back to 1 where the threaded build cannot start. Default:
   * the SPARSIFY_WASM_THREADS environment variable, else `auto`. Fixed when wasm first starts in a
   * process.
   */
  wasmThreads?: number | 'auto';
  /** Module loader, replaceable in tests to simulate missing optional packages. */
  importModule?: (specifier: string) => Promise<unknown>;
}

export class BackendSelectionError extends Error {
  override readonly name = 'BackendSelectionError';
}

const AUTO_ORDER: readonly Exclude<BackendPreference, 'auto'>[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

// The wasm backend by a literal specifier, so that bundlers see it (and split it off); the native
// packages by a computed one, so that they never try to bundle them.
const defaultImport = (specifier: string): Promise<unknown> =>
  specifier === '@tensorflow/tfjs-backend-wasm' ? import('@tensorflow/tfjs-backend-wasm') : import(specifier);

function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/Cannot find (module|package)|ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND/.test(message)) return 'not installed';
  return message.split('\n')[0];
}

/** A thread count that was asked for and cannot be had: an error, never a quiet fallback. */
class WasmThreadsError extends BackendSelectionError {}

type ThreadsRequest = { auto: true } | { auto: false; threads: number };

function parseWasmThreads(options: SelectBackendOptions, env: Record<string, string | undefined>): ThreadsRequest {
  const raw = options.wasmThreads ?? env[WASM_THREADS_ENV_VAR];
  if (raw === undefined || raw === '' || raw === 'auto') return { auto: true };
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    const source = options.wasmThreads !== undefined ? 'wasmThreads' : WASM_THREADS_ENV_VAR;
    throw new BackendSelectionError(`${source} must be "auto" or an integer from 1 to ${MAX_WASM_THREADS}; got ${JSON.stringify(raw)}`);
  }
  return { auto: false, threads };
}

const startPlain = async (): Promise<void> => {
  if (!(await tf.setBackend('wasm'))) throw new Error('backend "wasm" failed to initialise');
};

/**
 * Starts the wasm backend, on the threaded build when more than one thread is wanted. An explicit
 * count that cannot be had is an error; `auto` falls back to the single-threaded build and says why.
 */
async function startWasm(
  platform: BackendPlatform,
  wasm: WasmThreadsModule,
  request: ThreadsRequest,
): Promise<{ threads: number; note?: string }> {
  const running = () => wasm.getThreadsCount?.() ?? 1;
  if (tf.engine().registry.wasm !== undefined) {
    await startPlain();
    if (!request.auto && running() !== request.threads) {
      throw new WasmThreadsError(
        `${request.threads} wasm threads were asked for, but the wasm backend already runs with ${running()} in this process (threads are fixed when it first starts)`,
      );
    }
    return { threads: running() };
  }
  const wanted = request.auto ? platform.autoWasmThreads() : request.threads;
  if (wanted === 1) {
    wasm.setThreadsCount?.(1);
    await startPlain();
    return { threads: running() };
  }
  const unsupported = platform.wasmThreadsUnsupported(wasm);
  if (unsupported && !request.auto) throw new WasmThreadsError(`${wanted} wasm threads were asked for but ${unsupported}; ask for 1`);
  let note = unsupported;
  if (!unsupported) {
    try {
      await platform.startWasmWithThreads(wasm, wanted, startPlain);
    } catch (error) {
      if (!request.auto)
        throw new WasmThreadsError(`${wanted} wasm threads were asked for but the threaded build failed to start: ${describeError(error)}`);
      note = `the threaded build failed to start: ${describeError(error)}`;
    }
  }
  if (note !== undefined) {
    wasm.setThreadsCount?.(1);
    await startPlain();
    return { threads: running(), note };
  }
  if (running() !== wanted) throw new WasmThreadsError(`${wanted} wasm threads were asked for, but the backend started with ${running()}`);
  return { threads: wanted };
}

async function activate(
  platform: BackendPlatform,
  candidate: Exclude<BackendPreference, 'auto'>,
  importModule: (specifier: string) => Promise<unknown>,
  trainingKernels: boolean,
  wasmThreads: ThreadsRequest,
  env: Record<string, string | undefined>,
): Promise<{ backend: string; wasmThreads?: number; wasmThreadsNote?: string; native?: NativeRuntime }> {
  switch (candidate) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      if (platform.loadNative === undefined) throw new Error('tfjs-node runs only in Node');
      const native = await platform.loadNative(
        candidate === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node',
        importModule,
        env,
      );
      return { backend: 'tensorflow', native };
    }
    case 'wasm': {
      const wasm = (await importModule('@tensorflow/tfjs-backend-wasm')) as WasmThreadsModule & { setWasmPaths?: (p: string) => void };
      if (tf.engine().registryFactory.wasm === undefined) throw new Error('the package did not register backend "wasm"');
      platform.locateWasmBinaries?.(wasm);
      if (trainingKernels) registerWasmTrainingKernels();
      const { threads, note } = await startWasm(platform, wasm, wasmThreads);
      return { backend: 'wasm', wasmThreads: threads, ...(note !== undefined ? { wasmThreadsNote: note } : {}) };
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('backend "cpu" failed to initialise');
      return { backend: 'cpu' };
  }
}

/** `tfjs-node-gpu, libtensorflow 2.9.1; CPU, GPU <name>` (the package only when it is the GPU one). */
export function describeNative(native: NativeRuntime): string {
  const gpuPackage = native.package.endsWith('-gpu') ? 'tfjs-node-gpu, ' : '';
  return `${gpuPackage}libtensorflow ${native.libtensorflow}; ${native.devices.join(', ')}${native.note ? `; ${native.note}` : ''}`;
}

/**
 * tfjs's cpu backend prints an "install tfjs-node" banner on its first use in Node. The selection's
 * reason already says which backends are installed, so the banner is marked as shown.
 */
function silenceInstallHint(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}

/**
 * `selectBackend` on a platform: the Node entry passes tfjs-node loading and its wasm threads
 * workaround, the portable entry what a browser has (see platform.ts).
 */
export async function selectBackendOn(platform: BackendPlatform, options: SelectBackendOptions): Promise<BackendSelection> {
  const env = options.env ?? (typeof process !== 'undefined' ? process.env : {});
  const fromEnv = env[BACKEND_ENV_VAR];
  const prefer = options.prefer ?? ((fromEnv as BackendPreference | undefined) || 'auto');
  if (!BACKEND_PREFERENCES.includes(prefer)) {
    const source = options.prefer !== undefined ? 'prefer' : BACKEND_ENV_VAR;
    throw new BackendSelectionError(`${source} must be one of ${BACKEND_PREFERENCES.join(', ')}; got ${JSON.stringify(prefer)}`);
  }
  const wasmThreads = parseWasmThreads(options, env);
  const importModule = options.importModule ?? defaultImport;
  if (options.trainingKernels ?? true) registerSparsifyKernels();
  const candidates = prefer === 'auto' ? AUTO_ORDER : [prefer];
  const tried: BackendAttempt[] = [];
  for (const candidate of candidates) {
    try {
      const {
        backend,
        wasmThreads: threads,
        wasmThreadsNote,
        native,
      } = await activate(platform, candidate, importModule, options.trainingKernels ?? true, wasmThreads, env);
      await tf.ready();
      silenceInstallHint();
      // Tensors on a GPU: the host loops' copies would cost more than the plain ops there.
      if (native?.devices.some((d) => d.startsWith('GPU'))) unregisterSparsifyKernels('tensorflow');
      tried.push({ candidate, ok: true, detail: 'active' });
      const skipped = tried.filter((t) => !t.ok).map((t) => `${t.candidate}: ${t.detail}`);
      const why =
        prefer === 'auto'
          ? `auto${skipped.length ? ` (skipped ${skipped.join('; ')})` : ''}`
          : options.prefer !== undefined
            ? 'explicit choice'
            : `${BACKEND_ENV_VAR}=${prefer}`;
      const detail =
        native !== undefined
          ? ` (${describeNative(native)})`
          : threads !== undefined && threads > 1
            ? ` (${threads} threads)`
            : wasmThreadsNote !== undefined
              ? ` (1 thread: ${wasmThreadsNote})`
              : '';
      const reason = `backend ${backend}${detail}: ${why}`;
      options.log?.(reason);
      return {
        backend,
        candidate,
        reason,
        tried,
        ...(threads !== undefined ? { wasmThreads: threads } : {}),
        ...(wasmThreadsNote !== undefined ? { wasmThreadsNote } : {}),
        ...(native !== undefined ? { native } : {}),
      };
    } catch (error) {
      if (error instanceof WasmThreadsError) throw error;
      tried.push({ candidate, ok: false, detail: describeError(error) });
    }
  }
  const summary = tried.map((t) => `${t.candidate}: ${t.detail}`).join('; ');
  throw new BackendSelectionError(
    prefer === 'auto'
      ? `no TensorFlow.js backend could be activated (${summary})`
      : `backend ${JSON.stringify(prefer)} was asked for but is unavailable (${summary}); choose another with prefer or ${BACKEND_ENV_VAR}, or "auto"`,
  );
}
