import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, check, checkOneOf } from '@sparsify/core';
import { crc32 } from './crc32.js';
import { ModelFileError } from './errors.js';
import { FLOAT16_MAX, fromFloat16Bits, toFloat16Bits } from './float16.js';
import { checkPlainFileName } from './io.js';
import { checkTopology } from './topology.js';

export const SPARSE_MODEL_JSON = 'model.sparse.json';
export const SPARSE_WEIGHTS_BIN = 'weights.sparse.bin';
export const SPARSE_FORMAT = 'sparsify-sparse';
/** 2: with CRC-32 checksums of the manifest and of the weights file (1 had none and is not read). */
export const SPARSE_FORMAT_VERSION = 2;

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
  /** CRC-32 of `JSON.stringify([modelTopology, weights])` (UTF-8) and of the weights file. */
  readonly checksum: { algorithm: 'crc32'; manifest: number; weights: number };
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
        throw new SparsifyConfigError(
          `quantize "float16": weight ${JSON.stringify(name)} has the value ${v}, outside ±${FLOAT16_MAX}; use no quantization or "int8"`,
        );
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

function csrLayout(shape: readonly number[], size: number): { rows: number; cols: number } {
  const cols = shape.length >= 1 ? shape[shape.length - 1] : 1;
  return { rows: cols === 0 ? 0 : size / cols, cols };
}

/**
 * Encodes saved model artifacts (`model.save` output) with the zeros left out: every float32 weight is
 * stored with `encoding` when that is smaller than dense, else dense; values optionally quantized.
 * Pure and synchronous; `decodeSparse` inverts it (exactly, without quantization).
 */
export function encodeSparse(
  artifacts: tf.io.ModelArtifacts,
  options: SparseSaveOptions = {},
): { json: SparseModelJSON; data: Uint8Array } {
  const encoding = options.encoding ?? 'bitmask';
  const quantize = options.quantize ?? null;
  checkOneOf('encoding', encoding, SPARSE_ENCODINGS);
  if (quantize !== null) checkOneOf('quantize', quantize, VALUE_QUANTIZATIONS);
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new SparsifyConfigError('encodeSparse needs the JSON topology of a LayersModel (model.save artifacts)');
  }
  const specs = artifacts.weightSpecs ?? [];
  const all = new Uint8Array(
    artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData),
  );
  const input = new DataView(all.buffer, all.byteOffset, all.byteLength);
  const writer = new ByteWriter();
  const entries: SparseWeightEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization)
      throw new SparsifyConfigError(`weight ${JSON.stringify(spec.name)} is already quantized; encodeSparse takes float weights`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const width = BYTES[spec.dtype];
    if (width === undefined)
      throw new SparsifyConfigError(`weight ${JSON.stringify(spec.name)} has dtype ${spec.dtype}; supported: float32, int32, bool`);
    const byteLength = size * width;
    check(
      offset + byteLength <= all.byteLength,
      `weight data length (for ${JSON.stringify(spec.name)})`,
      all.byteLength,
      `≥ ${offset + byteLength}`,
    );
    const base = { name: spec.name, shape: spec.shape.slice(), dtype: spec.dtype, ...(spec.group ? { group: spec.group } : {}) };
    const start = writer.length;
    if (spec.dtype !== 'float32') {
      writer.push(all.slice(offset, offset + byteLength));
      entries.push({ ...base, encoding: 'dense', values: 'raw', count: size, byteOffset: start, byteLength });
      offset += byteLength;
      continue;
    }
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      values[i] = input.getFloat32(offset + 4 * i, true);
      if (!Number.isFinite(values[i]))
        throw new SparsifyConfigError(
          `weight ${JSON.stringify(spec.name)} has the value ${values[i]} at ${i}; only finite weights can be saved`,
        );
    }
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
      entries.push({
        ...base,
        encoding: 'dense',
        values: valueKind,
        ...(scale !== undefined ? { scale } : {}),
        count: size,
        byteOffset: start,
        byteLength: bytes.byteLength,
      });
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
    checksum: sparseChecksum({ modelTopology: artifacts.modelTopology as object, weights: entries }, data),
  };
  return { json, data };
}

function readUint(view: DataView, offset: number, kind: 'uint8' | 'uint16' | 'uint32'): number {
  return kind === 'uint8' ? view.getUint8(offset) : kind === 'uint16' ? view.getUint16(offset, true) : view.getUint32(offset, true);
}

