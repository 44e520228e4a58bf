import type * as tf from '@tensorflow/tfjs';

/** What host loops use of tfjs-node's binding (`backend.binding`). */
interface Binding {
  createTensor(shape: number[], dtype: number, values: Float32Array): number;
  tensorDataSync(id: number): Float32Array;
  readonly TF_FLOAT: number;
}

/** A tensor's entry in tfjs-node's map: a TensorFlow handle `id`, or `values` not yet written to one. */
interface TensorEntry {
  shape: number[];
  dtype: number;
  id: number;
  values: Float32Array | null;
  refCount: number;
}

/** What host loops use of tfjs-node's backend object. */
export interface NodeBackend {
  readonly binding: Binding;
  readonly tensorMap: { get(dataId: tf.DataId): TensorEntry | undefined; set(dataId: tf.DataId, entry: TensorEntry): void };
  getInputTensorIds(tensors: readonly tf.TensorInfo[]): number[];
}

/** A float32 tensor's values: read from TensorFlow (a copy), or the values not yet written to it. */
export function readValues(backend: NodeBackend, info: tf.TensorInfo): Float32Array {
  const entry = backend.tensorMap.get(info.dataId);
  if (entry?.values) return entry.values;
  return backend.binding.tensorDataSync(backend.getInputTensorIds([info])[0]);
}

/** A new float32 TensorFlow tensor holding a copy of `values`, as a kernel output (the engine owns it). */
export function writeOutput(backend: NodeBackend, values: Float32Array, shape: number[]): tf.TensorInfo {
  const dataId = {};
  const id = backend.binding.createTensor(shape, backend.binding.TF_FLOAT, values);
  backend.tensorMap.set(dataId, { shape, dtype: backend.binding.TF_FLOAT, id, values: null, refCount: 1 });
  return { dataId, shape, dtype: 'float32' };
}
