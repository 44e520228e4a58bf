import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, check, checkOneOf } from '@sparsify/core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FLOAT16_MAX, fromFloat16Bits, toFloat16Bits } from './float16.js';
import { captureArtifacts, writeDirectoryAtomic } from './io.js';
import { checkExecutionOptions, sparseModelFromArtifacts, type SparseExecutionOptions, type SparseModel } from './sparse-model.js';

export const SPARSE_MODEL_JSON = 'model.sparse.json';
export const SPARSE_WEIGHTS_BIN = 'weights.sparse.bin';
export const SPARSE_FORMAT = 'sparsify-sparse';
export const SPARSE_FORMAT_VERSION = 1;

/** How the zeros of a float32 weight are skipped. */
export type SparseEncoding = 'bitmask' | 'csr';
export const SPARSE_ENCODINGS: readonly SparseEncoding[] = ['bitmask', 'csr'];
/** How the stored (non-zero) values are written: float32 (exact, default), float16, or int8 with one scale per tensor. */
export type ValueQuantization = 'float16' | 'int8';
export const VALUE_QUANTIZATIONS: readonly ValueQuantization[] = ['float16', 'int8'];

export interface SparseSaveOptions {
  /** Default `bitmask`: one bit per entry + the non-zeros. `csr`: per-row pointers + column indices + non-zeros. */
  encoding?: SparseEncoding;
  /** Lossy value storage; zeros stay exact zeros either way. Default: none (float32, exact). */
  quantize?: ValueQuantization | null;
}

/** One weight in the sparse manifest. */
export interface SparseWeightEntry {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: tf.DataType;
  readonly group?: tf.io.WeightGroup;
  /** `dense` where the sparse encoding would not be smaller (biases) or the dtype is not float32. */
  readonly encoding: 'dense' | SparseEncoding;
  /** Value storage: `raw` copies non-float32 weights byte for byte. */
  readonly values: 'float32' | 'float16' | 'int8' | 'raw';
  /** int8: value = q · scale. */
  readonly scale?: number;
  /** Stored values (non-zeros for sparse encodings). */
  readonly count: number;
  /** csr: the weight as a rows × cols matrix (cols = last dimension) and the index widths. */
  readonly rows?: number;
  readonly cols?: number;
  readonly rowPtr?: 'uint16' | 'uint32';
  readonly colIndex?: 'uint8' | 'uint16' | 'uint32';
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** The sparse model file: the tfjs topology plus a sparse weights manifest. */
export interface SparseModelJSON {
  readonly format: typeof SPARSE_FORMAT;
  readonly formatVersion: number;
  readonly generatedBy: string;
  readonly modelTopology: object;
  /** The original artifacts' `format`, `generatedBy`, `convertedBy`, training config and metadata. */
  readonly artifacts: {
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    trainingConfig?: tf.io.TrainingConfig;
    userDefinedMetadata?: { [key: string]: unknown };
  };
  readonly weightsPath: string;
  readonly weightsByteLength: number;
  readonly weights: SparseWeightEntry[];
}

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

function bytesPerValue(q: ValueQuantization | null): number {
  return q === 'float16' ? 2 : q === 'int8' ? 1 : 4;
}

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.byteLength;
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.byteLength;
    }
    return out;
  }
}

function uintArray(kind: 'uint8' | 'uint16' | 'uint32', n: number): Uint8Array | Uint16Array | Uint32Array {
  return kind === 'uint8' ? new Uint8Array(n) : kind === 'uint16' ? new Uint16Array(n) : new Uint32Array(n);
}

const UINT_BYTES = { uint8: 1, uint16: 2, uint32: 4 } as const;

/** Little-endian bytes of a typed array (copies; platforms are little-endian in practice, but be explicit). */
function leBytes(array: Uint8Array | Uint16Array | Uint32Array | Float32Array | Int8Array): Uint8Array {
  const out = new Uint8Array(array.length * array.BYTES_PER_ELEMENT);
  const view = new DataView(out.buffer);
  if (array instanceof Float32Array) array.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (array instanceof Uint32Array) array.forEach((v, i) => view.setUint32(i * 4, v, true));
  else if (array instanceof Uint16Array) array.forEach((v, i) => view.setUint16(i * 2, v, true));
  else out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return out;
}

