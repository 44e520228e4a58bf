/**
 * The worker thread: builds the bases with the packages under test (resolved at run time, so the same
 * build fuzzes whatever version of them is installed), then runs the cases it is sent and posts one
 * result per case (and a `start` before each, the watchdog's heartbeat).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import type { Case, Op, Value } from './cases.js';
import { MEMORY_MB, SLOW_MS, type CaseResult, type Outcome } from './outcomes.js';

// biome-ignore lint/suspicious/noExplicitAny: the packages under test are loaded by name, any version
type Any = any;

const tf: Any = await import('@tensorflow/tfjs');
const layers: Any = await import('@sparsify/layers/node');
const train: Any = await import('@sparsify/train/node');
const datasets: Any = await import('@sparsify/datasets/node');
await tf.setBackend('cpu');
await tf.ready();

const root = mkdtempSync(join(tmpdir(), 'sparsify-fuzz-'));
/** A file outside every model directory, of a size that would be recognised in a message. */
const SECRET_BYTES = 7919;
const secret = join(root, 'secret.bin');
writeFileSync(secret, new Uint8Array(SECRET_BYTES));
const TYPED_NAMES = ['ModelFileError', 'CheckpointError', 'DatasetError', 'RunDirectoryError', 'SparsifyConfigError', 'UsageError'];

const special = (v: Value): unknown => {
  if (v === '$NaN') return NaN;
  if (v === '$Infinity') return Infinity;
  if (v === '$-Infinity') return -Infinity;
  return structuredClone(v);
};

/** Walks `path` (numbers index arrays modulo their length); returns the parent and the key, or null. */
function locate(value: unknown, path: (string | number)[]): { parent: Any; key: string | number } | null {
  const indexable = (v: Any): boolean => Array.isArray(v) || ArrayBuffer.isView(v);
  let at: Any = value;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    if (at === null || typeof at !== 'object') return null;
    at = typeof k === 'number' && indexable(at) ? at[k % Math.max(1, at.length)] : at[k];
  }
  if (at === null || typeof at !== 'object') return null;
  const last = path[path.length - 1];
  return { parent: at, key: typeof last === 'number' && indexable(at) ? last % Math.max(1, at.length) : last };
}

function applyJson(value: unknown, op: Op): void {
  if (op.op !== 'set' && op.op !== 'delete' && op.op !== 'add') return;
  const spot = locate(value, op.path);
  if (!spot) return;
  if (op.op === 'add') {
    if (typeof spot.parent[spot.key] === 'number') spot.parent[spot.key] += op.delta;
  } else if (op.op === 'delete') {
    if (Array.isArray(spot.parent)) spot.parent.splice(Number(spot.key), 1);
    else delete spot.parent[spot.key];
  } else spot.parent[spot.key] = special(op.value);
}

function applyBytes(bytes: Uint8Array<ArrayBufferLike>, op: Op): Uint8Array<ArrayBufferLike> {
  if (bytes.length === 0 && op.op !== 'extend') return bytes;
  switch (op.op) {
    case 'flip': {
      const out = bytes.slice();
      const at = op.at % out.length;
      out[op.fromEnd ? out.length - 1 - at : at] ^= 1 << op.bit;
      return out;
    }
    case 'byte': {
      const out = bytes.slice();
      out[op.at % out.length] = op.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, Math.floor(bytes.length * op.keep));
    case 'extend': {
      const out = new Uint8Array(bytes.length + op.bytes);
      out.set(bytes);
      for (let i = bytes.length; i < out.length; i++) out[i] = (i * 37) & 0xff;
      return out;
    }
    default:
      return bytes;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) || a === b;
  if (Array.isArray(a) || Array.isArray(b))
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Any)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Any)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameValue((a as Any)[k], (b as Any)[k]));
  }
  return a === b;
}

function classifyError(error: unknown): { outcome: Outcome; detail: string } {
  const e = error as { name?: string; message?: string; file?: unknown; field?: unknown };
  const message = String(e?.message ?? error).slice(0, 300);
  if (message.includes(String(SECRET_BYTES))) return { outcome: 'leak', detail: message };
  const named =
    typeof e?.file === 'string' &&
    e.file.length > 0 &&
    typeof e.field === 'string' &&
    e.field.length > 0 &&
    message.includes(basename(e.file));
  if (named) return { outcome: 'named', detail: message };
  return {
    outcome: TYPED_NAMES.includes(e?.name ?? '') ? 'typed-unnamed' : 'context-free',
    detail: `${e?.name ?? typeof error}: ${message}`,
  };
}

