import type { Param } from '../params.js';
import { sizeOf } from './scores.js';

/** All-zero input and output groups of one kernel (reported for structural methods: docs/conventions.md, "Reporting"). */
export interface ZeroGroups {
  readonly name: string;
  readonly layerName: string;
  readonly layout: 'dense' | 'conv2d';
  readonly shape: readonly number[];
  /** Input features (dense rows) / channels. */
  readonly inputGroups: number;
  readonly zeroInputGroups: number;
  /** Output neurons (dense columns) / filters. */
  readonly outputGroups: number;
  readonly zeroOutputGroups: number;
}

/**
 * Counts, per dense or conv2d kernel, the input groups and output groups whose every weight is exactly
 * 0 (what structured pruning and Group-HS produce). Other layouts (biases, depthwise kernels) have no
 * groups and are skipped. One read-back per param.
 */
export function countZeroGroups(params: readonly Pick<Param, 'name' | 'layerName' | 'layout' | 'shape' | 'variable'>[]): ZeroGroups[] {
  const out: ZeroGroups[] = [];
  for (const p of params) {
    if (p.layout !== 'dense' && p.layout !== 'conv2d') continue;
    // Both layouts end with [..., in, out]: the input axis is second-last, the output axis last.
    const outDim = p.shape[p.shape.length - 1];
    const inDim = p.shape[p.shape.length - 2];
    const inputLive = new Uint8Array(inDim);
    const outputLive = new Uint8Array(outDim);
    const w = p.variable.dataSync();
    const total = sizeOf(p.shape);
    for (let idx = 0; idx < total; idx++) {
      if (w[idx] !== 0) {
        outputLive[idx % outDim] = 1;
        inputLive[Math.floor(idx / outDim) % inDim] = 1;
      }
    }
    out.push({
      name: p.name,
      layerName: p.layerName,
      layout: p.layout,
      shape: p.shape.slice(),
      inputGroups: inDim,
      zeroInputGroups: inputLive.reduce((n, live) => n + (live ? 0 : 1), 0),
      outputGroups: outDim,
      zeroOutputGroups: outputLive.reduce((n, live) => n + (live ? 0 : 1), 0),
    });
  }
  return out;
}