function encodeValues(values: Float32Array, q: ValueQuantization | null, name: string): { bytes: Uint8Array; scale?: number } {
  if (q === 'float16') {
    const bits = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!(Math.abs(v) <= FLOAT16_MAX)) {
        throw new SparsifyConfigError(`quantize "float16": weight ${JSON.stringify(name)} has the value ${v}, outside ±${FLOAT16_MAX}; use no quantization or "int8"`);
      }
      bits[i] = toFloat16Bits(v);
    }
    return { bytes: leBytes(bits) };
  }
  if (q === 'int8') {
    let max = 0;
    for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
    if (!Number.isFinite(max)) throw new SparsifyConfigError(`quantize "int8": weight ${JSON.stringify(name)} has a non-finite value`);
    const scale = max === 0 ? 1 : max / 127;
    const q8 = new Int8Array(values.length);
    for (let i = 0; i < values.length; i++) q8[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scale)));
    return { bytes: leBytes(q8), scale };
  }
  return { bytes: leBytes(values) };
}

function decodeValues(view: DataView, offset: number, count: number, entry: SparseWeightEntry): Float32Array {
  const out = new Float32Array(count);
  if (entry.values === 'float16') for (let i = 0; i < count; i++) out[i] = fromFloat16Bits(view.getUint16(offset + 2 * i, true));
  else if (entry.values === 'int8') for (let i = 0; i < count; i++) out[i] = view.getInt8(offset + i) * entry.scale!;
  else for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, true);
  return out;
}

function csrLayout(shape: readonly number[], size: number): { rows: number; cols: number } {
  const cols = shape.length >= 1 ? shape[shape.length - 1] : 1;
  return { rows: cols === 0 ? 0 : size / cols, cols };
}

/**
 * Encodes saved model artifacts (`model.save` output) with the zeros left out: every float32 weight is
 * stored with `encoding` when that is smaller than dense, else dense; values optionally quantized.
 * Pure and synchronous; `decodeSparse` inverts it (exactly, without quantization).
 */
export function encodeSparse(artifacts: tf.io.ModelArtifacts, options: SparseSaveOptions = {}): { json: SparseModelJSON; data: Uint8Array } {
  const encoding = options.encoding ?? 'bitmask';
  const quantize = options.quantize ?? null;
  checkOneOf('encoding', encoding, SPARSE_ENCODINGS);
  if (quantize !== null) checkOneOf('quantize', quantize, VALUE_QUANTIZATIONS);
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new SparsifyConfigError('encodeSparse needs the JSON topology of a LayersModel (model.save artifacts)');
  }
  const specs = artifacts.weightSpecs ?? [];
  const all = new Uint8Array(artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const input = new DataView(all.buffer, all.byteOffset, all.byteLength);
  const writer = new ByteWriter();
  const entries: SparseWeightEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) throw new SparsifyConfigError(`weight ${JSON.stringify(spec.name)} is already quantized; encodeSparse takes float weights`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const width = BYTES[spec.dtype];
    if (width === undefined) throw new SparsifyConfigError(`weight ${JSON.stringify(spec.name)} has dtype ${spec.dtype}; supported: float32, int32, bool`);
    const byteLength = size * width;
    check(offset + byteLength <= all.byteLength, `weight data length (for ${JSON.stringify(spec.name)})`, all.byteLength, `≥ ${offset + byteLength}`);
    const base = { name: spec.name, shape: spec.shape.slice(), dtype: spec.dtype, ...(spec.group ? { group: spec.group } : {}) };
    const start = writer.length;
    if (spec.dtype !== 'float32') {
      writer.push(all.slice(offset, offset + byteLength));
      entries.push({ ...base, encoding: 'dense', values: 'raw', count: size, byteOffset: start, byteLength });
      offset += byteLength;
      continue;
    }
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = input.getFloat32(offset + 4 * i, true);
    offset += byteLength;
    let nnz = 0;
    for (let i = 0; i < size; i++) if (values[i] !== 0) nnz++;
    const vb = bytesPerValue(quantize);
    const valueKind = quantize ?? 'float32';
    const denseBytes = size * vb;
    const { rows, cols } = csrLayout(spec.shape, size);
    const rowPtr: 'uint16' | 'uint32' = nnz <= 0xffff ? 'uint16' : 'uint32';
    const colIndex: 'uint8' | 'uint16' | 'uint32' = cols <= 0x100 ? 'uint8' : cols <= 0x10000 ? 'uint16' : 'uint32';
    const sparseBytes =
      encoding === 'bitmask' ? Math.ceil(size / 8) + nnz * vb : (rows + 1) * UINT_BYTES[rowPtr] + nnz * (UINT_BYTES[colIndex] + vb);
    if (sparseBytes >= denseBytes) {
      const { bytes, scale } = encodeValues(values, quantize, spec.name);
      writer.push(bytes);
      entries.push({ ...base, encoding: 'dense', values: valueKind, ...(scale !== undefined ? { scale } : {}), count: size, byteOffset: start, byteLength: bytes.byteLength });
      continue;
    }
    const nonZeros = new Float32Array(nnz);
    if (encoding === 'bitmask') {
      const bits = new Uint8Array(Math.ceil(size / 8));
      for (let i = 0, k = 0; i < size; i++) {
        if (values[i] !== 0) {
          bits[i >>> 3] |= 1 << (i & 7);
          nonZeros[k++] = values[i];
        }
      }
      const { bytes, scale } = encodeValues(nonZeros, quantize, spec.name);
      writer.push(bits);
      writer.push(bytes);
      entries.push({
        ...base,
        encoding,
        values: valueKind,
        ...(scale !== undefined ? { scale } : {}),
        count: nnz,
        byteOffset: start,
        byteLength: bits.byteLength + bytes.byteLength,
      });
    } else {
      const ptr = uintArray(rowPtr, rows + 1);
      const idx = uintArray(colIndex, nnz);
      let k = 0;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const v = values[r * cols + c];
          if (v !== 0) {
            idx[k] = c;
            nonZeros[k++] = v;
          }
        }
        ptr[r + 1] = k;
      }
      const { bytes, scale } = encodeValues(nonZeros, quantize, spec.name);
      const ptrBytes = leBytes(ptr);
      const idxBytes = leBytes(idx);
      writer.push(ptrBytes);
      writer.push(idxBytes);
      writer.push(bytes);
      entries.push({
        ...base,
        encoding,
        values: valueKind,
        ...(scale !== undefined ? { scale } : {}),
        count: nnz,
        rows,
        cols,
        rowPtr,
        colIndex,
        byteOffset: start,
        byteLength: ptrBytes.byteLength + idxBytes.byteLength + bytes.byteLength,
      });
    }
  }
  const data = writer.concat();
  const json: SparseModelJSON = {
    format: SPARSE_FORMAT,
    formatVersion: SPARSE_FORMAT_VERSION,
    generatedBy: '@sparsify/layers',
    modelTopology: artifacts.modelTopology as object,
    artifacts: {
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
      ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
    },
    weightsPath: SPARSE_WEIGHTS_BIN,
    weightsByteLength: data.byteLength,
    weights: entries,
  };
  return { json, data };
}

