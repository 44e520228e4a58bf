import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CHECKPOINT_FILE, CORRUPT_CHECKPOINT_FILE, CheckpointError, PREVIOUS_CHECKPOINT_FILE } from './checkpoint-error.js';
import { readRegularFile } from './run-dir.js';

export { CHECKPOINT_FILE, CORRUPT_CHECKPOINT_FILE, CheckpointError, PREVIOUS_CHECKPOINT_FILE };

/**
 * Checkpoint files: written atomically (temp file in the same directory, fsync, rename, fsync of the
 * directory), so a crash at any point leaves either the previous checkpoint or the new one, never a
 * partial file. The one before is kept as `checkpoint.prev.bin`: a checkpoint damaged on disk later
 * is found by its checksum, and the run goes on from the previous one.
 *
 * Format 2: `SPARSIFY-CKPT 2\n`, a uint32 (LE) header length, a JSON header, the binary blobs (each
 * 8-byte aligned), then the CRC-32 (uint32 LE) of everything before it. Typed arrays anywhere in the
 * stored value are moved to blobs and replaced by `{ "$blob": i }`. Format 1 (no checksum) is not read.
 */
const MAGIC = 'SPARSIFY-CKPT 2\n';
const MAGIC_V1 = 'SPARSIFY-CKPT 1\n';
/** Larger checkpoint files are refused unread (VGG-19 with Adam state is ≈ 0.5 GB). */
export const MAX_CHECKPOINT_BYTES = 2 ** 32;

type Typed = Float32Array | Int32Array | Uint8Array | Float64Array;
const DTYPES = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, float64: Float64Array } as const;
type DtypeName = keyof typeof DTYPES;

function dtypeOf(a: Typed): DtypeName {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  return 'float64';
}

