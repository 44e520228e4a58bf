/**
 * What `selectBackend` needs from the place it runs. The portable entry (`@sparsify/backend` in a
 * browser or any bundler without the `node` condition) uses BROWSER_PLATFORM; the Node entry adds
 * tfjs-node loading, the wasm binaries' location on disk and the threaded-wasm workaround for Node.
 */

/** What tfjs-node(-gpu) runs on, as far as its binding tells. */
export interface NativeRuntime {
  /** `@tensorflow/tfjs-node` or `@tensorflow/tfjs-node-gpu`. */
  readonly package: string;
  /** The TensorFlow C library the addon loaded (`TF_Version`), e.g. `2.9.1`, or `2.21.0` built from pip's wheel. */
  readonly libtensorflow: string;
  /** `CPU`, plus `GPU <name>` when TensorFlow placed ops on a GPU. */
  readonly devices: readonly string[];
  /** tfjs-node-gpu running without a GPU: why, as far as is known. */
  readonly note?: string;
}

/** XNNPACK's pool is pre-created with 8 workers in tfjs-backend-wasm 4.22; more threads than that cannot start. */
export const MAX_WASM_THREADS = 8;

export interface WasmThreadsModule {
  setThreadsCount?: (n: number) => void;
  getThreadsCount?: () => number;
  version_wasm?: string;
}

export interface BackendPlatform {
  /** Activates backend `tensorflow` from the given package; absent where tfjs-node cannot run. */
  readonly loadNative?: (
    specifier: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu',
    importModule: (specifier: string) => Promise<unknown>,
    env: Record<string, string | undefined>,
  ) => Promise<NativeRuntime>;
  /** Points the wasm backend at its `.wasm` binaries before it starts (Node: the installed package). */
  readonly locateWasmBinaries?: (wasm: { setWasmPaths?: (prefix: string) => void }) => void;
  /** What `auto` wasm threads mean here. */
  readonly autoWasmThreads: () => number;
  /** Why more than one wasm thread cannot be had here, or undefined when it can. */
  readonly wasmThreadsUnsupported: (wasm: WasmThreadsModule) => string | undefined;
  /** Runs `start` (which initialises the wasm backend) with `threads` XNNPACK threads. */
  readonly startWasmWithThreads: <T>(wasm: WasmThreadsModule, threads: number, start: () => Promise<T>) => Promise<T>;
}

/**
 * A browser: tfjs-backend-wasm runs its threaded build by itself where SharedArrayBuffer exists, i.e.
 * on a cross-origin isolated page; elsewhere the single-threaded build runs.
 */
export const BROWSER_PLATFORM: BackendPlatform = {
  autoWasmThreads: () => {
    if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) return 1;
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
    return Math.max(1, Math.min(cores, MAX_WASM_THREADS));
  },
  wasmThreadsUnsupported: (wasm) => {
    if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated)
      return 'the page is not cross-origin isolated (no SharedArrayBuffer for the threaded build)';
    if (typeof wasm.setThreadsCount !== 'function') return 'tfjs-backend-wasm has no setThreadsCount';
    return undefined;
  },
  startWasmWithThreads: async (wasm, threads, start) => {
    wasm.setThreadsCount?.(threads);
    const started = await start();
    const running = wasm.getThreadsCount?.() ?? 1;
    if (running !== threads) throw new Error(`tfjs-backend-wasm started ${running} thread(s), not ${threads}`);
    return started;
  },
};
