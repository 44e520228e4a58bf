import { DatasetError } from './errors.js';

/** IDX magic for unsigned-byte 3-D arrays (images): 0x00000803. */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** IDX magic for unsigned-byte 1-D arrays (labels): 0x00000801. */
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxArray {
  /** Dimensions from the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The values, row-major (a view into the decoded file). */
  data: Uint8Array;
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/**
 * Parses an unsigned-byte IDX array (the MNIST file format): 2 zero bytes, type 0x08, rank, then
 * `rank` big-endian uint32 dimensions and the data. `expectedMagic` (e.g. 0x00000803) is checked, and
 * the data length must match the header exactly: a truncated file or one with trailing bytes is an error.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedMagic: number): IdxArray {
  const what =
    expectedMagic === IDX_IMAGES_MAGIC
      ? 'IDX images (magic 0x00000803)'
      : expectedMagic === IDX_LABELS_MAGIC
        ? 'IDX labels (magic 0x00000801)'
        : `IDX (magic ${hex(expectedMagic)})`;
  if (bytes.length < 4) {
    throw new DatasetError(`${file}: ${bytes.length} bytes is too short for ${what}`, file, 'header');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    const rank = magic & 0xff;
    const isIdx = magic >>> 16 === 0 && ((magic >>> 8) & 0xff) === 0x08;
    const hint = isIdx ? ` (an unsigned-byte IDX file of rank ${rank})` : ' (not an unsigned-byte IDX file)';
    throw new DatasetError(`${file}: expected ${what}, found magic ${hex(magic)}${hint}`, file, 'magic');
  }
  const rank = magic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new DatasetError(
      `${file}: truncated header: ${what} needs ${headerBytes} header bytes, file has ${bytes.length}`,
      file,
      'header',
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    const kind = actual < expected ? 'truncated' : 'has trailing bytes';
    throw new DatasetError(`${file}: ${kind}: header says ${dims.join('×')} = ${expected} data bytes, found ${actual}`, file, 'data');
  }
  // A plain Uint8Array view (not a Buffer: Buffer#slice does not copy).
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, actual) };
}
