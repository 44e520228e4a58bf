// The demo page's script (docs/demo; `npm run demo` builds it into docs/demo/dist). It uses only the
// packages' portable entries: everything runs in the page.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { lasso } from '@sparsify/adaptive-lasso';
import { selectBackend } from '@sparsify/backend';
import { type Penalty, disposeOptimizer } from '@sparsify/core';
import { bundledMnistFromDigits } from '@sparsify/datasets';
import { halo } from '@sparsify/halo';
import { hoyerSquare } from '@sparsify/hoyer';
import { captureArtifacts, encodeSparse, fitWithPenalties, stripPruning } from '@sparsify/layers';
import { lenet300100, lenet5 } from '@sparsify/models';
import { createReport, layerSparsityChart, lineChart, renderReport } from '@sparsify/reporting';
import { Pruner, polynomialDecay } from '@sparsify/schedules';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const value = (id: string) => $<HTMLInputElement>(id).value;

const PENALTIES: Record<string, () => Penalty> = {
  'hoyer-square': () => hoyerSquare({ strength: 1e-4 }),
  lasso: () => lasso({ strength: 2e-4 }),
  halo: () => halo({ xi: 2e-4, psi: 0 }),
};

let digits: ReturnType<typeof bundledMnistFromDigits> | null = null;
let exported: { json: string; data: Uint8Array } | null = null;

async function loadDigits() {
  if (digits) return digits;
  status('Loading the bundled digits…');
  const files = await Promise.all(Array.from({ length: 10 }, (_, d) => fetch(`digits/${d}.json`).then((r) => r.json())));
  digits = bundledMnistFromDigits(files);
  return digits;
}

function status(text: string) {
  $('status').textContent = text;
}

/** Per layer with a kernel: its shape and exact zeros, as the report takes them. */
function layerZeros(model: tf.LayersModel) {
  return model.layers
    .filter((l) => l.getWeights().length > 0 && l.getWeights()[0].rank >= 2)
    .map((l) => {
      const kernel = l.getWeights()[0];
      let zeros = 0;
      for (const v of kernel.dataSync()) if (v === 0) zeros++;
      return { name: `${l.name}/kernel`, shape: [...kernel.shape], total: kernel.size, zeros };
    });
}

function layerSparsity(model: tf.LayersModel) {
  return model.layers
    .filter((l) => l.getWeights().length > 0 && l.getWeights()[0].rank >= 2)
    .map((l) => {
      const values = l.getWeights()[0].dataSync();
      let zeros = 0;
      for (const v of values) if (v === 0) zeros++;
      return { name: l.name, sparsity: zeros / values.length, total: values.length };
    });
}