// ---------------------------------------------------------------------------------------------------
// Bases, built once with the code under test.

interface SparseBase {
  json: Any;
  data: Uint8Array;
  options: { encoding: string; quantize: string | null };
  /** What an undamaged decode gives: specs, weight bytes, topology JSON. */
  reference: { specs: unknown; weights: Uint8Array; topology: string };
  /** What an undamaged load gives: the model's config and its weights' bytes. */
  loaded: { config: string; weights: Uint8Array };
}

async function sparseBases(): Promise<Record<string, SparseBase>> {
  const input = tf.input({ shape: [12] });
  const hidden = tf.layers
    .dense({ units: 10, activation: 'relu', name: 'fc1', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) })
    .apply(input);
  const output = tf.layers
    .dense({
      units: 3,
      name: 'fc2',
      kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }),
      biasInitializer: tf.initializers.randomNormal({ seed: 3 }),
    })
    .apply(hidden);
  const model = tf.model({ inputs: input, outputs: output });
  tf.tidy(() => {
    for (const w of model.weights.filter((v: Any) => v.originalName.endsWith('kernel'))) {
      const v = w.read();
      w.write(tf.where(tf.less(tf.abs(v), 0.4), tf.zerosLike(v), v));
    }
  });
  const artifacts = await layers.captureArtifacts(model);
  model.dispose();
  const bases: Record<string, SparseBase> = {};
  for (const [name, options] of [
    ['bitmask-float32', { encoding: 'bitmask', quantize: null }],
    ['csr-float32', { encoding: 'csr', quantize: null }],
    ['bitmask-float16', { encoding: 'bitmask', quantize: 'float16' }],
    ['csr-int8', { encoding: 'csr', quantize: 'int8' }],
  ] as const) {
    const { json, data } = layers.encodeSparse(artifacts, options);
    const plain = JSON.parse(JSON.stringify(json));
    const decoded = layers.decodeSparse(structuredClone(plain), data.slice());
    const dir = join(root, `base-${name}`);
    writeSparseDir(dir, plain, data);
    const loadedModel = await layers.loadSparse(dir);
    const loaded = { config: JSON.stringify(loadedModel.getConfig()), weights: modelBytes(loadedModel) };
    loadedModel.dispose();
    bases[name] = {
      json: plain,
      data: new Uint8Array(data),
      options,
      reference: {
        specs: decoded.weightSpecs,
        weights: new Uint8Array(decoded.weightData),
        topology: JSON.stringify(decoded.modelTopology),
      },
      loaded,
    };
  }
  return bases;
}

function writeSparseDir(dir: string, json: unknown, data: Uint8Array): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.sparse.json'), JSON.stringify(json) ?? '');
  writeFileSync(join(dir, 'weights.sparse.bin'), data);
}

function modelBytes(model: Any): Uint8Array {
  const parts = model.weights.map((w: Any) => new Uint8Array(w.read().dataSync().slice().buffer));
  return Buffer.concat(parts);
}

/** Where in the weights file weight `w`'s regions start (from the undamaged manifest). */
function regions(entry: Any): { values: number; index?: number; ptr?: number; mask?: number; valueBytes: number } {
  const size = entry.shape.reduce((a: number, b: number) => a * b, 1);
  const valueBytes = entry.values === 'float16' ? 2 : entry.values === 'int8' ? 1 : 4;
  if (entry.encoding === 'bitmask') return { mask: entry.byteOffset, values: entry.byteOffset + Math.ceil(size / 8), valueBytes };
  if (entry.encoding === 'csr') {
    const rb = entry.rowPtr === 'uint16' ? 2 : 4;
    const index = entry.byteOffset + (entry.rows + 1) * rb;
    const cb = entry.colIndex === 'uint8' ? 1 : entry.colIndex === 'uint16' ? 2 : 4;
    return { ptr: entry.byteOffset, index, values: index + entry.count * cb, valueBytes };
  }
  return { values: entry.byteOffset, valueBytes };
}

function writeUint(view: DataView, at: number, bytes: number, value: number): void {
  if (at < 0 || at + bytes > view.byteLength) return;
  if (bytes === 1) view.setUint8(at, value & 0xff);
  else if (bytes === 2) view.setUint16(at, value & 0xffff, true);
  else view.setUint32(at, value >>> 0, true);
}

