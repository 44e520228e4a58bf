// The browser inference bench's page (tools/scripts/browser-inference.mjs builds it with esbuild and
// drives it in Chromium): one exported model (served at /model/) on each backend four ways — dense
// (LayersModel.predict), sparse (toSparseModel), shrunk (shrink's model, its inference plan) and shrunk
// through plain LayersModel.predict (what a page that loads the shrunk files with tf.loadLayersModel
// runs) — timed interleaved, minimum over rounds, each call's output read back to the host.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type BackendPreference, selectBackend } from '@sparsify/backend';
import { shrink, toSparseModel } from '@sparsify/layers';

export interface InferenceRow {
  backend: string;
  batch: number;
  variant: 'dense' | 'sparse' | 'shrunk' | 'shrunk-predict';
  minMs: number;
  medianMs: number;
  /** Largest |output − dense output| on the timed batch. */
  maxDiff: number;
}

export interface InferenceResult {
  rows: InferenceRow[];
  /** The WebGL renderer (UNMASKED_RENDERER_WEBGL), to say whether webgl ran on a GPU or in software. */
  renderer?: string;
  kept: string;
  errors: string[];
}

type Predictor = { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] };

function renderer(): string | undefined {
  const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
  const info = gl?.getExtension('WEBGL_debug_renderer_info');
  return gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : undefined;
}

async function activate(backend: string): Promise<void> {
  if (backend === 'webgl') {
    if (!(await tf.setBackend('webgl'))) throw new Error('backend webgl failed to initialise');
  } else {
    await selectBackend({ prefer: backend as BackendPreference, env: {} });
  }
  await tf.ready();
}

/**
 * ms per call of each predictor on its input `xs[k]`: `rounds` rounds, each a run of every predictor,
 * calls sized to ≈ `roundMs`.
 */
function timeInterleaved(predictors: Predictor[], xs: tf.Tensor[], rounds: number, roundMs: number): { min: number; median: number }[] {
  const call = (k: number) => {
    const y = predictors[k].predict(xs[k]) as tf.Tensor;
    y.dataSync();
    y.dispose();
  };
  const calls = predictors.map((_, k) => {
    for (let i = 0; i < 5; i++) call(k); // warm-up: shader compilation on webgl
    const t0 = performance.now();
    call(k);
    return Math.max(1, Math.min(500, Math.round(roundMs / Math.max(performance.now() - t0, 0.005))));
  });
  const times = predictors.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    predictors.forEach((_, k) => {
      const t0 = performance.now();
      for (let i = 0; i < calls[k]; i++) call(k);
      times[k].push((performance.now() - t0) / calls[k]);
    });
  }
  return times.map((t) => {
    const s = [...t].sort((a, b) => a - b);
    return { min: s[0], median: s[Math.floor(s.length / 2)] };
  });
}

async function run(backends: string[], batches: number[], rounds: number, roundMs: number): Promise<InferenceResult> {
  setWasmPaths('/wasm/');
  const result: InferenceResult = { rows: [], kept: '', errors: [] };
  for (const backend of backends) {
    try {
      await activate(backend);
      if (backend === 'webgl') result.renderer = renderer();
      const dense = await tf.loadLayersModel('/model/model.json');
      const sparse = await toSparseModel(dense);
      const shrunk = await shrink(dense, { warn: null });
      const shrunkPredict = await shrink(dense, { warn: null, plan: false });
      result.kept = shrunk.layers
        .filter((l) => l.getClassName() === 'Dense')
        .map(
          (l) =>
            `${l.name} ${(l.getConfig() as { units: number }).units}/${(dense.getLayer(l.name).getConfig() as { units: number }).units}`,
        )
        .join(', ');
      const variants: [InferenceRow['variant'], Predictor][] = [
        ['dense', dense],
        ['sparse', sparse],
        ['shrunk', shrunk],
        ['shrunk-predict', shrunkPredict],
      ];
      for (const batch of batches) {
        // One copy of the input per variant: on webgl the first op to use a tensor fixes its texture's layout
        // (LayersModel.predict slices its input, which uploads it unpacked; a packed program then packs it
        // again at every call), and one variant's layout must not be another's cost.
        const x = tf.randomNormal([batch, ...(dense.inputs[0].shape.slice(1) as number[])], 0, 1, 'float32', 1);
        const xs = variants.map(() => tf.tensor(x.dataSync(), x.shape));
        const want = dense.predict(xs[0]) as tf.Tensor;
        const diffs = variants.map(([, p], k) => tf.tidy(() => tf.max(tf.abs(tf.sub(p.predict(xs[k]) as tf.Tensor, want))).dataSync()[0]));
        const times = timeInterleaved(
          variants.map(([, p]) => p),
          xs,
          rounds,
          roundMs,
        );
        variants.forEach(([variant], k) =>
          result.rows.push({ backend, batch, variant, minMs: times[k].min, medianMs: times[k].median, maxDiff: diffs[k] }),
        );
        tf.dispose([x, ...xs, want]);
      }
      [dense, shrunk, shrunkPredict, sparse].forEach((m) => m.dispose());
    } catch (error) {
      result.errors.push(`${backend}: ${(error as Error).message}`);
    }
  }
  return result;
}

(globalThis as unknown as { sparsifyInference: unknown }).sparsifyInference = { run };
