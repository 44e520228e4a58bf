import type * as tf from '@tensorflow/tfjs';
import { type Info, type WasmBackendLike, sizeOf, withScope } from './scope.js';

/**
 * UnsortedSegmentSum for wasm (the gradient of `gather`, i.e. of Embedding layers): one ScatterNd,
 * which sums duplicate indices. Ids outside [0, numSegments) are dropped, as on the cpu backend.
 */
export function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): Info {
  const { x, segmentIds } = args.inputs as { x: Info; segmentIds: Info };
  const numSegments = (args.attrs as unknown as { numSegments: number }).numSegments;
  const backend = args.backend as WasmBackendLike;
  const n = sizeOf(segmentIds.shape);
  const inner = x.shape.slice(segmentIds.shape.length);
  const d = sizeOf(inner);
  const outShape = [numSegments, ...inner];
  return withScope(backend, [x, segmentIds], (s) => {
    const ids = backend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
    let valid = 0;
    for (let i = 0; i < n; i++) if (ids[i] >= 0 && ids[i] < numSegments) valid++;
    if (valid === 0 || d === 0) {
      return s.run('Fill', {}, { shape: outShape, value: 0, dtype: x.dtype });
    }
    let indices: Info;
    let updates = s.reshape(x, [n, d]);
    if (valid === n && segmentIds.dtype === 'int32') {
      indices = s.reshape(segmentIds, [n, 1]);
    } else {
      const kept = new Int32Array(valid);
      const positions = new Int32Array(valid);
      for (let i = 0, j = 0; i < n; i++) {
        if (ids[i] >= 0 && ids[i] < numSegments) {
          kept[j] = ids[i];
          positions[j++] = i;
        }
      }
      indices = s.track({ dataId: backend.write(kept, [valid, 1], 'int32'), shape: [valid, 1], dtype: 'int32' });
      if (valid !== n) {
        const pos = s.track({ dataId: backend.write(positions, [valid], 'int32'), shape: [valid], dtype: 'int32' });
        updates = s.run('GatherV2', { x: updates, indices: pos }, { axis: 0, batchDims: 0 });
      }
    }
    const out = s.run('ScatterNd', { indices, updates }, { shape: [numSegments, d] });
    return s.reshape(out, outShape);
  });
}