/** Encodes a JSON-like value whose leaves may be typed arrays (format 2, checksummed). */
export function encodeCheckpoint(value: unknown): Buffer {
  const blobs: Typed[] = [];
  const blobMeta: { dtype: DtypeName; length: number; offset: number }[] = [];
  let offset = 0;
  const header = JSON.stringify(value, function (this: unknown, _key, v) {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const typed = v as Typed;
      const dtype = dtypeOf(typed);
      blobMeta.push({ dtype, length: typed.length, offset });
      offset += Math.ceil(typed.byteLength / 8) * 8;
      blobs.push(typed);
      return { $blob: blobs.length - 1 };
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
    return v;
  });
  const headerBytes = Buffer.from(JSON.stringify({ blobs: blobMeta, value: JSON.parse(header) }), 'utf8');
  const magic = Buffer.from(MAGIC, 'utf8');
  const prefix = magic.length + 4 + headerBytes.length;
  const dataStart = Math.ceil(prefix / 8) * 8;
  const out = Buffer.alloc(dataStart + offset + 4);
  magic.copy(out, 0);
  out.writeUInt32LE(headerBytes.length, magic.length);
  headerBytes.copy(out, magic.length + 4);
  blobs.forEach((b, i) => {
    Buffer.from(b.buffer, b.byteOffset, b.byteLength).copy(out, dataStart + blobMeta[i].offset);
  });
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Decodes `encodeCheckpoint` output; typed arrays come back as copies. The checksum is verified
 * before anything else is read; every blob must lie inside the data and every `$blob` reference
 * must exist. Errors are CheckpointErrors naming `source` and the field.
 */
export function decodeCheckpoint(bytes: Buffer, source = 'checkpoint'): unknown {
  const fail = (field: string, problem: string): never => {
    throw new CheckpointError(`${source}: ${field} ${problem}`, { file: source, field });
  };
  const magic = Buffer.from(MAGIC, 'utf8');
  if (bytes.length >= magic.length && bytes.subarray(0, magic.length).equals(Buffer.from(MAGIC_V1, 'utf8'))) {
    fail(
      '(format)',
      'is checkpoint format 1, written before checkpoints had checksums, and is not read: start the run again (its run.json holds the configuration)',
    );
  }
  if (bytes.length < magic.length + 8 || !bytes.subarray(0, magic.length).equals(magic)) {
    fail('(format)', `is not a sparsify checkpoint (expected it to start with ${JSON.stringify(MAGIC.trim())})`);
  }
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== bytes.readUInt32LE(bytes.length - 4)) {
    fail('(checksum)', 'does not match: the file is damaged or truncated');
  }
  const headerLength = bytes.readUInt32LE(magic.length);
  const headerEnd = magic.length + 4 + headerLength;
  const dataStart = Math.ceil(headerEnd / 8) * 8;
  const dataEnd = bytes.length - 4;
  if (dataStart > dataEnd) fail('(header length)', `${headerLength} runs past the end of the ${bytes.length}-byte file`);
  let header: { blobs?: unknown; value?: unknown };
  try {
    header = JSON.parse(bytes.subarray(magic.length + 4, headerEnd).toString('utf8'));
  } catch (error) {
    return fail('(header)', `is not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || !Array.isArray(header.blobs) || !('value' in header))
    fail('(header)', 'must be { blobs, value }');
  const arrays = (header.blobs as unknown[]).map((meta, i) => {
    const { dtype, length, offset } = (meta ?? {}) as { dtype?: unknown; length?: unknown; offset?: unknown };
    const Ctor = DTYPES[dtype as DtypeName];
    if (!Object.hasOwn(DTYPES, dtype as string))
      fail(`(header) blobs[${i}].dtype`, `must be one of ${Object.keys(DTYPES).join(', ')}; got ${JSON.stringify(dtype)}`);
    if (!isIndex(length) || !isIndex(offset) || offset % 8 !== 0)
      fail(`(header) blobs[${i}]`, 'must have an integer length and an 8-aligned integer offset');
    const byteLength = (length as number) * Ctor.BYTES_PER_ELEMENT;
    const start = dataStart + (offset as number);
    if (start + byteLength > dataEnd)
      fail(`(header) blobs[${i}]`, `ends at byte ${start + byteLength}, past the data (which ends at ${dataEnd})`);
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(start, start + byteLength));
    return new Ctor(copy.buffer);
  });
  const revive = (v: unknown, path: string, depth: number): unknown => {
    if (depth > 64) fail(path, 'nests deeper than 64 levels');
    if (Array.isArray(v)) return v.map((x, i) => revive(x, `${path}[${i}]`, depth + 1));
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && '$blob' in o) {
        if (!isIndex(o.$blob) || o.$blob >= arrays.length)
          fail(path, `refers to blob ${JSON.stringify(o.$blob)}; the file has ${arrays.length}`);
        return arrays[o.$blob as number];
      }
      if (keys.length === 1 && '$number' in o) {
        if (!['NaN', 'Infinity', '-Infinity'].includes(o.$number as string))
          fail(path, `must be NaN, Infinity or -Infinity; got ${JSON.stringify(o.$number)}`);
        return Number(o.$number);
      }
      return Object.fromEntries(keys.map((k) => [k, revive(o[k], path ? `${path}.${k}` : k, depth + 1)]));
    }
    return v;
  };
  return revive(header.value, '', 0);
}

/**
 * Writes `data` to `path` atomically: a temp file beside it, fsync, rename over `path`, fsync the
 * directory. On any failure the temp file is removed and `path` is untouched.
 */
export function writeFileAtomic(path: string, data: Buffer | string): void {
  const tmp = join(dirname(path), `.${path.split(/[\\/]/).pop()}.tmp-${process.pid}-${Date.now()}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < buf.length) written += writeSync(fd, buf, written, buf.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    try {
      if (existsSync(tmp)) unlinkSync(tmp);
    } catch {
      /* best effort */
    }
    throw error;
  }
  try {
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Directory fsync is unsupported on some platforms (Windows); the rename itself is atomic.
  }
}

/**
 * Writes a checkpoint atomically, keeping the one it replaces as `checkpoint.prev.bin` (a hard link,
 * or a copy where links are not supported): `checkpoint.bin` exists at every moment once written.
 */
export function writeCheckpoint(runDir: string, value: unknown): string {
  const path = join(runDir, CHECKPOINT_FILE);
  const bytes = encodeCheckpoint(value);
  if (existsSync(path)) {
    const previous = join(runDir, PREVIOUS_CHECKPOINT_FILE);
    const tmp = `${previous}.tmp-${process.pid}`;
    try {
      linkSync(path, tmp);
    } catch {
      copyFileSync(path, tmp);
    }
    renameSync(tmp, previous);
  }
  writeFileAtomic(path, bytes);
  return path;
}

/** A checkpoint as read, and whether the previous one had to stand in for a damaged or missing last one. */
export interface LoadedCheckpoint<T> {
  value: T;
  /** The file it came from. */
  file: string;
  /** Set when `checkpoint.bin` could not be used and `checkpoint.prev.bin` was: what was wrong with it. */
  fallback?: { file: string; problem: string };
}

function readOne<T>(file: string, validate: (value: unknown, file: string) => T): T {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, MAX_CHECKPOINT_BYTES);
  } catch (error) {
    if (error instanceof Error && error.name === 'RunDirectoryError') throw new CheckpointError(error.message, { file, field: '(file)' });
    throw error;
  }
  return validate(decodeCheckpoint(bytes, file), file);
}

