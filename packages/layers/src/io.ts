import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError } from '@sparsify/core';
import { ModelFileError } from './errors.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/**
 * Checks that `name` (from `file`'s `field`) is a plain file name: no directory part, not `.` or
 * `..`, not absolute. Model files name their weights files relative to their own directory.
 */
export function checkPlainFileName(name: unknown, file: string, field: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || /[\\/\0]/.test(name) || name === '.' || name === '..') {
    throw new ModelFileError(
      file,
      field,
      `must be a file name in the model's directory (no "/", "\\", "..", or absolute path); got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
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
