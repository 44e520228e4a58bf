import * as tf from '@tensorflow/tfjs';
import { check } from '@sparsify/core';
import { join } from 'node:path';
import { captureArtifacts, checkPlainFileName } from './io.js';
import { readModelFile, writeDirectoryAtomic } from './io-node.js';
import { ModelFileError } from './errors.js';
import {
  DEFAULT_MAX_DECODED_BYTES,
  MAX_SPARSE_JSON_BYTES,
  SPARSE_MODEL_JSON,
  SPARSE_WEIGHTS_BIN,
  decodeSparse,
  encodeSparse,
  isCount,
  showValue,
  type LoadSparseOptions,
  type SparseDecodeOptions,
  type SparseModelJSON,
  type SparseSaveOptions,
  type SparseWeightEntry,
} from './sparse.js';
import { checkExecutionOptions, sparseModelFromArtifacts, type SparseExecutionOptions, type SparseModel } from './sparse-model.js';

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

/** Reads and decodes a sparse model directory (see `decodeSparse`; the files are read as `readModelFile` does). */
async function readSparseModel(dir: string, options: SparseDecodeOptions): Promise<{ artifacts: tf.io.ModelArtifacts; jsonFile: string }> {
  const jsonFile = join(dir, SPARSE_MODEL_JSON);
  const text = await readModelFile(dir, SPARSE_MODEL_JSON, { file: jsonFile, field: '(file)', maxBytes: MAX_SPARSE_JSON_BYTES });
  let json: SparseModelJSON;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text)) as SparseModelJSON;
  } catch (error) {
    throw new ModelFileError(jsonFile, '(JSON)', `is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  const weightsName = checkPlainFileName((json as Partial<SparseModelJSON> | null)?.weightsPath, jsonFile, 'weightsPath');
  const expectedBytes = json.weightsByteLength;
  if (!isCount(expectedBytes))
    throw new ModelFileError(jsonFile, 'weightsByteLength', `must be an integer ≥ 0; got ${showValue(expectedBytes)}`);
  const data = await readModelFile(dir, weightsName, {
    file: jsonFile,
    field: 'weightsPath',
    maxBytes: options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES,
    expectedBytes,
  });
  return { artifacts: decodeSparse(json, data, { ...options, files: { json: jsonFile, weights: join(dir, weightsName) } }), jsonFile };
}

/**
 * A tf.io load handler for the sparse format: `tf.loadLayersModel(sparseLoadHandler(dir))`. The files
 * are read from `dir` only (regular files, no links out of it) and checked completely (`decodeSparse`).
 */
export function sparseLoadHandler(dir: string, options: LoadSparseOptions = {}): tf.io.IOHandler {
  check(typeof dir === 'string' && dir.length > 0, 'sparseLoadHandler directory', dir, 'a non-empty path');
  return { load: async () => (await readSparseModel(dir, options)).artifacts };
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
  const denseBytes =
    Buffer.byteLength(denseJson) + (artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData).byteLength : 0);
  const bytes = Buffer.byteLength(text) + data.byteLength;
  return { dir: target, bytes, denseBytes, ratio: denseBytes / bytes, weights: json.weights };
}

/**
/**
 * Loads a model saved by `saveSparse` as a plain (uncompiled) tfjs LayersModel; with `{ execute:
 * 'sparse' }` as a `SparseModel`, whose sparse Dense and 1×1 conv layers run as sparse × dense products.
 * A damaged or hostile directory is a ModelFileError naming the file and the field, including a
 * topology that does not build or does not match the weights (the half-built model's variables are freed).
 */
export async function loadSparse(dir: string, options?: LoadSparseOptions): Promise<tf.LayersModel>;
export async function loadSparse(dir: string, options: LoadSparseOptions & SparseExecutionOptions): Promise<SparseModel>;
export async function loadSparse(
  dir: string,
  options: LoadSparseOptions & Partial<SparseExecutionOptions> = {},
): Promise<tf.LayersModel | SparseModel> {
  check(typeof dir === 'string' && dir.length > 0, 'loadSparse directory', dir, 'a non-empty path');
  const { execute, minSparsity, ...decode } = options;
  const execution = execute === undefined && minSparsity === undefined ? undefined : { execute: execute as 'sparse', minSparsity };
  if (execution) checkExecutionOptions(execution);
  const { artifacts, jsonFile } = await readSparseModel(dir, decode);
  const before = new Set(Object.keys(tf.engine().state.registeredVariables));
  try {
    return execution ? await sparseModelFromArtifacts(artifacts, execution) : await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    for (const [name, variable] of Object.entries(tf.engine().state.registeredVariables)) if (!before.has(name)) variable.dispose();
    throw new ModelFileError(jsonFile, 'modelTopology', `does not build a model that takes these weights: ${(error as Error).message}`);
  }
}
