import * as tf from '@tensorflow/tfjs';
import type { Mask, Param } from '@sparsify/core';
import { CheckpointError } from './checkpoint-error.js';

type Values = Float32Array | Int32Array;

/** Host copies of tensors' values. */
export function readTensors(tensors: readonly tf.Tensor[]): Values[] {
  return tensors.map((t) =>
    t.dtype === 'int32' ? Int32Array.from(t.dataSync() as Int32Array) : Float32Array.from(t.dataSync() as Float32Array),
  );
}

/** Every model weight (trainable and not, e.g. BatchNorm statistics) in `model.weights` order. */
export function modelVariables(model: tf.LayersModel): tf.Variable[] {
  return model.weights.map((w) => w.read() as tf.Variable);
}

export function weightNames(model: tf.LayersModel): string[] {
  return model.weights.map((w) => w.originalName ?? w.name);
}

/** Assigns host values to variables, checking sizes. */
export function assignTensors(variables: readonly tf.Variable[], values: readonly ArrayLike<number>[], what: string): void {
  if (variables.length !== values.length) {
    throw new CheckpointError(`${what}: the checkpoint has ${values.length} tensors, this run has ${variables.length}`);
  }
  variables.forEach((v, i) => {
    if (values[i].length !== v.size) {
      throw new CheckpointError(`${what}: tensor ${v.name} has ${v.size} values here, ${values[i].length} in the checkpoint`);
    }
  });
  variables.forEach((v, i) => {
    tf.tidy(() => v.assign(tf.tensor(values[i] as Float32Array, v.shape, v.dtype)));
  });
}

export interface StoredOptimizer {
  names: string[];
  shapes: number[][];
  dtypes: string[];
  values: Values[];
}

/** Optimizer slot state (iterations, momentum/Adam accumulators) as host arrays. */
export async function readOptimizer(optimizer: tf.Optimizer): Promise<StoredOptimizer> {
  const named = await optimizer.getWeights();
  try {
    return {
      names: named.map((n) => n.name),
      shapes: named.map((n) => n.tensor.shape.slice()),
      dtypes: named.map((n) => n.tensor.dtype),
      values: readTensors(named.map((n) => n.tensor)),
    };
  } finally {
    // The first entry (iterations) is a new scalar; the rest are the optimizer's own variables.
    named[0]?.tensor.dispose();
  }
}

export async function restoreOptimizer(optimizer: tf.Optimizer, stored: StoredOptimizer): Promise<void> {
  const tensors = stored.values.map((v, i) => tf.tensor(v, stored.shapes[i], stored.dtypes[i] as tf.DataType));
  try {
    await optimizer.setWeights(tensors.map((tensor, i) => ({ name: stored.names[i], tensor })));
  } finally {
    // setWeights made variables of its own from these.
    tensors.forEach((t) => t.dispose());
  }
}

export function masksToHost(masks: readonly Mask[]): Uint8Array[] {
  return masks.map((m) => Uint8Array.from(m.mask.dataSync()));
}

/** Masks for `params` from host 0/1 arrays (tensors are the caller's). */
export function masksFromHost(params: readonly Pick<Param, 'variable'>[], host: readonly ArrayLike<number>[]): Mask[] {
  if (params.length !== host.length) {
    throw new CheckpointError(`masks: the checkpoint has ${host.length}, this run prunes ${params.length} tensors`);
  }
  return params.map((p, i) => {
    if (host[i].length !== p.variable.size) {
      throw new CheckpointError(`masks: ${p.variable.name} has ${p.variable.size} values here, ${host[i].length} in the checkpoint`);
    }
    return { variable: p.variable, mask: tf.tensor(Float32Array.from(host[i]), p.variable.shape, 'float32') };
  });
}

/** Copies of masks (own tensors), so a pruner may free its own. */
export function cloneMasks(masks: readonly Mask[]): Mask[] {
  return masks.map((m) => ({ variable: m.variable, mask: tf.clone(m.mask) }));
}