function applySparseBytes(base: SparseBase, data: Uint8Array, op: Op): void {
  const entries = base.json.weights;
  if (!('weight' in op)) return;
  const entry = entries[op.weight % entries.length];
  const r = regions(entry);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (op.op === 'value' && entry.count > 0) {
    const at = r.values + (op.k % entry.count) * r.valueBytes;
    writeUint(view, at, r.valueBytes, r.valueBytes === 4 ? op.bits : r.valueBytes === 2 ? op.bits & 0xffff : op.bits & 0xff);
  } else if (op.op === 'col-index' && r.index !== undefined && entry.count > 0) {
    const cb = entry.colIndex === 'uint8' ? 1 : entry.colIndex === 'uint16' ? 2 : 4;
    writeUint(view, r.index + (op.k % entry.count) * cb, cb, op.value);
  } else if (op.op === 'row-ptr' && r.ptr !== undefined) {
    const rb = entry.rowPtr === 'uint16' ? 2 : 4;
    writeUint(view, r.ptr + (op.row % (entry.rows + 1)) * rb, rb, op.value);
  } else if (op.op === 'mask-bit' && r.mask !== undefined) {
    const bits = (r.values - r.mask) * 8;
    const bit = op.bit % bits;
    data[r.mask + (bit >>> 3)] ^= 1 << (bit & 7);
  }
}

function applyTopology(json: Any, op: Op): void {
  if (op.op === 'weights') {
    const w = json.weights;
    if (!Array.isArray(w) || w.length === 0) return;
    const i = op.index % w.length;
    if (op.kind === 'drop') w.splice(i, 1);
    else if (op.kind === 'duplicate') w.splice(i, 0, structuredClone(w[i]));
    else [w[i], w[(i + 1) % w.length]] = [w[(i + 1) % w.length], w[i]];
    return;
  }
  if (op.op !== 'topology') return;
  const layersList = json.modelTopology?.config?.layers;
  if (!Array.isArray(layersList) || layersList.length === 0) return;
  const i = op.layer % layersList.length;
  const layer = layersList[i];
  const firstRef = layer?.inbound_nodes?.[0]?.[0];
  if (op.kind === 'remove-layer') layersList.splice(i, 1);
  else if (!Array.isArray(firstRef)) return;
  else if (op.kind === 'missing-ref') firstRef[0] = 'no_such_layer';
  else if (op.kind === 'node-index') firstRef[1] = 5;
  else firstRef[0] = layer.name;
}

