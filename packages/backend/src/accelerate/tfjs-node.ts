import type * as tf from '@tensorflow/tfjs';

/** An attribute of a TensorFlow op run through the binding. */
export interface OpAttr {
  name: string;
  type: number;
  value: number | boolean | string;
}

/** What host loops and TensorFlow-op kernels use of tfjs-node's binding (`backend.binding`). */
interface Binding {
  /** A tensor of `values`: TensorFlow takes the array itself as its memory where it is aligned for its vector code, else a copy. */
  createTensor(shape: number[], dtype: number, values: Float32Array | Int32Array): number;
  tensorDataSync(id: number): Float32Array;
  executeOp(name: string, attrs: OpAttr[], inputs: number[], outputs: number): { id: number; shape: number[]; dtype: number }[];
  deleteTensor(id: number): void;
  readonly TF_FLOAT: number;
  readonly TF_INT32: number;
  readonly TF_ATTR_TYPE: number;
  readonly TF_ATTR_BOOL: number;
  readonly TF_ATTR_FLOAT: number;
  readonly TF_ATTR_STRING: number;
}

/** A tensor's entry in tfjs-node's map: a TensorFlow handle `id`, or `values` not yet written to one. */
export interface TensorEntry {
  shape: number[];
  dtype: number;
  id: number;
  values: Float32Array | null;
  refCount: number;
}

/** What host loops use of tfjs-node's backend object. */
export interface NodeBackend {
  readonly binding: Binding;
  readonly tensorMap: {
    get(dataId: tf.DataId): TensorEntry | undefined;
    has(dataId: tf.DataId): boolean;
    set(dataId: tf.DataId, entry: TensorEntry): void;
  };
  getInputTensorIds(tensors: readonly tf.TensorInfo[]): number[];
}

/** A float32 tensor's values: read from TensorFlow (a copy), or the values not yet written to it. */
export function readValues(backend: NodeBackend, info: tf.TensorInfo): Float32Array {
  const entry = backend.tensorMap.get(info.dataId);
  if (entry?.values) return entry.values;
  return backend.binding.tensorDataSync(backend.getInputTensorIds([info])[0]);
}

/** The float32 TensorFlow tensor `id` as a kernel output under `dataId` (the engine owns it from here). */
export function outputHandle(backend: NodeBackend, id: number, shape: number[], dataId: tf.DataId = {}): tf.TensorInfo {
  backend.tensorMap.set(dataId, { shape, dtype: backend.binding.TF_FLOAT, id, values: null, refCount: 1 });
  return { dataId, shape, dtype: 'float32' };
}
