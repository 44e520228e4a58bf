import * as tf from '@tensorflow/tfjs';
import { check } from '../errors.js';
import type { Mask } from '../masks.js';
import type { Param } from '../params.js';

/**
 * A user-given 0/1 mask for one variable (torch's `custom_from_mask`). `mask` is a tensor or an array
 * with the variable's number of entries (in row-major order); every value must be exactly 0 or 1.
 * Returns a new tensor (the caller's to dispose, e.g. with `disposeMasks`); the input is not kept.
 */
export function customFromMask(target: tf.Variable | Pick<Param, 'variable'>, mask: tf.Tensor | ArrayLike<number>): Mask {
  const variable = target instanceof tf.Variable ? target : target.variable;
  const values = mask instanceof tf.Tensor ? mask.dataSync() : mask;
  const name = JSON.stringify(variable.name);
  check(
    values.length === variable.size,
    `customFromMask: number of mask entries for ${name}`,
    values.length,
    `${variable.size} (the variable's shape ${JSON.stringify(variable.shape)})`,
  );
  if (mask instanceof tf.Tensor && mask.rank > 1) {
    check(
      mask.shape.length === variable.shape.length && mask.shape.every((d, i) => d === variable.shape[i]),
      `customFromMask: mask shape for ${name}`,
      mask.shape,
      JSON.stringify(variable.shape),
    );
  }
  const out = new Float32Array(variable.size);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    check(v === 0 || v === 1, `customFromMask: mask entry ${i} for ${name}`, values[i], '0 or 1');
    out[i] = v;
  }
  return { variable, mask: tf.tensor(out, variable.shape, 'float32') };
}
