import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ModelFileError,
  captureArtifacts,
  decodeSparse,
  encodeSparse,
  fileSystemLoadHandler,
  fileSystemSaveHandler,
  loadSparse,
  saveSparse,
  sparseChecksum,
  writeDirectoryAtomic,
  type SparseModelJSON,
} from '../src/index.node.js';
import { useCpu } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await useCpu();
  dir = await mkdtemp(join(tmpdir(), 'sparsify-layers-untrusted-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A small functional model with a sparse kernel (so csr and bitmask entries both occur). */
function smallModel(): tf.LayersModel {
  const input = tf.input({ shape: [12] });
  const hidden = tf.layers
    .dense({ units: 10, activation: 'relu', name: 'fc1', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) })
    .apply(input);
  const output = tf.layers
    .dense({ units: 3, name: 'fc2', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) })
    .apply(hidden) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  tf.tidy(() => {
    for (const w of model.weights.filter((v) => v.originalName.endsWith('kernel'))) {
      const v = w.read();
      w.write(tf.where(tf.less(tf.abs(v), 0.4), tf.zerosLike(v), v));
    }
  });
  return model;
}

async function encoded(
  encoding: 'bitmask' | 'csr',
  quantize: 'int8' | null = null,
): Promise<{ json: SparseModelJSON; data: Uint8Array; original: Uint8Array }> {
  const model = smallModel();
  const artifacts = await captureArtifacts(model);
  model.dispose();
  const { json, data } = encodeSparse(artifacts, { encoding, quantize });
  return { json: JSON.parse(JSON.stringify(json)), data, original: new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData!)) };
}

/** The checksums recomputed after an edit, as a deliberately crafted file would carry them. */
function resealed(json: SparseModelJSON, data: Uint8Array): SparseModelJSON {
  return { ...json, checksum: sparseChecksum(json, data) };
}

function expectModelFileError(f: () => unknown, file: RegExp, field: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ModelFileError);
  expect((caught as ModelFileError).file).toMatch(file);
  expect((caught as ModelFileError).field).toMatch(field);
}