function readUint(view: DataView, offset: number, kind: 'uint8' | 'uint16' | 'uint32'): number {
  return kind === 'uint8' ? view.getUint8(offset) : kind === 'uint16' ? view.getUint16(offset, true) : view.getUint32(offset, true);
}

/** Dense tfjs model artifacts from a sparse model: load them with `tf.loadLayersModel(tf.io.fromMemory(artifacts))`. */
export function decodeSparse(json: SparseModelJSON, data: ArrayBuffer | Uint8Array): tf.io.ModelArtifacts {
  check(json?.format === SPARSE_FORMAT, 'sparse model format', json?.format, JSON.stringify(SPARSE_FORMAT));
  check(json.formatVersion === SPARSE_FORMAT_VERSION, 'sparse model formatVersion', json.formatVersion, String(SPARSE_FORMAT_VERSION));
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  check(bytes.byteLength === json.weightsByteLength, 'sparse weights file length', bytes.byteLength, `${json.weightsByteLength} (as recorded in the manifest)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const e of json.weights) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    check(e.byteOffset + e.byteLength <= bytes.byteLength, `byte range of weight ${JSON.stringify(e.name)}`, [e.byteOffset, e.byteLength], `within the ${bytes.byteLength}-byte weights file`);
    specs.push({ name: e.name, shape: e.shape, dtype: e.dtype as tf.io.WeightsManifestEntry['dtype'], ...(e.group ? { group: e.group } : {}) });
    if (e.values === 'raw') {
      parts.push(bytes.slice(e.byteOffset, e.byteOffset + e.byteLength));
      continue;
    }
    let dense: Float32Array;
    if (e.encoding === 'dense') {
      dense = decodeValues(view, e.byteOffset, size, e);
    } else if (e.encoding === 'bitmask') {
      const maskBytes = Math.ceil(size / 8);
      const nz = decodeValues(view, e.byteOffset + maskBytes, e.count, e);
      dense = new Float32Array(size);
      for (let i = 0, k = 0; i < size; i++) if (bytes[e.byteOffset + (i >>> 3)] & (1 << (i & 7))) dense[i] = nz[k++];
    } else if (e.encoding === 'csr') {
      const rows = e.rows!;
      const cols = e.cols!;
      const rb = UINT_BYTES[e.rowPtr!];
      const cb = UINT_BYTES[e.colIndex!];
      const ptrAt = e.byteOffset;
      const idxAt = ptrAt + (rows + 1) * rb;
      const nz = decodeValues(view, idxAt + e.count * cb, e.count, e);
      dense = new Float32Array(size);
      for (let r = 0; r < rows; r++) {
        const from = readUint(view, ptrAt + r * rb, e.rowPtr!);
        const to = readUint(view, ptrAt + (r + 1) * rb, e.rowPtr!);
        for (let k = from; k < to; k++) dense[r * cols + readUint(view, idxAt + k * cb, e.colIndex!)] = nz[k];
      }
    } else {
      throw new SparsifyConfigError(`weight ${JSON.stringify(e.name)} has an unknown encoding ${JSON.stringify(e.encoding)}`);
    }
    parts.push(leBytes(dense));
  }
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    weightData.set(p, at);
    at += p.byteLength;
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: weightData.buffer,
    format: json.artifacts?.format,
    generatedBy: json.artifacts?.generatedBy,
    convertedBy: json.artifacts?.convertedBy ?? null,
  };
  if (json.artifacts?.trainingConfig) artifacts.trainingConfig = json.artifacts.trainingConfig;
  if (json.artifacts?.userDefinedMetadata) artifacts.userDefinedMetadata = json.artifacts.userDefinedMetadata as {};
  return artifacts;
}

/** A tf.io save handler writing the sparse format (`model.sparse.json` + `weights.sparse.bin`) atomically. */
export function sparseSaveHandler(dir: string, options: SparseSaveOptions = {}): tf.io.IOHandler {
  check(typeof dir === 'string' && dir.length > 0, 'sparseSaveHandler directory', dir, 'a non-empty path');
  encodeSparse({ modelTopology: {}, weightSpecs: [] }, options); // validate options now
  return {
    save: async (artifacts) => {
      const { json, data } = encodeSparse(artifacts, options);
      const text = JSON.stringify(json);
      await writeDirectoryAtomic(dir, { [SPARSE_MODEL_JSON]: text, [SPARSE_WEIGHTS_BIN]: data });
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: Buffer.byteLength(text),
          weightSpecsBytes: 0,
          weightDataBytes: data.byteLength,
        },
      };
    },
  };
}

/** A tf.io load handler for the sparse format: `tf.loadLayersModel(sparseLoadHandler(dir))`. */
export function sparseLoadHandler(dir: string): tf.io.IOHandler {
  check(typeof dir === 'string' && dir.length > 0, 'sparseLoadHandler directory', dir, 'a non-empty path');
  return {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, SPARSE_MODEL_JSON), 'utf8')) as SparseModelJSON;
      const data = await readFile(join(dir, json.weightsPath ?? SPARSE_WEIGHTS_BIN));
      return decodeSparse(json, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    },
  };
}

export interface SparseSaveResult {
  readonly dir: string;
  /** Bytes written: the JSON file plus the weights file. */
  readonly bytes: number;
  /** What `model.save` would write dense (the same topology JSON with a standard manifest, plus float32 weights). */
  readonly denseBytes: number;
  /** denseBytes / bytes. */
  readonly ratio: number;
  readonly weights: readonly SparseWeightEntry[];
}

/**
 * Saves a (pruned) model in the sparse format. ≥ 10× smaller than dense for a 95%-sparse
 * LeNet-300-100 with the default bitmask encoding (see the README for measured ratios). Load with
 * `loadSparse(dir)`.
 */
export async function saveSparse(model: tf.LayersModel, dir: string, options: SparseSaveOptions = {}): Promise<SparseSaveResult> {
  const artifacts = await captureArtifacts(model);
  const { json, data } = encodeSparse(artifacts, options);
  const text = JSON.stringify(json);
  const target = await writeDirectoryAtomic(dir, { [SPARSE_MODEL_JSON]: text, [SPARSE_WEIGHTS_BIN]: data });
  const denseJson = JSON.stringify({
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
  });
  const denseBytes = Buffer.byteLength(denseJson) + (artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData).byteLength : 0);
  const bytes = Buffer.byteLength(text) + data.byteLength;
  return { dir: target, bytes, denseBytes, ratio: denseBytes / bytes, weights: json.weights };
}

/**
 * Loads a model saved by `saveSparse` as a plain (uncompiled) tfjs LayersModel; with `{ execute:
 * 'sparse' }` as a `SparseModel`, whose sparse Dense and 1×1 conv layers run as sparse × dense products.
 */
export async function loadSparse(dir: string): Promise<tf.LayersModel>;
export async function loadSparse(dir: string, options: SparseExecutionOptions): Promise<SparseModel>;
export async function loadSparse(dir: string, options?: SparseExecutionOptions): Promise<tf.LayersModel | SparseModel> {
  if (options === undefined) return tf.loadLayersModel(sparseLoadHandler(dir));
  checkExecutionOptions(options);
  const artifacts = await sparseLoadHandler(dir).load!();
  return sparseModelFromArtifacts(artifacts, options);
}
