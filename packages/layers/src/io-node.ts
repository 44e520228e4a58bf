import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, check } from '@sparsify/core';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelFileError } from './errors.js';
import { checkTopology } from './topology.js';

import { checkPlainFileName, joinWeightData, MODEL_JSON, modelJsonFor, WEIGHTS_BIN } from './io.js';

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/**
 * Creates `dir` and its missing parents one level at a time (`mkdir -p` without Node's recursive
 * mode, which spins forever under /proc). A parent that is not a directory, or one that refuses
 * new entries, is an error naming it.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    try {
      if (!(await stat(at)).isDirectory())
        throw new SparsifyConfigError(`cannot create directory ${dir}: ${at} exists and is not a directory`);
      break;
    } catch (error) {
      if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') throw error;
      missing.push(at);
      const parent = dirname(at);
      if (parent === at) break;
      at = parent;
    }
  }
  for (const path of missing.reverse()) {
    try {
      await mkdir(path);
    } catch (error) {
      if (errorCode(error) === 'EEXIST' && (await stat(path)).isDirectory()) continue;
      throw new SparsifyConfigError(`cannot create directory ${path} (for ${dir}): ${errorCode(error) ?? (error as Error).message}`);
    }
  }
}

/**
 * What an existing `target` is, for a writer that would replace it: `absent`, a directory whose
 * entries are all in `replaceable` (a model saved there before; empty counts), or a ModelFileError
 * naming what is in the way (a file, a link, or a directory holding anything else).
 */
async function replaceableTarget(target: string, replaceable: readonly string[]): Promise<'absent' | 'replace'> {
  let info: Stats;
  try {
    info = await lstat(target);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 'absent';
    throw error;
  }
  if (info.isSymbolicLink()) throw new ModelFileError(target, '(path)', 'is a symbolic link; write the model to a new directory');
  if (!info.isDirectory())
    throw new ModelFileError(target, '(path)', 'is a file, not a directory; it was left as it is: write the model to a new directory');
  const foreign = (await readdir(target)).filter((name) => !replaceable.includes(name));
  if (foreign.length > 0) {
    const shown = foreign
      .slice(0, 3)
      .map((n) => JSON.stringify(n))
      .join(', ');
    throw new ModelFileError(
      target,
      '(directory)',
      `holds ${shown}${foreign.length > 3 ? ` and ${foreign.length - 3} more` : ''}, not only a saved model (${replaceable.join(', ')}); it was left as it is: write the model to a new or empty directory`,
    );
  }
  return 'replace';
}

/**
 * Writes `files` into directory `dir` atomically: everything is written (and fsync-ed) into a fresh
 * temporary directory next to `dir`, which is then renamed to `dir`. A reader never sees a partly
 * written model. An existing `dir` is replaced only when it is a directory that holds nothing but
 * files named in `replaceable` (default: the names being written), i.e. a model saved there before;
 * a file, a symbolic link or a directory holding anything else is an error and is not touched.
 */