/** One csr kernel of rows × cols holding a single non-zero: a small file that claims a huge weight. */
function hugeCsr(json: Any, rows: number, cols: number): Uint8Array {
  const data = new Uint8Array((rows + 1) * 4 + 8);
  const view = new DataView(data.buffer);
  for (let r = 1; r <= rows; r++) view.setUint32(r * 4, 1, true);
  view.setUint32((rows + 1) * 4, 7, true);
  view.setFloat32((rows + 1) * 4 + 4, 0.5, true);
  json.modelTopology = {
    class_name: 'Sequential',
    config: {
      name: 's',
      layers: [{ class_name: 'Dense', config: { name: 'd', units: cols, use_bias: false, batch_input_shape: [null, rows] } }],
    },
  };
  json.weights = [
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
  json.weightsByteLength = data.byteLength;
  return data;
}

async function runSparse(c: Case, base: SparseBase, dir: string): Promise<{ outcome: Outcome; detail?: string }> {
  const json = structuredClone(base.json);
  let data: Uint8Array<ArrayBufferLike> = base.data.slice();
  for (const op of c.ops) {
    if (op.op === 'huge-csr') data = hugeCsr(json, op.rows, op.cols);
    applyJson(json, op);
    applyTopology(json, op);
    applySparseBytes(base, data, op);
    data = applyBytes(data, op);
  }
  if (c.ops.some((o) => o.op === 'reseal') && typeof layers.sparseChecksum === 'function') {
    try {
      json.checksum = layers.sparseChecksum(json, data);
    } catch {
      /* an unserialisable manifest: left as it is */
    }
  }
  const crafted = c.ops.some((o) => o.op === 'reseal') && typeof layers.sparseChecksum === 'function';
  if (c.via === 'load') {
    writeSparseDir(dir, json, data);
    const escapeOp = c.ops.find((o) => o.op === 'escape');
    if (escapeOp && escapeOp.op === 'escape') {
      const target = escapeOp.kind === 'absolute' ? secret : escapeOp.kind === 'parent' ? '../secret.bin' : 'link.bin';
      if (escapeOp.kind === 'symlink') symlinkSync(secret, join(dir, 'link.bin'));
      if (escapeOp.kind === 'parent') writeFileSync(join(dir, '..', 'secret.bin'), new Uint8Array(SECRET_BYTES));
      json.weightsPath = target;
      writeFileSync(join(dir, 'model.sparse.json'), JSON.stringify(json));
    }
    const fifo = c.ops.find((o) => o.op === 'fifo');
    if (fifo) {
      rmSync(join(dir, 'model.sparse.json'));
      execFileSync('mkfifo', [join(dir, 'model.sparse.json')]);
    }
    let model: Any;
    try {
      model = await layers.loadSparse(dir);
    } catch (error) {
      return classifyError(error);
    }
    try {
      const config = JSON.stringify(model.getConfig());
      const weights = modelBytes(model);
      if (config === base.loaded.config && Buffer.from(weights).equals(Buffer.from(base.loaded.weights))) return { outcome: 'original' };
      if (!new Float32Array(weights.buffer, weights.byteOffset, weights.byteLength / 4).every(Number.isFinite))
        return { outcome: 'accepted-non-finite' };
      return { outcome: crafted ? 'crafted-valid' : 'accepted-different', detail: 'loaded a different model' };
    } finally {
      model.dispose();
    }
  }
  let result: Any;
  try {
    result = layers.decodeSparse(json, data);
  } catch (error) {
    return classifyError(error);
  }
  const weights = new Uint8Array(result.weightData);
  if (
    sameValue(result.weightSpecs, base.reference.specs) &&
    Buffer.from(weights).equals(Buffer.from(base.reference.weights)) &&
    JSON.stringify(result.modelTopology) === base.reference.topology
  ) {
    return { outcome: 'original' };
  }
  const floats = result.weightSpecs.every((s: Any) => s.dtype === 'float32')
    ? new Float32Array(weights.buffer, weights.byteOffset, Math.floor(weights.byteLength / 4))
    : null;
  if (floats && !floats.every(Number.isFinite)) return { outcome: 'accepted-non-finite', detail: 'decoded NaN/Inf' };
  if (!crafted) return { outcome: 'accepted-different', detail: 'decoded other weights' };
  // A crafted file is a valid file of other weights only if no stored value was lost or shifted out.
  let at = 0;
  for (const [i, spec] of result.weightSpecs.entries()) {
    const size = spec.shape.reduce((a: number, b: number) => a * b, 1);
    const entry = json.weights[i];
    if (spec.dtype === 'float32' && entry?.encoding !== 'dense') {
      const values = new Float32Array(weights.buffer.slice(weights.byteOffset + at, weights.byteOffset + at + 4 * size));
      const nonZeros = values.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
      if (nonZeros !== entry?.count)
        return { outcome: 'accepted-different', detail: `weight ${i} decodes to ${nonZeros} non-zeros; count says ${entry?.count}` };
    }
    at += size * (spec.dtype === 'bool' ? 1 : 4);
  }
  return { outcome: 'crafted-valid' };
}

// ---------------------------------------------------------------------------------------------------

interface CheckpointBase {
  bytes: Uint8Array;
  value: unknown;
  read(dir: string): unknown;
}

async function checkpointBase(): Promise<CheckpointBase> {
  const dir = join(root, 'base-checkpoint');
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const x = tf.randomNormal([64, 8], 0, 1, 'float32', 3);
  const y = tf.tidy(() => tf.argMax(tf.matMul(x, tf.randomNormal([8, 3], 0, 1, 'float32', 4)), 1));
  const split = train.tensorData(x, y);
  await train.train({
    model,
    data: { train: split, test: split },
    epochs: 2,
    batchSize: 16,
    prune: { sparsity: 0.5 },
    finetune: { epochs: 1 },
    runDir: dir,
  });
  tf.dispose([model, x, y]);
  const read = (d: string) => (typeof train.readRunCheckpoint === 'function' ? train.readRunCheckpoint(d)?.value : train.readCheckpoint(d));
  return { bytes: new Uint8Array(readFileSync(join(dir, 'checkpoint.bin'))), value: read(dir), read };
}

function runCheckpoint(c: Case, base: CheckpointBase, dir: string): { outcome: Outcome; detail?: string } {
  let bytes: Uint8Array<ArrayBufferLike> = base.bytes;
  if (c.ops.some((o) => o.op === 'reseal')) {
    const value = structuredClone(base.value);
    for (const op of c.ops) applyJson(value, op);
    bytes = new Uint8Array(train.encodeCheckpoint(value));
  }
  for (const op of c.ops) bytes = applyBytes(bytes, op);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'checkpoint.bin'), bytes);
  let value: unknown;
  try {
    value = base.read(dir);
  } catch (error) {
    return classifyError(error);
  }
  // The weights and masks are what matter; a crafted counter or timing that passes the checks is harmless.
  if (sameValue((value as Any)?.model, (base.value as Any).model) && sameValue((value as Any)?.masks, (base.value as Any).masks))
    return { outcome: 'original' };
  const model = (value as Any)?.model;
  if (Array.isArray(model) && model.some((m: Any) => m instanceof Float32Array && !m.every(Number.isFinite)))
    return { outcome: 'accepted-non-finite' };
  return { outcome: 'accepted-different', detail: 'read a checkpoint that differs from the one written' };
}

