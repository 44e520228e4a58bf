import * as tf from '@tensorflow/tfjs';
import { check, checkInteger } from '@sparsify/core';
import { deriveSeed, shuffledIndices } from './rng.js';
import type { Batch, BatchOrder, DataSplit } from './types.js';

/**
 * A `DataSplit` over in-memory tensors (the caller keeps ownership of `xs` and `ys`): seeded shuffling,
 * batches gathered on demand, the last partial batch included.
 */
export function tensorData(xs: tf.Tensor, ys: tf.Tensor): DataSplit {
  check(xs.shape[0] === ys.shape[0], 'tensorData ys.shape[0]', ys.shape[0], `equal to xs.shape[0] (${xs.shape[0]})`);
  const size = xs.shape[0];
  return {
    size,
    *batches(batchSize: number, { shuffle, seed, epoch }: BatchOrder): Iterable<Batch> {
      checkInteger('batchSize', batchSize, 1);
      const order = shuffle ? shuffledIndices(size, deriveSeed(seed, epoch)) : null;
      for (let start = 0; start < size; start += batchSize) {
        const end = Math.min(size, start + batchSize);
        if (order) {
          const idx = tf.tensor1d(order.subarray(start, end), 'int32');
          const batch = { x: tf.gather(xs, idx), y: tf.gather(ys, idx) };
          idx.dispose();
          yield batch;
        } else {
          yield { x: tf.slice(xs, start, end - start), y: tf.slice(ys, start, end - start) };
        }
      }
    },
  };
}

/** Iterates a split's batches whether they come sync or async. */
export async function* iterateBatches(split: DataSplit, batchSize: number, options: BatchOrder): AsyncGenerator<Batch> {
  const it = split.batches(batchSize, options);
  if (Symbol.asyncIterator in (it as object)) {
    yield* it as AsyncIterable<Batch>;
  } else {
    yield* it as Iterable<Batch>;
  }
}

/** Frees a batch: its own `dispose()` when it has one, else both tensors. */
export function disposeBatch(batch: Batch): void {
  if (typeof batch.dispose === 'function') batch.dispose();
  else {
    batch.x.dispose();
    batch.y.dispose();
  }
}
