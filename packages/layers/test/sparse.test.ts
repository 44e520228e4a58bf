import * as tf from '@tensorflow/tfjs';
import { magnitudeMasks, applyMasks, disposeMasks, selectParams } from '@sparsify/core';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  captureArtifacts,
  decodeSparse,
  encodeSparse,
  fileSystemLoadHandler,
  fileSystemSaveHandler,
  fromFloat16Bits,
  loadSparse,
  saveSparse,
  sparseLoadHandler,
  sparseSaveHandler,
  stripPruning,
  toFloat16Bits,
} from '../src/index.node.js';
import { maxAbsDiff } from './helpers.js';
import { useTestBackend } from '../../../tools/testing/backends.js';

let dir: string;
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'sparsify-layers-sparse-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** LeNet-300-100 (docs/conventions.md, "Reference models"): 784-300-100-10, ReLU; 266,200 weights + 410 biases. */
function lenet300100(seed = 1): tf.LayersModel {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      inputShape: [784],
      units: 300,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotNormal({ seed }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.01, seed: seed + 10 }),
    }),
  );
  model.add(
    tf.layers.dense({
      units: 100,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.01, seed: seed + 11 }),
    }),
  );
  model.add(
    tf.layers.dense({
      units: 10,
      kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 2 }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.01, seed: seed + 12 }),
    }),
  );
  return model;
}

/** Global magnitude pruning of the kernels, baked in (what a pruned model looks like at export). */
async function prunedLenet(sparsity: number): Promise<tf.LayersModel> {
  const model = lenet300100();
  const { masks } = magnitudeMasks(selectParams(model), { sparsity, scope: 'global' });
  applyMasks(masks);
  const stripped = await stripPruning(model, { masks });
  disposeMasks(masks);
  model.dispose();
  return stripped;
}

async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(path)) total += (await stat(join(path, f))).size;
  return total;
}

describe('float16', () => {
  it('round-trips every finite half exactly and rounds to nearest even', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = fromFloat16Bits(h);
      if (!Number.isNaN(v) && toFloat16Bits(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0xc000)).toBe(-2);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
    expect(fromFloat16Bits(toFloat16Bits(1 + 2 ** -11))).toBe(1); // halfway: ties to even (down)
    expect(fromFloat16Bits(toFloat16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 * 2 ** -10); // halfway: ties to even (up)
    expect(fromFloat16Bits(toFloat16Bits(65520))).toBe(Infinity);
    expect(fromFloat16Bits(toFloat16Bits(2 ** -25 * 0.9))).toBe(0);
  });
});