// ---------------------------------------------------------------------------------------------------

interface DatasetBase {
  files: { name: string; bytes: Uint8Array }[];
  gzip: boolean;
  spec: (dir: string) => string;
  summary: string;
  content: string;
}

function idxFile(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** The structure of a loaded dataset (and whether every class has training examples), and a hash of its content. */
function describe(loaded: Any): { summary: string; content: string; everyClass: boolean } {
  const parts = [loaded.train, loaded.test];
  const summary = JSON.stringify({ classes: loaded.numClasses, shape: loaded.sampleShape, sizes: parts.map((p: Any) => p.size) });
  const counts = loaded.train.classCounts() as number[];
  const everyClass = counts.length === loaded.numClasses && counts.every((n) => n > 0);
  let hash = 0;
  for (const p of parts) {
    for (let i = 0; i < p.size; i++) {
      hash = (hash * 31 + p.label(i)) | 0;
      for (const v of p.sample(i)) hash = (hash * 31 + v) | 0;
    }
  }
  return { summary, content: String(hash), everyClass };
}

function datasetBases(): Record<string, DatasetBase> {
  const images = (n: number) => Uint8Array.from({ length: n * 16 }, (_, i) => (i * 7) & 0xff);
  const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 10);
  const idxFiles = [
    { name: 'train-images-idx3-ubyte', bytes: idxFile([20, 4, 4], images(20)) },
    { name: 'train-labels-idx1-ubyte', bytes: idxFile([20], labels(20)) },
    { name: 't10k-images-idx3-ubyte', bytes: idxFile([10, 4, 4], images(10)) },
    { name: 't10k-labels-idx1-ubyte', bytes: idxFile([10], labels(10)) },
  ];
  const record = (label: number, r: number) => Uint8Array.from({ length: 3073 }, (_, i) => (i === 0 ? label : (r * 13 + i) & 0xff));
  const cifarFiles = [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ].map((name, f) => ({
    name,
    bytes: new Uint8Array(Buffer.concat([record((2 * f) % 10, 2 * f), record((2 * f + 1) % 10, 2 * f + 1)])),
  }));
  const bases: Record<string, DatasetBase> = {};
  for (const [name, files, gzip, spec] of [
    ['raw', idxFiles, false, (d: string) => `idx:${d}`],
    ['gzip', idxFiles, true, (d: string) => `idx:${d}`],
    ['cifar10', cifarFiles, false, (d: string) => `cifar10:${d}`],
  ] as const) {
    const dir = join(root, `base-${name}`);
    const base = { files: files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) })), gzip, spec, summary: '', content: '' };
    writeDataset(
      base,
      base.files.map((f) => f.bytes),
      dir,
    );
    Object.assign(base, describe(datasets.loadDataset(spec(dir))));
    bases[name] = base;
  }
  return bases;
}

function writeDataset(base: DatasetBase, contents: Uint8Array[], dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return base.files.map((f, i) => {
    const path = join(dir, base.gzip ? `${f.name}.gz` : f.name);
    writeFileSync(path, contents[i]);
    return path;
  });
}