/** Bytes of decoded (dense) weights `decodeSparse` refuses to exceed by default: 256 MiB. */
export const DEFAULT_MAX_DECODED_BYTES = 256 * 2 ** 20;
/** The largest `model.sparse.json` `loadSparse` reads: 64 MiB. */
export const MAX_SPARSE_JSON_BYTES = 64 * 2 ** 20;

/** What `loadSparse` and `sparseLoadHandler` take besides the directory. */
export type LoadSparseOptions = Omit<SparseDecodeOptions, 'files'>;

export interface SparseDecodeOptions {
  /** How errors name the two files (default `model.sparse.json` and the manifest's `weightsPath`). */
  files?: { json?: string; weights?: string };
  /** Refuse a model whose dense weights would take more bytes (default `DEFAULT_MAX_DECODED_BYTES`). */
  maxDecodedBytes?: number;
}

/** The manifest's checksum input: the topology and the weights list, as JSON. */
function manifestChecksum(json: Pick<SparseModelJSON, 'modelTopology' | 'weights'>): number {
  return crc32(new TextEncoder().encode(JSON.stringify([json.modelTopology, json.weights])));
}

/**
 * The `checksum` field for a sparse model's manifest and weights file: what `encodeSparse` writes, and
 * what a tool that edits a model on purpose writes back (the decoder refuses a file whose checksums do
 * not match, as damaged).
 */
export function sparseChecksum(json: Pick<SparseModelJSON, 'modelTopology' | 'weights'>, data: Uint8Array): SparseModelJSON['checksum'] {
  return { algorithm: 'crc32', manifest: manifestChecksum(json), weights: crc32(data) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
export const showValue = (v: unknown) => (typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v)).slice(0, 80));

/** One manifest entry, checked against the weights file (see `checkEntry`). */
interface CheckedEntry {
  entry: SparseWeightEntry;
  size: number;
  field: string;
}

/**
 * Checks a sparse model completely before anything proportional to the claimed shapes is allocated:
 * the manifest fields and their consistency, that the entries tile the weights file exactly, the
 * checksums, and then the bytes: csr row pointers and column indices, bitmask population, finite
 * stored values (none of them zero in a sparse encoding). Throws a ModelFileError naming the file and
 * the field.
 */