describe('sparse export (saveSparse / loadSparse)', () => {
  it('is ≥ 10× smaller than dense at 95% sparsity on LeNet-300-100, and loads back to identical predictions', async () => {
    const model = await prunedLenet(0.95);
    const x = tf.randomNormal([16, 784], 0, 1, 'float32', 7);
    const expected = model.predict(x) as tf.Tensor;
    await model.save(fileSystemSaveHandler(join(dir, 'dense95')));
    const dense = await dirBytes(join(dir, 'dense95'));
    expect(dense).toBeGreaterThan(266_610 * 4);
    for (const encoding of ['bitmask', 'csr'] as const) {
      const result = await saveSparse(model, join(dir, `sparse95-${encoding}`), { encoding });
      const sparse = await dirBytes(join(dir, `sparse95-${encoding}`));
      expect(sparse).toBe(result.bytes);
      expect(dense / sparse).toBeGreaterThanOrEqual(10);
      expect(Math.abs(result.denseBytes - dense)).toBeLessThan(200); // the estimate matches the real dense files
      // kernels sparse, biases dense (a sparse encoding would not be smaller)
      expect(result.weights.map((w) => w.encoding)).toEqual([encoding, 'dense', encoding, 'dense', encoding, 'dense']);
      const loaded = await loadSparse(join(dir, `sparse95-${encoding}`));
      const got = loaded.predict(x) as tf.Tensor;
      expect(maxAbsDiff(got.dataSync(), expected.dataSync())).toBe(0);
      loaded.weights.forEach((w, i) => expect(maxAbsDiff(w.read().dataSync(), model.weights[i].read().dataSync())).toBe(0));
      tf.dispose(got);
      loaded.dispose();
    }
    tf.dispose([x, expected]);
    model.dispose();
  });

  it('keeps zeros exact and values close with float16 / int8 quantization', async () => {
    const model = await prunedLenet(0.9);
    const x = tf.randomNormal([8, 784], 0, 1, 'float32', 9);
    const expected = model.predict(x) as tf.Tensor;
    const ratios: number[] = [];
    for (const quantize of ['float16', 'int8'] as const) {
      const path = join(dir, `q-${quantize}`);
      const result = await saveSparse(model, path, { quantize });
      ratios.push(result.ratio);
      const loaded = await tf.loadLayersModel(sparseLoadHandler(path));
      model.weights.forEach((w, i) => {
        const a = w.read().dataSync();
        const b = loaded.weights[i].read().dataSync();
        let maxAbs = 0;
        for (let j = 0; j < a.length; j++) maxAbs = Math.max(maxAbs, Math.abs(a[j]));
        // float16: relative error ≤ 2^−11; int8: ≤ half a step of max/127
        const tol = quantize === 'float16' ? maxAbs * 2 ** -11 : maxAbs / 254 + 1e-7;
        let zerosLost = 0;
        let valuesLost = 0;
        for (let j = 0; j < a.length; j++) {
          if (a[j] === 0 && b[j] !== 0) zerosLost++;
          if (a[j] !== 0 && b[j] === 0 && Math.abs(a[j]) > tol) valuesLost++;
        }
        expect(zerosLost).toBe(0);
        expect(valuesLost).toBe(0);
        expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(tol);
      });
      const got = loaded.predict(x) as tf.Tensor;
      expect(maxAbsDiff(got.dataSync(), expected.dataSync())).toBeLessThan(0.05);
      tf.dispose(got);
      loaded.dispose();
    }
    const plain = await saveSparse(model, join(dir, 'q-none'));
    expect(ratios[0]).toBeGreaterThan(plain.ratio);
    expect(ratios[1]).toBeGreaterThan(ratios[0]);
    tf.dispose([x, expected]);
    model.dispose();
  });

  it('encodes artifacts losslessly (byte-identical weight data) and through the tf.io handlers', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [300], units: 20, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: 4 }) }),
      ],
    });
    const { masks } = magnitudeMasks(selectParams(model), { sparsity: 0.8, scope: 'layer' });
    applyMasks(masks);
    disposeMasks(masks);
    const stripped = await stripPruning(model);
    const artifacts = await captureArtifacts(stripped);
    const original = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData!));
    for (const encoding of ['bitmask', 'csr'] as const) {
      const { json, data } = encodeSparse(artifacts, { encoding });
      const back = decodeSparse(JSON.parse(JSON.stringify(json)), data);
      expect(back.weightSpecs).toEqual(artifacts.weightSpecs);
      expect(Buffer.from(new Uint8Array(back.weightData as ArrayBuffer)).equals(Buffer.from(original))).toBe(true);
    }
    await stripped.save(sparseSaveHandler(join(dir, 'handler'), { encoding: 'csr' }));
    const viaHandler = await tf.loadLayersModel(sparseLoadHandler(join(dir, 'handler')));
    expect(viaHandler.weights.map((w) => w.shape)).toEqual(stripped.weights.map((w) => w.shape));
    expect(() => encodeSparse(artifacts, { encoding: 'coo' as never })).toThrow(/encoding must be one of "bitmask", "csr"; got "coo"/);
    expect(() => sparseSaveHandler(join(dir, 'x'), { quantize: 'int4' as never })).toThrow(
      /quantize must be one of "float16", "int8"; got "int4"/,
    );
    const { json, data } = encodeSparse(artifacts);
    expect(() => decodeSparse(json, data.slice(1))).toThrow(
      /weights.sparse.bin: \(length\) is \d+ bytes; model.sparse.json \(weightsByteLength\) says/,
    );
    for (const m of [model, stripped, viaHandler]) m.dispose();
  });
});

describe('fileSystemSaveHandler', () => {
  it('writes the standard layout atomically, replaces an existing directory, and loads back', async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [5], units: 2, kernelInitializer: tf.initializers.glorotNormal({ seed: 8 }) })],
    });
    const target = join(dir, 'fs', 'model');
    await model.save(fileSystemSaveHandler(target));
    expect((await readdir(target)).sort()).toEqual(['model.json', 'weights.bin']);
    tf.tidy(() => void model.weights[0].write(tf.zerosLike(model.weights[0].read())));
    await model.save(fileSystemSaveHandler(target)); // replaces
    expect(await readdir(join(dir, 'fs'))).toEqual(['model']); // no temporary directories left behind
    const loaded = await tf.loadLayersModel(fileSystemLoadHandler(target));
    expect(Array.from(loaded.weights[0].read().dataSync()).every((v) => v === 0)).toBe(true);
    expect(() => fileSystemSaveHandler('')).toThrow(/fileSystemSaveHandler directory must be a non-empty path; got ""/);
    model.dispose();
    loaded.dispose();
  });
});