function runDataset(c: Case, base: DatasetBase, dir: string): { outcome: Outcome; detail?: string } {
  const contents: Uint8Array<ArrayBufferLike>[] = base.files.map((f) => f.bytes.slice());
  for (const op of c.ops) {
    if (!('file' in op)) continue;
    const i = op.file % contents.length;
    const view = new DataView(contents[i].buffer);
    if (op.op === 'idx-header') {
      const rank = contents[i][3];
      const at = 4 * (op.index % (rank + 1));
      if (at + 4 <= contents[i].length) view.setUint32(at, op.value >>> 0, false);
    } else if (op.op === 'label') {
      if (c.target === 'cifar') {
        const records = Math.floor(contents[i].length / 3073);
        if (records > 0) contents[i][(op.index % records) * 3073] = op.value;
      } else if (contents[i][3] === 1 && contents[i].length > 8) {
        contents[i][8 + (op.index % (contents[i].length - 8))] = op.value;
      }
    } else if (!base.gzip) contents[i] = applyBytes(contents[i], op);
  }
  const written = base.gzip ? contents.map((b) => new Uint8Array(gzipSync(b))) : contents;
  if (base.gzip)
    for (const op of c.ops) if ('file' in op) written[op.file % written.length] = applyBytes(written[op.file % written.length], op);
  const paths = writeDataset(base, written, dir);
  for (const op of c.ops) {
    if (op.op === 'fifo' || op.op === 'link-loop') {
      const path = paths[op.file % paths.length];
      rmSync(path);
      if (op.op === 'fifo') execFileSync('mkfifo', [path]);
      else {
        symlinkSync(`${path}.loop`, path);
        symlinkSync(path, `${path}.loop`);
      }
    }
  }
  let loaded: Any;
  try {
    loaded = datasets.loadDataset(base.spec(dir));
  } catch (error) {
    return classifyError(error);
  }
  const { summary, content, everyClass } = describe(loaded);
  // Without checksums, other bytes can be other data (CIFAR cut at a record boundary: fewer records);
  // but not classes without examples (a label of 200) or another sample shape.
  const structure = (s: string) => JSON.stringify({ ...JSON.parse(s), sizes: undefined });
  if (structure(summary) !== structure(base.summary) && !everyClass)
    return { outcome: 'accepted-suspicious', detail: `${summary} instead of ${base.summary}` };
  return { outcome: summary === base.summary && content === base.content ? 'original' : 'valid-data' };
}

// ---------------------------------------------------------------------------------------------------

const bases = { sparse: await sparseBases(), checkpoint: await checkpointBase(), datasets: datasetBases() };

async function runCase(c: Case, dir: string): Promise<{ outcome: Outcome; detail?: string }> {
  if (c.target === 'sparse') return runSparse(c, bases.sparse[c.base], dir);
  if (c.target === 'checkpoint') return runCheckpoint(c, bases.checkpoint, dir);
  return runDataset(c, bases.datasets[c.base], dir);
}

const { cases } = workerData as { cases: Case[] };
const port = parentPort!;
for (const [i, c] of cases.entries()) {
  port.postMessage({ type: 'start', index: i, dir: join(root, `case-${i}`) });
  const dir = join(root, `case-${i}`, 'model');
  const rssBefore = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  let result: { outcome: Outcome; detail?: string };
  try {
    result = await runCase(c, dir);
  } catch (error) {
    result = { outcome: 'context-free', detail: `harness: ${(error as Error).stack}` };
  }
  const ms = performance.now() - t0;
  const rssMB = (process.resourceUsage().maxRSS - rssBefore) / 1024;
  if (rssMB > MEMORY_MB) result = { outcome: 'memory', detail: `${rssMB.toFixed(0)} MB; ${result.outcome}: ${result.detail ?? ''}` };
  else if (ms > SLOW_MS) result = { outcome: 'slow', detail: `${ms.toFixed(0)} ms; ${result.outcome}: ${result.detail ?? ''}` };
  rmSync(join(root, `case-${i}`), { recursive: true, force: true });
  const out: CaseResult = {
    name: c.name,
    target: c.target,
    outcome: result.outcome,
    ms,
    rssMB,
    ...(result.detail ? { detail: result.detail } : {}),
  };
  port.postMessage({ type: 'result', index: i, result: out });
}
rmSync(root, { recursive: true, force: true });
port.postMessage({ type: 'done' });
