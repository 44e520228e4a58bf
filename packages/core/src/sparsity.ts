import type * as tf from '@tensorflow/tfjs';
import type { Param } from './params.js';

export interface LayerSparsity {
  readonly name: string;
  readonly layerName: string;
  readonly shape: readonly number[];
  readonly total: number;
  /** Exact zeros (what a mask produces). */
  readonly zeros: number;
  /** |w| ≤ nearZeroTolerance, exact zeros included. */
  readonly nearZeros: number;
  readonly sparsity: number;
}

export interface SparsityReport {
  readonly total: number;
  readonly zeros: number;
  readonly nearZeros: number;
  /** Achieved global sparsity: zeros / total over the measured params. */
  readonly global: number;
  /** total / non-zeros. */
  readonly compression: number;
  readonly layers: LayerSparsity[];
}

/** Counts exact zeros (and near-zeros) per param and globally; one read-back per param. */
export function measureSparsity(
  params: readonly Pick<Param, 'name' | 'layerName' | 'variable'>[],
  options: { nearZeroTolerance?: number } = {},
): SparsityReport {
  const tolerance = options.nearZeroTolerance ?? 1e-5;
  const layers = params.map((p) => countZeros(p.variable, p.name, p.layerName, tolerance));
  const total = layers.reduce((s, l) => s + l.total, 0);
  const zeros = layers.reduce((s, l) => s + l.zeros, 0);
  const nearZeros = layers.reduce((s, l) => s + l.nearZeros, 0);
  return {
    total,
    zeros,
    nearZeros,
    global: total === 0 ? 0 : zeros / total,
    compression: total === zeros ? Infinity : total / (total - zeros),
    layers,
  };
}

function countZeros(tensor: tf.Tensor, name: string, layerName: string, tolerance: number): LayerSparsity {
  const data = tensor.dataSync();
  let zeros = 0;
  let nearZeros = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v === 0) zeros++;
    if (Math.abs(v) <= tolerance) nearZeros++;
  }
  return {
    name,
    layerName,
    shape: tensor.shape.slice(),
    total: data.length,
    zeros,
    nearZeros,
    sparsity: data.length === 0 ? 0 : zeros / data.length,
  };
}
