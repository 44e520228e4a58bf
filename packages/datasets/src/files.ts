import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { DatasetError } from './errors.js';
import { MAX_DATASET_FILE_BYTES } from './idx-dataset.js';

/**
 * What is at `path`: `file` (a regular file, links followed), `missing`, or a DatasetError's message
 * for anything else (a directory, a FIFO, a symbolic link loop, no permission).
 */
export function probeFile(path: string): 'file' | 'missing' | { problem: string } {
  try {
    return statSync(path).isFile() ? 'file' : { problem: 'is not a regular file' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    return { problem: code === 'ELOOP' ? 'is a symbolic link loop' : `cannot be read (${code ?? (error as Error).message})` };
  }
}

/**
 * Reads a dataset file: a regular file (a FIFO is refused, not waited on) of at most `maxBytes`.
 * Errors are DatasetErrors naming the file.
 */
export function readDatasetFile(file: string, maxBytes = MAX_DATASET_FILE_BYTES): Uint8Array {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const probe = probeFile(file);
    throw new DatasetError(
      `${file}: ${typeof probe === 'object' ? probe.problem : `cannot read (${(error as Error).message})`}`,
      file,
      '(file)',
    );
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new DatasetError(`${file}: is not a regular file`, file, '(file)');
    if (info.size > maxBytes)
      throw new DatasetError(`${file}: ${info.size} bytes is more than the ${maxBytes} a dataset file may have`, file, '(length)');
    const bytes = new Uint8Array(info.size);
    let at = 0;
    while (at < bytes.length) {
      const n = readSync(fd, bytes, at, bytes.length - at, at);
      if (n === 0) break;
      at += n;
    }
    if (at !== info.size) throw new DatasetError(`${file}: changed while being read (${at} of ${info.size} bytes)`, file, '(length)');
    return bytes;
  } finally {
    closeSync(fd);
  }
}
