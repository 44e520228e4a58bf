import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SparsifyConfigError } from '@sparsify/core';

/**
 * Checkpoint files: one file, written atomically (temp file in the same directory, fsync, rename,
 * fsync of the directory), so a crash at any point leaves either the previous checkpoint or the new
 * one, never a partial file.
 *
 * Format: `SPARSIFY-CKPT 1\n`, a uint32 (LE) header length, a JSON header, then the binary blobs, each
 * 8-byte aligned. Typed arrays anywhere in the stored value are moved to blobs and replaced by
 * `{ "$blob": i }`.
 */
export const CHECKPOINT_FILE = 'checkpoint.bin';
const MAGIC = 'SPARSIFY-CKPT 1\n';

type Typed = Float32Array | Int32Array | Uint8Array | Float64Array;
const DTYPES = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, float64: Float64Array } as const;
type DtypeName = keyof typeof DTYPES;

function dtypeOf(a: Typed): DtypeName {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  return 'float64';
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** Encodes a JSON-like value whose leaves may be typed arrays. */
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
  const lengthBytes = Buffer.alloc(4);
  lengthBytes.writeUInt32LE(headerBytes.length, 0);
  const prefix = magic.length + 4 + headerBytes.length;
  const dataStart = Math.ceil(prefix / 8) * 8;
  const out = Buffer.alloc(dataStart + offset);
  magic.copy(out, 0);
  lengthBytes.copy(out, magic.length);
  headerBytes.copy(out, magic.length + 4);
  blobs.forEach((b, i) => {
    Buffer.from(b.buffer, b.byteOffset, b.byteLength).copy(out, dataStart + blobMeta[i].offset);
  });
  return out;
}

/** Decodes `encodeCheckpoint` output; typed arrays come back as copies. */
export function decodeCheckpoint(bytes: Buffer, source = 'checkpoint'): unknown {
  const magic = Buffer.from(MAGIC, 'utf8');
  if (bytes.length < magic.length + 4 || !bytes.subarray(0, magic.length).equals(magic)) {
    throw new CheckpointError(`${source} is not a sparsify checkpoint (expected it to start with ${JSON.stringify(MAGIC.trim())})`);
  }
  const headerLength = bytes.readUInt32LE(magic.length);
  const headerEnd = magic.length + 4 + headerLength;
  if (headerEnd > bytes.length) throw new CheckpointError(`${source} is truncated: header needs ${headerEnd} bytes, file has ${bytes.length}`);
  const { blobs, value } = JSON.parse(bytes.subarray(magic.length + 4, headerEnd).toString('utf8')) as {
    blobs: { dtype: DtypeName; length: number; offset: number }[];
    value: unknown;
  };
  const dataStart = Math.ceil(headerEnd / 8) * 8;
  const arrays = blobs.map(({ dtype, length, offset }) => {
    const Ctor = DTYPES[dtype];
    if (!Ctor) throw new CheckpointError(`${source}: unknown blob dtype ${JSON.stringify(dtype)}`);
    const byteLength = length * Ctor.BYTES_PER_ELEMENT;
    const start = dataStart + offset;
    if (start + byteLength > bytes.length) {
      throw new CheckpointError(`${source} is truncated: a blob ends at byte ${start + byteLength}, file has ${bytes.length}`);
    }
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(start, start + byteLength));
    return new Ctor(copy.buffer);
  });
  const revive = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(revive);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.$blob === 'number' && Object.keys(o).length === 1) return arrays[o.$blob];
      if (typeof o.$number === 'string' && Object.keys(o).length === 1) return Number(o.$number);
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, revive(x)]));
    }
    return v;
  };
  return revive(value);
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

export function writeCheckpoint(runDir: string, value: unknown): string {
  const path = join(runDir, CHECKPOINT_FILE);
  writeFileAtomic(path, encodeCheckpoint(value));
  return path;
}

export function readCheckpoint(runDir: string): unknown | null {
  const path = join(runDir, CHECKPOINT_FILE);
  if (!existsSync(path)) return null;
  return decodeCheckpoint(readFileSync(path), path);
}

export function hasCheckpoint(runDir: string): boolean {
  return existsSync(join(runDir, CHECKPOINT_FILE));
}

export function requireCheckpoint(runDir: string): unknown {
  const value = readCheckpoint(runDir);
  if (value === null) {
    throw new SparsifyConfigError(`resume needs a run directory with ${CHECKPOINT_FILE}; ${runDir} has none`);
  }
  return value;
}

/**
 * Removes temp files a killed process left behind while writing a checkpoint
 * (`.checkpoint.bin.tmp-<pid>-<time>`); the checkpoint itself is never touched. Returns their names.
 */
export function removeStaleTempFiles(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  const prefix = `.${CHECKPOINT_FILE}.tmp-`;
  const stale = readdirSync(runDir).filter((f) => f.startsWith(prefix));
  for (const f of stale) {
    try {
      unlinkSync(join(runDir, f));
    } catch {
      /* gone already */
    }
  }
  return stale;
}
