import * as tf from '@tensorflow/tfjs';
import { SparsifyConfigError, type Mask } from '@sparsify/core';
import { prunerOf } from './prune.js';

export interface StripPruningOptions {
  /**
   * Masks to bake in (e.g. `pruner.masks()`). Default: the model's own masks when it is pruned
   * (`pruneLowMagnitude`, `l1Unstructured`, …); otherwise the current weights are taken as they are.
   */
  masks?: readonly Mask[];
}

/**
 * tfmot's `strip_pruning`: a new, uncompiled LayersModel with the same architecture and the pruned
 * weights baked in (w ⊙ mask, zeros normalised to +0), independent of the original's variables and of
 * this library: save it with any tf.io handler and load it with plain `tf.loadLayersModel`
 * (`isPruned(stripped)` is false). The original stays pruned. The caller disposes both models (and
 * frees the original's masks with `removePruning`).
 */
export async function stripPruning(model: tf.LayersModel, options: StripPruningOptions = {}): Promise<tf.LayersModel> {
  const masks = new Map<tf.Variable, tf.Tensor>();
  const known = new Set(model.weights.map((w) => w.read() as tf.Variable));
  for (const m of options.masks ?? prunerOf(model)?.masks() ?? []) {
    if (!known.has(m.variable)) {
      throw new SparsifyConfigError(
        `stripPruning: mask for variable ${JSON.stringify(m.variable.name)} does not belong to model ${JSON.stringify(model.name)}`,
      );
    }
    if (m.mask.size !== m.variable.size) {
      throw new SparsifyConfigError(
        `stripPruning: mask for ${JSON.stringify(m.variable.name)} has ${m.mask.size} entries; the variable has ${m.variable.size}`,
      );
    }
    masks.set(m.variable, m.mask);
  }
  const values = tf.tidy(() =>
    model.weights.map((w) => {
      const v = w.read();
      if (v.dtype !== 'float32') return tf.clone(v);
      const mask = masks.get(v as tf.Variable);
      const live = tf.notEqual(v, tf.scalar(0));
      const keep = mask ? tf.logicalAnd(live, tf.greater(tf.reshape(mask, v.shape), tf.scalar(0))) : live;
      return tf.where(keep, v, tf.zerosLike(v));
    }),
  );
  try {
    const stripped = await tf.models.modelFromJSON({
      modelTopology: model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'],
    } as never);
    stripped.setWeights(values);
    return stripped;
  } finally {
    tf.dispose(values);
  }
}