/**
 * Reads the run's checkpoint (`validate` checks what it holds, throwing CheckpointErrors). When
 * `checkpoint.bin` is damaged, missing or invalid, `checkpoint.prev.bin` is used if it is sound and
 * `fallback` says why; when both fail, the error names both. Null when the run has no checkpoint.
 */
export function loadCheckpoint<T = unknown>(
  runDir: string,
  validate: (value: unknown, file: string) => T = (v) => v as T,
): LoadedCheckpoint<T> | null {
  const last = join(runDir, CHECKPOINT_FILE);
  const previous = join(runDir, PREVIOUS_CHECKPOINT_FILE);
  let problem: CheckpointError;
  try {
    return { value: readOne(last, validate), file: last };
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    if (!(error instanceof CheckpointError) && !missing) throw error;
    problem = missing ? new CheckpointError(`${last} is missing`, { file: last, field: '(file)' }) : (error as CheckpointError);
  }
  try {
    return { value: readOne(previous, validate), file: previous, fallback: { file: last, problem: problem.message } };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      if (problem.field === '(file)' && !existsSync(last)) return null;
      throw problem;
    }
    if (!(error instanceof CheckpointError)) throw error;
    throw new CheckpointError(`${problem.message}; and the previous checkpoint cannot stand in: ${error.message}`, {
      file: problem.file,
      field: problem.field,
    });
  }
}

/** The raw value of the run's checkpoint (the previous one if the last is damaged), or null. */
export function readCheckpoint(runDir: string): unknown | null {
  return loadCheckpoint(runDir)?.value ?? null;
}

/**
 * Moves a damaged `checkpoint.bin` to `checkpoint.corrupt.bin` (kept for inspection) once a run
 * resumes from the previous one, so that the next checkpoint does not replace the previous with it.
 */
export function setAsideCorruptCheckpoint(runDir: string): string | null {
  const last = join(runDir, CHECKPOINT_FILE);
  if (!existsSync(last)) return null;
  const aside = join(runDir, CORRUPT_CHECKPOINT_FILE);
  renameSync(last, aside);
  return aside;
}

export function hasCheckpoint(runDir: string): boolean {
  return existsSync(join(runDir, CHECKPOINT_FILE)) || existsSync(join(runDir, PREVIOUS_CHECKPOINT_FILE));
}

/**
 * Removes temp files a killed process left behind while writing a checkpoint
 * (`.checkpoint.bin.tmp-<pid>-<time>`, `checkpoint.prev.bin.tmp-<pid>`); checkpoints are never
 * touched. Returns their names.
 */
export function removeStaleTempFiles(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  const stale = readdirSync(runDir).filter(
    (f) => f.startsWith(`.${CHECKPOINT_FILE}.tmp-`) || f.startsWith(`${PREVIOUS_CHECKPOINT_FILE}.tmp-`),
  );
  for (const f of stale) {
    try {
      unlinkSync(join(runDir, f));
    } catch {
      /* gone already */
    }
  }
  return stale;
}