function checkSparseModel(json: unknown, bytes: Uint8Array, options: SparseDecodeOptions): CheckedEntry[] {
  const jsonFile = options.files?.json ?? SPARSE_MODEL_JSON;
  const fail = (field: string, problem: string): never => {
    throw new ModelFileError(jsonFile, field, problem);
  };
  if (!isObject(json)) return fail('(root)', `must be a JSON object; got ${showValue(json)}`);
  if (json.format !== SPARSE_FORMAT) fail('format', `must be ${JSON.stringify(SPARSE_FORMAT)}; got ${showValue(json.format)}`);
  if (json.formatVersion === 1) {
    fail(
      'formatVersion',
      'is 1: files of that version carry no checksum and are not read; export the model again (saveSparse, or sparsify export <run> --format sparse)',
    );
  }
  if (json.formatVersion !== SPARSE_FORMAT_VERSION)
    fail('formatVersion', `must be ${SPARSE_FORMAT_VERSION}; got ${showValue(json.formatVersion)}`);
  const weightsFile = options.files?.weights ?? (typeof json.weightsPath === 'string' ? json.weightsPath : SPARSE_WEIGHTS_BIN);
  checkPlainFileName(json.weightsPath, jsonFile, 'weightsPath');
  checkTopology(json.modelTopology, jsonFile);
  const artifacts = json.artifacts;
  if (artifacts !== undefined) {
    if (!isObject(artifacts)) fail('artifacts', 'must be an object');
    const a = artifacts as Record<string, unknown>;
    for (const key of ['format', 'generatedBy'])
      if (a[key] !== undefined && typeof a[key] !== 'string') fail(`artifacts.${key}`, 'must be a string');
    if (a.convertedBy != null && typeof a.convertedBy !== 'string') fail('artifacts.convertedBy', 'must be a string or null');
    for (const key of ['trainingConfig', 'userDefinedMetadata'])
      if (a[key] !== undefined && !isObject(a[key])) fail(`artifacts.${key}`, 'must be an object');
  }
  if (!isCount(json.weightsByteLength)) fail('weightsByteLength', `must be an integer ≥ 0; got ${showValue(json.weightsByteLength)}`);
  if (json.weightsByteLength !== bytes.byteLength) {
    throw new ModelFileError(
      weightsFile,
      '(length)',
      `is ${bytes.byteLength} bytes; ${jsonFile} (weightsByteLength) says ${json.weightsByteLength as number}`,
    );
  }
  const checksum = json.checksum;
  if (!isObject(checksum) || checksum.algorithm !== 'crc32' || !isCount(checksum.manifest) || !isCount(checksum.weights)) {
    fail('checksum', `must be { algorithm: "crc32", manifest, weights } (CRC-32 values); got ${showValue(checksum)}`);
  }
  if (!Array.isArray(json.weights)) fail('weights', 'must be an array of weight entries');
  const c = checksum as { manifest: number; weights: number };
  if (manifestChecksum(json as unknown as SparseModelJSON) !== c.manifest) {
    fail('checksum.manifest', 'does not match modelTopology and weights: the file was changed or damaged after it was written');
  }
  if (crc32(bytes) !== c.weights) {
    throw new ModelFileError(
      weightsFile,
      '(checksum)',
      `does not match ${jsonFile} (checksum.weights): the weights file was changed or damaged after it was written`,
    );
  }
  const maxDecoded = options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  const names = new Set<string>();
  let offset = 0;
  let decoded = 0;
  const checked = (json.weights as unknown[]).map((e, i) => {
    const field = `weights[${i}]`;
    if (!isObject(e)) return fail(field, 'must be an object');
    const entry = e as unknown as SparseWeightEntry;
    if (typeof entry.name !== 'string' || entry.name.length === 0)
      fail(`${field}.name`, `must be a non-empty string; got ${showValue(entry.name)}`);
    if (names.has(entry.name)) fail(`${field}.name`, `repeats ${JSON.stringify(entry.name)}`);
    names.add(entry.name);
    const size = checkEntry(entry, field, fail);
    decoded += size * BYTES[entry.dtype]!;
    if (decoded > maxDecoded) {
      fail(
        `${field}.shape`,
        `${JSON.stringify(entry.shape)} takes the decoded weights past ${maxDecoded} bytes (maxDecodedBytes); a larger model needs a larger limit`,
      );
    }
    if (entry.byteOffset !== offset)
      fail(`${field}.byteOffset`, `must be ${offset} (where the previous weight ends); got ${showValue(entry.byteOffset)}`);
    offset += entry.byteLength;
    if (offset > bytes.byteLength)
      fail(`${field}.byteLength`, `${entry.byteLength} runs past the end of the ${bytes.byteLength}-byte weights file`);
    return { entry, size, field };
  });
  if (offset !== bytes.byteLength) fail('weights', `cover ${offset} of the ${bytes.byteLength} bytes of the weights file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const item of checked) checkEntryBytes(item, bytes, view, weightsFile);
  return checked;
}

/** The fields of one entry and their consistency; returns the weight's element count. */
function checkEntry(e: SparseWeightEntry, field: string, fail: (field: string, problem: string) => never): number {
  if (!Array.isArray(e.shape) || e.shape.length > 8 || !e.shape.every(isCount))
    fail(`${field}.shape`, `must be an array of at most 8 integers ≥ 0; got ${showValue(e.shape)}`);
  const size = e.shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(size)) fail(`${field}.shape`, `${JSON.stringify(e.shape)} has too many elements`);
  if (!Object.hasOwn(BYTES, e.dtype)) fail(`${field}.dtype`, `must be one of float32, int32, bool; got ${showValue(e.dtype)}`);
  if (e.group !== undefined && typeof e.group !== 'string') fail(`${field}.group`, 'must be a string');
  if (!['dense', ...SPARSE_ENCODINGS].includes(e.encoding))
    fail(`${field}.encoding`, `must be one of dense, ${SPARSE_ENCODINGS.join(', ')}; got ${showValue(e.encoding)}`);
  const valueKinds = e.dtype === 'float32' ? ['float32', ...VALUE_QUANTIZATIONS] : ['raw'];
  if (!valueKinds.includes(e.values))
    fail(`${field}.values`, `must be one of ${valueKinds.join(', ')} for a ${e.dtype} weight; got ${showValue(e.values)}`);
  if (e.values === 'raw' && e.encoding !== 'dense')
    fail(`${field}.encoding`, `must be dense for ${e.dtype} weights; got ${showValue(e.encoding)}`);
  if (e.values === 'int8') {
    if (typeof e.scale !== 'number' || !Number.isFinite(e.scale) || e.scale <= 0)
      fail(`${field}.scale`, `must be a finite number > 0 for int8 values; got ${showValue(e.scale)}`);
  } else if (e.scale !== undefined) fail(`${field}.scale`, `is only for int8 values; got ${showValue(e.scale)} with ${e.values}`);
  if (!isCount(e.count)) fail(`${field}.count`, `must be an integer ≥ 0; got ${showValue(e.count)}`);
  if (e.encoding === 'dense' ? e.count !== size : e.count > size) {
    fail(`${field}.count`, `${e.count} does not fit a ${e.encoding} weight of ${size} elements`);
  }
  if (!isCount(e.byteOffset)) fail(`${field}.byteOffset`, `must be an integer ≥ 0; got ${showValue(e.byteOffset)}`);
  if (!isCount(e.byteLength)) fail(`${field}.byteLength`, `must be an integer ≥ 0; got ${showValue(e.byteLength)}`);
  const vb = e.values === 'raw' ? BYTES[e.dtype]! : bytesPerValue(e.values === 'float32' ? null : e.values);
  let expected: number;
  if (e.encoding === 'dense') expected = size * vb;
  else if (e.encoding === 'bitmask') expected = Math.ceil(size / 8) + e.count * vb;
  else {
    const { rows, cols } = csrLayout(e.shape, size);
    if (e.cols !== cols || e.rows !== rows)
      fail(
        `${field}.rows`,
        `rows × cols must be ${rows} × ${cols} (cols = the last dimension); got ${showValue(e.rows)} × ${showValue(e.cols)}`,
      );
    if (e.rowPtr !== 'uint16' && e.rowPtr !== 'uint32') fail(`${field}.rowPtr`, `must be uint16 or uint32; got ${showValue(e.rowPtr)}`);
    if (!Object.hasOwn(UINT_BYTES, e.colIndex as string))
      fail(`${field}.colIndex`, `must be uint8, uint16 or uint32; got ${showValue(e.colIndex)}`);
    expected = (rows + 1) * UINT_BYTES[e.rowPtr!] + e.count * (UINT_BYTES[e.colIndex!] + vb);
  }
  if (e.byteLength !== expected)
    fail(
      `${field}.byteLength`,
      `must be ${expected} for ${e.encoding} ${e.values} values of shape ${JSON.stringify(e.shape)} with count ${e.count}; got ${e.byteLength}`,
    );
  return size;
}

/** Stored value `i` of an entry whose values start at `offset`. */
function valueAt(view: DataView, offset: number, i: number, e: SparseWeightEntry): number {
  if (e.values === 'float16') return fromFloat16Bits(view.getUint16(offset + 2 * i, true));
  if (e.values === 'int8') return view.getInt8(offset + i) * e.scale!;
  return view.getFloat32(offset + 4 * i, true);
}

/** The bytes of one (already consistent) entry: indices, bitmask population, values. */
function checkEntryBytes({ entry: e, size, field }: CheckedEntry, bytes: Uint8Array, view: DataView, file: string): void {
  const where = `${field} (${JSON.stringify(e.name)})`;
  const fail = (region: string, problem: string): never => {
    throw new ModelFileError(file, `${where}.${region}`, problem);
  };
  let valuesAt = e.byteOffset;
  if (e.values === 'raw') {
    if (e.dtype === 'bool')
      for (let i = 0; i < size; i++)
        if (bytes[e.byteOffset + i] > 1) fail('values', `bool value ${bytes[e.byteOffset + i]} at ${i} is not 0 or 1`);
    return;
  }
  if (e.encoding === 'bitmask') {
    const maskBytes = Math.ceil(size / 8);
    let ones = 0;
    for (let i = 0; i < maskBytes; i++) {
      let b = bytes[e.byteOffset + i];
      if (i === maskBytes - 1 && size % 8 !== 0 && b >> (size % 8) !== 0)
        fail('bitmask', `has bits set past the ${size} elements of the weight`);
      for (; b; b &= b - 1) ones++;
    }
    if (ones !== e.count) fail('bitmask', `marks ${ones} non-zeros; count says ${e.count}`);
    valuesAt += maskBytes;
  } else if (e.encoding === 'csr') {
    const rows = e.rows!;
    const cols = e.cols!;
    const rb = UINT_BYTES[e.rowPtr!];
    const cb = UINT_BYTES[e.colIndex!];
    const idxAt = e.byteOffset + (rows + 1) * rb;
    let previous = readUint(view, e.byteOffset, e.rowPtr!);
    if (previous !== 0) fail('rowPtr', `must start at 0; got ${previous}`);
    for (let r = 0; r < rows; r++) {
      const next = readUint(view, e.byteOffset + (r + 1) * rb, e.rowPtr!);
      if (next < previous || next > e.count)
        fail('rowPtr', `entry ${r + 1} is ${next}: row pointers must not decrease and stay within count ${e.count}`);
      for (let k = previous; k < next; k++) {
        const col = readUint(view, idxAt + k * cb, e.colIndex!);
        if (col >= cols) fail('colIndex', `value ${col} at non-zero ${k} (row ${r}) is not below cols ${cols}`);
        if (k > previous && col <= readUint(view, idxAt + (k - 1) * cb, e.colIndex!))
          fail('colIndex', `value ${col} at non-zero ${k} (row ${r}) does not increase along the row`);
      }
      previous = next;
    }
    if (previous !== e.count) fail('rowPtr', `ends at ${previous}; count says ${e.count}`);
    valuesAt = idxAt + e.count * cb;
  }
  for (let i = 0; i < e.count; i++) {
    const v = valueAt(view, valuesAt, i, e);
    if (!Number.isFinite(v)) fail('values', `value ${i} is ${v}; weights must be finite`);
    if (v === 0 && e.encoding !== 'dense') fail('values', `value ${i} is 0, but a ${e.encoding} weight stores only non-zeros`);
  }
}

/**
 * Dense tfjs model artifacts from a sparse model: load them with
 * `tf.loadLayersModel(tf.io.fromMemory(artifacts))`. Everything is checked first (see
 * `checkSparseModel`): a damaged or hostile file is a ModelFileError naming the file and the field,
 * never different weights, a hang, or an allocation beyond `maxDecodedBytes`.
 */
export function decodeSparse(
  json: SparseModelJSON,
  data: ArrayBuffer | Uint8Array,
  options: SparseDecodeOptions = {},
): tf.io.ModelArtifacts {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const checked = checkSparseModel(json, bytes, options);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const weightData = new Uint8Array(checked.reduce((n, { entry, size }) => n + size * BYTES[entry.dtype]!, 0));
  const out = new DataView(weightData.buffer);
  const specs: tf.io.WeightsManifestEntry[] = [];
  let at = 0;
  for (const { entry: e, size } of checked) {
    specs.push({
      name: e.name,
      shape: e.shape.slice(),
      dtype: e.dtype as tf.io.WeightsManifestEntry['dtype'],
      ...(e.group ? { group: e.group } : {}),
    });
    if (e.values === 'raw') {
      weightData.set(bytes.subarray(e.byteOffset, e.byteOffset + e.byteLength), at);
    } else if (e.encoding === 'dense') {
      for (let i = 0; i < size; i++) out.setFloat32(at + 4 * i, valueAt(view, e.byteOffset, i, e), true);
    } else if (e.encoding === 'bitmask') {
      const valuesAt = e.byteOffset + Math.ceil(size / 8);
      for (let i = 0, k = 0; i < size; i++)
        if (bytes[e.byteOffset + (i >>> 3)] & (1 << (i & 7))) out.setFloat32(at + 4 * i, valueAt(view, valuesAt, k++, e), true);
    } else {
      const rb = UINT_BYTES[e.rowPtr!];
      const cb = UINT_BYTES[e.colIndex!];
      const idxAt = e.byteOffset + (e.rows! + 1) * rb;
      const valuesAt = idxAt + e.count * cb;
      for (let r = 0; r < e.rows!; r++) {
        const to = readUint(view, e.byteOffset + (r + 1) * rb, e.rowPtr!);
        for (let k = readUint(view, e.byteOffset + r * rb, e.rowPtr!); k < to; k++) {
          out.setFloat32(at + 4 * (r * e.cols! + readUint(view, idxAt + k * cb, e.colIndex!)), valueAt(view, valuesAt, k, e), true);
        }
      }
    }
    at += size * BYTES[e.dtype]!;
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
  if (json.artifacts?.userDefinedMetadata)
    artifacts.userDefinedMetadata = json.artifacts.userDefinedMetadata as NonNullable<tf.io.ModelArtifacts['userDefinedMetadata']>;
  return artifacts;
}