describe('writeDirectoryAtomic never destroys what it did not write', () => {
  it('refuses an existing file, a symbolic link and a directory holding other files; replaces its own model', async () => {
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'keep me');
    await expect(writeDirectoryAtomic(file, { 'model.json': '{}' })).rejects.toThrow(
      /notes.txt: \(path\) is a file, not a directory; it was left as it is/,
    );
    expect(await readFile(file, 'utf8')).toBe('keep me');
    const link = join(dir, 'link');
    await symlink(dir, link);
    await expect(writeDirectoryAtomic(link, { 'model.json': '{}' })).rejects.toThrow(/is a symbolic link/);
    const mixed = join(dir, 'mixed');
    await mkdir(mixed);
    await writeFile(join(mixed, 'model.json'), 'old');
    await writeFile(join(mixed, 'data.csv'), 'precious');
    await expect(writeDirectoryAtomic(mixed, { 'model.json': 'new' })).rejects.toThrow(
      /mixed: \(directory\) holds "data.csv", not only a saved model/,
    );
    expect((await readdir(mixed)).sort()).toEqual(['data.csv', 'model.json']);
    expect(await readFile(join(mixed, 'model.json'), 'utf8')).toBe('old');
    const own = join(dir, 'own');
    await writeDirectoryAtomic(own, { 'model.json': 'v1', 'weights.bin': new Uint8Array([1]) });
    await writeDirectoryAtomic(own, { 'model.json': 'v2', 'weights.bin': new Uint8Array([2]) });
    expect(await readFile(join(own, 'model.json'), 'utf8')).toBe('v2');
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await writeDirectoryAtomic(empty, { 'model.json': 'x' });
    expect(await readdir(empty)).toEqual(['model.json']);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('the sparse decoder checks everything before it allocates', () => {
  it('rejects the issue’s accepted mutations with a ModelFileError naming file and field', async () => {
    const csr = await encoded('csr');
    const kernel = csr.json.weights.findIndex((w) => w.name === 'fc1/kernel');
    expect(csr.json.weights[kernel].encoding).toBe('csr');
    const entry = csr.json.weights[kernel];
    // A CSR column index 250 in a 10-column kernel: damaged (checksum) and crafted (checksums recomputed).
    const bad = csr.data.slice();
    bad[entry.byteOffset + (entry.rows! + 1) * 2] = 250;
    expectModelFileError(() => decodeSparse(csr.json, bad), /weights.sparse.bin$/, /^\(checksum\)$/);
    expectModelFileError(
      () => decodeSparse(resealed(csr.json, bad), bad),
      /weights.sparse.bin$/,
      /weights\[\d\] \("fc1\/kernel"\)\.colIndex/,
    );

    const bitmask = await encoded('bitmask');
    const k = bitmask.json.weights.reduce(
      (best, w, i, all) => (w.encoding === 'bitmask' && (best < 0 || w.count > all[best].count) ? i : best),
      -1,
    );
    const mask = bitmask.json.weights[k];
    // An extra bitmask bit (every later non-zero would shift by one).
    const extra = bitmask.data.slice();
    let bit = 0;
    while (extra[mask.byteOffset + (bit >>> 3)] & (1 << (bit & 7))) bit++;
    extra[mask.byteOffset + (bit >>> 3)] |= 1 << (bit & 7);
    expectModelFileError(() => decodeSparse(resealed(bitmask.json, extra), extra), /weights.sparse.bin$/, /\.bitmask$/);
    // count − 5.
    const fewer = structuredClone(bitmask.json);
    (fewer.weights[k] as { count: number }).count -= 5;
    expectModelFileError(() => decodeSparse(fewer, bitmask.data), /model.sparse.json$/, /^checksum.manifest$/);
    expectModelFileError(
      () => decodeSparse(resealed(fewer, bitmask.data), bitmask.data),
      /model.sparse.json$/,
      /weights\[\d\]\.byteLength/,
    );
    // NaN in a stored value.
    const nan = bitmask.data.slice();
    new DataView(nan.buffer).setFloat32(mask.byteOffset + Math.ceil(mask.shape.reduce((a, b) => a * b, 1) / 8), NaN, true);
    expectModelFileError(() => decodeSparse(resealed(bitmask.json, nan), nan), /weights.sparse.bin$/, /\.values$/);

    const int8 = await encoded('bitmask', 'int8');
    const nanScale = structuredClone(int8.json);
    (nanScale.weights[0] as { scale: number }).scale = NaN;
    expectModelFileError(() => decodeSparse(resealed(nanScale, int8.data), int8.data), /model.sparse.json$/, /^weights\[0\]\.scale$/);

    // values "float16" on float32 bytes.
    const half = structuredClone(bitmask.json);
    (half.weights[k] as { values: string }).values = 'float16';
    expectModelFileError(() => decodeSparse(resealed(half, bitmask.data), bitmask.data), /model.sparse.json$/, /weights\[\d\]\.byteLength/);

    // Unchanged: exactly the original weights.
    const back = decodeSparse(bitmask.json, bitmask.data);
    expect(Buffer.from(back.weightData as ArrayBuffer).equals(Buffer.from(bitmask.original))).toBe(true);
  });

  it('refuses a 91 KB file claiming a [20000, 20000] kernel at once, without allocating it', async () => {
    const rows = 20000;
    const cols = 20000;
    const data = new Uint8Array((rows + 1) * 4 + 4 + 4); // row pointers, one column index, one value
    const view = new DataView(data.buffer);
    for (let r = 1; r <= rows; r++) view.setUint32(r * 4, 1, true);
    view.setUint32((rows + 1) * 4, 7, true);
    view.setFloat32((rows + 1) * 4 + 4, 0.5, true);
    const topology = {
      class_name: 'Sequential',
      config: {
        name: 's',
        layers: [{ class_name: 'Dense', config: { name: 'd', units: cols, use_bias: false, batch_input_shape: [null, rows] } }],
      },
    };
    const weights = [
      {
        name: 'd/kernel',
        shape: [rows, cols],
        dtype: 'float32',
        encoding: 'csr',
        values: 'float32',
        count: 1,
        rows,
        cols,
        rowPtr: 'uint32',
        colIndex: 'uint32',
        byteOffset: 0,
        byteLength: data.byteLength,
      },
    ];
    const json = {
      format: 'sparsify-sparse',
      formatVersion: 2,
      generatedBy: 'x',
      modelTopology: topology,
      artifacts: {},
      weightsPath: 'weights.sparse.bin',
      weightsByteLength: data.byteLength,
      weights,
    } as unknown as SparseModelJSON;
    const t0 = performance.now();
    expectModelFileError(() => decodeSparse(resealed(json, data), data), /model.sparse.json$/, /^weights\[0\]\.shape$/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('refuses a topology with a layer removed instead of spinning in tf.loadLayersModel', async () => {
    const { json, data } = await encoded('bitmask');
    const topology = structuredClone(json.modelTopology) as { config: { layers: unknown[] } };
    topology.config.layers.splice(1, 1);
    const cut = { ...json, modelTopology: topology };
    expectModelFileError(
      () => decodeSparse(resealed(cut, data), data),
      /model.sparse.json$/,
      /^modelTopology\.config\.layers\[1\]\.inbound_nodes\[0\]$/,
    );
  });

  it('refuses format version 1 (no checksums) with what to do', async () => {
    const { json, data } = await encoded('bitmask');
    expect(() => decodeSparse({ ...json, formatVersion: 1 }, data)).toThrow(
      /formatVersion is 1: files of that version carry no checksum and are not read; export the model again/,
    );
  });
});

describe('loadSparse stays inside the model directory', () => {
  it('refuses weightsPath outside the directory, by .., absolute path or symbolic link, without saying anything about that file', async () => {
    const model = smallModel();
    const target = join(dir, 'escape');
    await saveSparse(model, target);
    model.dispose();
    const original = await readFile(join(target, 'model.sparse.json'), 'utf8');
    const secret = join(dir, 'secret.bin');
    await writeFile(secret, new Uint8Array(12345));
    for (const weightsPath of ['../secret.bin', secret, 'sub/../../secret.bin']) {
      await writeFile(
        join(target, 'model.sparse.json'),
        original.replace('"weightsPath":"weights.sparse.bin"', `"weightsPath":${JSON.stringify(weightsPath)}`),
      );
      const error = await loadSparse(target).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelFileError);
      expect((error as ModelFileError).field).toBe('weightsPath');
      expect((error as Error).message).not.toMatch(/12345/);
    }
    await symlink(secret, join(target, 'link.bin'));
    await writeFile(join(target, 'model.sparse.json'), original.replace('"weightsPath":"weights.sparse.bin"', '"weightsPath":"link.bin"'));
    const error = await loadSparse(target).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/model.sparse.json: weightsPath names "link.bin", which links outside the model's directory/);
    expect((error as Error).message).not.toMatch(/12345/);
  });

  it('refuses a FIFO instead of waiting for a writer', async () => {
    const fifo = join(dir, 'fifo');
    await mkdir(fifo);
    execFileSync('mkfifo', [join(fifo, 'model.sparse.json')]);
    await expect(loadSparse(fifo)).rejects.toThrow(/model.sparse.json: \(file\) is not a regular file/);
  });
});

describe('loadSparse checks the topology against the weights', () => {
  it('a weight the topology does not name, or a layer of another size, is a ModelFileError and leaks no variable', async () => {
    const model = smallModel();
    const target = join(dir, 'mismatch');
    await saveSparse(model, target);
    model.dispose();
    const file = join(target, 'model.sparse.json');
    const good = JSON.parse(await readFile(file, 'utf8')) as SparseModelJSON;
    const data = new Uint8Array(await readFile(join(target, good.weightsPath)));
    const renamed = structuredClone(good) as unknown as { weights: { name: string }[] };
    renamed.weights[0].name = 'fc9/kernel';
    const resized = structuredClone(good) as unknown as {
      modelTopology: { config: { layers: { name: string; config: { units?: number } }[] } };
    };
    resized.modelTopology.config.layers.find((l) => l.name === 'fc2')!.config.units = 4;
    const cases: [unknown, RegExp][] = [
      [renamed, /does not build a model that takes these weights: .*fc9\/kernel/],
      [resized, /does not build a model that takes these weights: Shape mismatch/],
    ];
    for (const [edited, message] of cases) {
      await writeFile(file, JSON.stringify(resealed(edited as unknown as SparseModelJSON, data)));
      const variables = Object.keys(tf.engine().state.registeredVariables).length;
      const error = await loadSparse(target).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelFileError);
      expect((error as ModelFileError).file).toBe(file);
      expect((error as ModelFileError).field).toBe('modelTopology');
      expect((error as Error).message).toMatch(message);
      expect(Object.keys(tf.engine().state.registeredVariables)).toHaveLength(variables);
    }
  });
});

describe('fileSystemLoadHandler', () => {
  it('refuses a weights path outside the directory and a topology whose graph never completes', async () => {
    const model = smallModel();
    const target = join(dir, 'dense');
    await model.save(fileSystemSaveHandler(target));
    model.dispose();
    const json = JSON.parse(await readFile(join(target, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../secret.bin'];
    await writeFile(join(target, 'model.json'), JSON.stringify(json));
    await expect(tf.loadLayersModel(fileSystemLoadHandler(target))).rejects.toThrow(
      /model.json: weightsManifest\[0\]\.paths\[0\] must be a file name/,
    );
    json.weightsManifest[0].paths = ['weights.bin'];
    json.modelTopology.config.layers.splice(1, 1); // fc1 removed: fc2's input never exists
    await writeFile(join(target, 'model.json'), JSON.stringify(json));
    await expect(tf.loadLayersModel(fileSystemLoadHandler(target))).rejects.toThrow(
      /inbound_nodes\[0\] refers to layer "fc1", which is not in the model/,
    );
  });
});