async function train() {
  $<HTMLButtonElement>('train').disabled = true;
  $<HTMLButtonElement>('download').disabled = true;
  try {
    const backend = value('backend');
    if (backend === 'webgl') {
      if (!(await tf.setBackend('webgl'))) throw new Error('webgl is not available here: choose wasm or cpu');
    } else {
      await selectBackend({ prefer: backend as 'wasm' | 'cpu', env: {} });
    }
    const data = await loadDigits();
    const target = Number(value('sparsity'));
    const epochs = Number(value('epochs'));
    const samples = Math.min(Number(value('samples')), data.train.size);
    const batchSize = 64;
    const trainBatch = data.train.batch(
      Int32Array.from({ length: samples }, (_, i) => i),
      { oneHot: true },
    );
    const testBatch = data.test.batch(
      Int32Array.from({ length: 1000 }, (_, i) => i),
      { oneHot: true },
    );
    const model = (value('model') === 'lenet-5' ? lenet5 : lenet300100)({ softmax: true, seed: 1 });
    const optimizer = tf.train.momentum(0.05, 0.9);
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const steps = Math.ceil(samples / batchSize);
    // Dense for the first epoch (when there are 3 or more), pruned up to the target by three quarters
    // of the run, then trained at the final masks.
    const beginStep = epochs >= 3 ? steps : 0;
    const endStep = Math.max(beginStep + 1, Math.floor(0.75 * epochs * steps));
    const pruner = new Pruner(model, {
      schedule: polynomialDecay({
        initialSparsity: 0,
        finalSparsity: target,
        beginStep,
        endStep,
        frequency: Math.max(1, Math.floor(steps / 4)),
      }),
    });
    const penalty = PENALTIES[value('penalty')]();
    const started = performance.now();
    const history: { epoch: number; phase: 'train'; loss?: number; trainAccuracy?: number; accuracy: number; sparsity: number }[] = [];
    const loss: { x: number; y: number }[] = [];
    const accuracy: { x: number; y: number }[] = [];
    const testAccuracy: { x: number; y: number }[] = [];
    const draw = () => {
      $('loss-chart').innerHTML = lineChart({
        title: 'Training loss',
        series: [{ label: 'loss', points: loss }],
        xLabel: 'epoch',
        yLabel: 'loss',
        yMin: 0,
      });
      $('accuracy-chart').innerHTML = lineChart({
        title: 'Accuracy',
        series: [
          { label: 'train', points: accuracy },
          { label: 'test (1,000 digits)', points: testAccuracy, color: '#d62728' },
        ],
        xLabel: 'epoch',
        yLabel: 'accuracy',
        yMin: 0,
        yMax: 1,
        yFormat: (v) => v.toFixed(1),
      });
      $('sparsity-chart').innerHTML = layerSparsityChart(layerSparsity(model));
    };
    let batches = 0;
    await fitWithPenalties(model, trainBatch.x, trainBatch.oneHot!, {
      epochs,
      batchSize,
      verbose: 0,
      penalties: [penalty],
      pruning: pruner,
      callbacks: [
        new tf.CustomCallback({
          onBatchEnd: async (_batch, logs) => {
            batches++;
            if (logs?.loss !== undefined) loss.push({ x: batches / steps, y: logs.loss });
            if (batches % 10 === 0) {
              draw();
              await tf.nextFrame();
            }
          },
          onEpochEnd: async (epoch, logs) => {
            accuracy.push({ x: epoch + 1, y: (logs?.acc as number) ?? 0 });
            const test = tf.tidy(
              () => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(testBatch.x) as tf.Tensor, 1), testBatch.y), 'float32')).dataSync()[0],
            );
            testAccuracy.push({ x: epoch + 1, y: test });
            const rows = layerSparsity(model);
            history.push({
              epoch,
              phase: 'train',
              loss: logs?.loss,
              trainAccuracy: logs?.acc as number | undefined,
              accuracy: test,
              sparsity: rows.reduce((a, r) => a + r.sparsity * r.total, 0) / rows.reduce((a, r) => a + r.total, 0),
            });
            draw();
            status(`Epoch ${epoch + 1}/${epochs} on ${tf.getBackend()}: test accuracy ${(100 * test).toFixed(1)}%`);
            await tf.nextFrame();
          },
        }),
      ],
    });
    const stripped = await stripPruning(model, { masks: pruner.masks() });
    const { json, data: bytes } = encodeSparse(await captureArtifacts(stripped), { encoding: 'bitmask' });
    exported = { json: JSON.stringify(json), data: bytes };
    const rows = layerSparsity(stripped);
    const zeros = rows.reduce((a, r) => a + r.sparsity * r.total, 0);
    const total = rows.reduce((a, r) => a + r.total, 0);
    const final = testAccuracy.at(-1)?.y ?? 0;
    $('summary').innerHTML =
      `<h3>Result</h3><p id="result" data-sparsity="${zeros / total}" data-accuracy="${final}">` +
      `${(100 * (zeros / total)).toFixed(1)}% of the weights are zero; test accuracy ${(100 * final).toFixed(1)}%.<br>` +
      `Sparse export: ${((exported.json.length + bytes.byteLength) / 1024).toFixed(0)} KiB (dense float32: ${((stripped.countParams() * 4) / 1024).toFixed(0)} KiB).</p>`;
    const seconds = (performance.now() - started) / 1000;
    renderReport(
      $('report'),
      createReport({
        name: `${value('model')}, ${penalty.name}, ${(100 * target).toFixed(0)}% sparse`,
        model: value('model'),
        dataset: `bundled MNIST digits (${samples.toLocaleString('en-US')} training, 1,000 test)`,
        method: penalty.name,
        penalty: { name: penalty.name, config: { ...penalty.getConfig().options } },
        pruning: { schedule: 'polynomialDecay', beginStep, endStep },
        seed: 1,
        epochs,
        backend: tf.getBackend(),
        sparsity: { target, layers: layerZeros(stripped) },
        accuracy: { split: 'test', final },
        timing: { samplesPerSecond: (samples * epochs) / seconds, seconds },
        history,
      }),
    );
    status('Done: download the sparse model, or train again.');
    for (const t of [trainBatch.x, trainBatch.y, trainBatch.oneHot!, testBatch.x, testBatch.y, testBatch.oneHot!]) t.dispose();
    for (const d of [model, stripped, pruner, penalty]) d.dispose();
    disposeOptimizer(optimizer);
    $<HTMLButtonElement>('download').disabled = false;
  } catch (error) {
    status(`Failed: ${(error as Error).message}`);
  } finally {
    $<HTMLButtonElement>('train').disabled = false;
  }
}

function download() {
  if (!exported) return;
  for (const [name, body, type] of [
    ['model.sparse.json', exported.json, 'application/json'],
    ['weights.sparse.bin', exported.data, 'application/octet-stream'],
  ] as const) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([body as BlobPart], { type }));
    a.download = name;
    a.click();
    URL.revokeObjectURL(a.href);
  }
}

setWasmPaths('wasm/');
$('train').addEventListener('click', () => void train());
$('download').addEventListener('click', download);
