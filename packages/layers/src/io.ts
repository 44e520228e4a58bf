import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, check } from '@sparsify/core';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `files` into directory `dir` atomically: everything is written (and fsync-ed) into a fresh
 * temporary directory next to `dir`, which is then renamed to `dir`. A reader never sees a partly
 * written model. An existing `dir` is replaced (moved aside, then removed after the rename).
 */
export async function writeDirectoryAtomic(dir: string, files: Record<string, Uint8Array | string>): Promise<string> {
  check(typeof dir === 'string' && dir.length > 0, 'directory', dir, 'a non-empty path');
  const target = resolve(dir);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(join(parent, `.${basename(target)}.tmp-`));
  try {
    for (const [name, data] of Object.entries(files)) {
      const handle = await open(join(tmp, name), 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    let aside: string | null = null;
    if (await exists(target)) {
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

function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

/** tfjs's `model.json` for saved artifacts with one weights file. */
export function modelJsonFor(artifacts: tf.io.ModelArtifacts, weightsPath = WEIGHTS_BIN): tf.io.ModelJSON {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new SparsifyConfigError('binary (GraphDef) model topologies are not supported; save a LayersModel');
  }
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [weightsPath], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature != null) json.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
  if (artifacts.initializerSignature != null) json.initializerSignature = artifacts.initializerSignature;
  return json;
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

/** Reads a directory written by `fileSystemSaveHandler` (or by tfjs-node / the converter). */
export function fileSystemLoadHandler(dir: string): tf.io.IOHandler {
  check(typeof dir === 'string' && dir.length > 0, 'fileSystemLoadHandler directory', dir, 'a non-empty path');
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const bytes = await readFile(join(dir, path));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/** The artifacts `model.save` produces, captured in memory. */
export async function captureArtifacts(model: tf.LayersModel, config?: tf.io.SaveConfig): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
    config,
  );
  return captured!;
}