export async function writeDirectoryAtomic(
  dir: string,
  files: Record<string, Uint8Array | string>,
  replaceable: readonly string[] = Object.keys(files),
): Promise<string> {
  check(typeof dir === 'string' && dir.length > 0, 'directory', dir, 'a non-empty path');
  const target = resolve(dir);
  const parent = dirname(target);
  await makeDirectory(parent);
  await replaceableTarget(target, replaceable);
  const tmp = await mkdtemp(join(parent, `.${basename(target)}.tmp-`));
  try {
    for (const [name, data] of Object.entries(files)) {
      const handle = await open(join(tmp, name), 'wx');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    let aside: string | null = null;
    // Checked again right before the swap: what is replaced is what was checked.
    if ((await replaceableTarget(target, replaceable)) === 'replace') {
      aside = `${tmp}.old`;
      await rename(target, aside);
    }
    try {
      await rename(tmp, target);
    } catch (error) {
      if (aside) await rename(aside, target);
      throw error;
    }
    if (aside) await rm(aside, { recursive: true, force: true });
    return target;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Reads `dir/name` for a loader: the name must be a plain file name (see `checkPlainFileName`), the
 * file must resolve (symbolic links included) to a regular file inside `dir`, and be at most
 * `maxBytes` long (exactly `expectedBytes` when given). Errors name `file` (the file that names it,
 * or the file itself) and `field`, and say nothing about files outside `dir`.
 */
export async function readModelFile(
  dir: string,
  name: string,
  o: { file: string; field: string; maxBytes: number; expectedBytes?: number },
): Promise<Uint8Array> {
  checkPlainFileName(name, o.file, o.field);
  const path = join(dir, name);
  let real: string;
  try {
    const [realDir, realFile] = await Promise.all([realpath(dir), realpath(path)]);
    real = realFile;
    if (dirname(realFile) !== realDir)
      throw new ModelFileError(o.file, o.field, `names ${JSON.stringify(name)}, which links outside the model's directory`);
  } catch (error) {
    if (error instanceof ModelFileError) throw error;
    throw new ModelFileError(path, '(file)', `cannot be opened (${errorCode(error) ?? (error as Error).message})`);
  }
  // Non-blocking, so that opening a FIFO does not wait for a writer; fstat then refuses it.
  const handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new ModelFileError(path, '(file)', 'is not a regular file');
    if (o.expectedBytes !== undefined && info.size !== o.expectedBytes) {
      throw new ModelFileError(path, '(length)', `is ${info.size} bytes; ${o.file} says ${o.expectedBytes}`);
    }
    if (info.size > o.maxBytes)
      throw new ModelFileError(path, '(length)', `is ${info.size} bytes, above the ${o.maxBytes}-byte limit for this file`);
    const bytes = new Uint8Array(info.size);
    let at = 0;
    while (at < bytes.length) {
      const { bytesRead } = await handle.read(bytes, at, bytes.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    if (at !== info.size) throw new ModelFileError(path, '(length)', `changed while being read (${at} of ${info.size} bytes)`);
    return bytes;
  } finally {
    await handle.close();
  }
}

/**
 * A tf.io save handler writing the standard TensorFlow.js layout (`model.json` + `weights.bin`) into a
 * directory, atomically (see `writeDirectoryAtomic`). For Node without tfjs-node:
 * `await model.save(fileSystemSaveHandler('out/model'))`. Any TensorFlow.js loader reads the result.
 */
export function fileSystemSaveHandler(dir: string): tf.io.IOHandler {
  check(typeof dir === 'string' && dir.length > 0, 'fileSystemSaveHandler directory', dir, 'a non-empty path');
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      const weights = joinWeightData(artifacts.weightData);
      await writeDirectoryAtomic(dir, {
        [MODEL_JSON]: JSON.stringify(modelJsonFor(artifacts)),
        [WEIGHTS_BIN]: weights,
      });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** The largest `model.json` `fileSystemLoadHandler` reads (64 MiB), and the largest weights total (2 GiB). */
const MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;
const MAX_WEIGHTS_BYTES = 2 ** 31;

/**
 * Reads a directory written by `fileSystemSaveHandler` (or by tfjs-node / the converter). Files are
 * read from `dir` only (plain names, regular files, no links out of it); the topology is checked
 * (`checkTopology`) before tfjs builds it. Errors are ModelFileErrors naming the file and the field.
 */
export function fileSystemLoadHandler(dir: string): tf.io.IOHandler {
  check(typeof dir === 'string' && dir.length > 0, 'fileSystemLoadHandler directory', dir, 'a non-empty path');
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const file = join(dir, MODEL_JSON);
      const text = await readModelFile(dir, MODEL_JSON, { file, field: '(file)', maxBytes: MAX_MODEL_JSON_BYTES });
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text)) as tf.io.ModelJSON;
      } catch (error) {
        throw new ModelFileError(file, '(JSON)', `is not valid UTF-8 JSON (${(error as Error).message})`);
      }
      if (typeof json !== 'object' || json === null) throw new ModelFileError(file, '(root)', 'must be a JSON object');
      checkTopology(json.modelTopology, file);
      if (!Array.isArray(json.weightsManifest)) throw new ModelFileError(file, 'weightsManifest', 'must be an array of { paths, weights }');
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        let total = 0;
        for (const [g, group] of manifest.entries()) {
          if (!Array.isArray(group?.paths) || !Array.isArray(group.weights))
            throw new ModelFileError(file, `weightsManifest[${g}]`, 'must be { paths: [...], weights: [...] }');
          specs.push(...group.weights);
          for (const [p, path] of group.paths.entries()) {
            const bytes = await readModelFile(dir, path, {
              file,
              field: `weightsManifest[${g}].paths[${p}]`,
              maxBytes: MAX_WEIGHTS_BYTES - total,
            });
            total += bytes.byteLength;
            buffers.push(bytes);
          }
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers.map((b) => b.buffer as ArrayBuffer))];
      });
    },
  };
}
