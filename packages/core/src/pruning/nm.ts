import * as tf from '@tensorflow/tfjs';
import { check, SparsifyConfigError } from '../errors.js';
import type { Mask } from '../masks.js';
import { describeParams, selectParams, type Param, type ParamSource, type SelectOptions } from '../params.js';
import { checkScoreOptions, readScores, requireGroupAxes, sizeOf, type ScoreOptions } from './scores.js';

/** `[m, n]`: m zeros in every n consecutive values along the input axis (tfmot `sparsity_m_by_n`). */
export type MByN = readonly [m: number, n: number];

export function checkMByNOption(mByN: unknown): void {
  check(
    Array.isArray(mByN) && mByN.length === 2 && Number.isInteger(mByN[0]) && Number.isInteger(mByN[1]) && mByN[0] >= 1 && mByN[0] < mByN[1],
    'mByN',
    mByN,
    'a pair [m, n] of integers with 1 ≤ m < n (m zeros in every n consecutive values), e.g. [2, 4]',
  );
}

/**
 * The layout as `[outer, in, inner]`: the input axis in the middle. Dense `[in, out]` is `[1, in, out]`,
 * conv2d `[kh, kw, in, out]` is `[kh·kw, in, out]`; consecutive input values of one output unit are
 * `inner` apart in memory.
 */
function inputAxisLayout(param: Pick<Param, 'name' | 'layout' | 'shape'>, method: string) {
  const axis = requireGroupAxes(param, method).inputAxis;
  const shape = param.shape;
  return { outer: sizeOf(shape.slice(0, axis)), inDim: shape[axis], inner: sizeOf(shape.slice(axis + 1)) };
}

export interface MByNOptions extends ScoreOptions {
  mByN: MByN;
}

/**
 * N:M masks: in every run of n consecutive values along the input axis (per output unit, and per
 * kernel position for convs), the m with the smallest |score| are zeroed, so each run has exactly m
 * zeros (ties: the lower index is zeroed first). The input dimension must be a multiple of n.
 */
export function mByNMasks(params: readonly Param[], options: MByNOptions): Mask[] {
  const { mByN } = options;
  checkMByNOption(mByN);
  checkScoreOptions(params, options);
  if (params.length === 0) throw new SparsifyConfigError('mByNMasks needs at least one param; got none');
  const [m, n] = mByN;
  const layouts = params.map((p) => {
    const layout = inputAxisLayout(p, 'mByN');
    check(
      layout.inDim % n === 0,
      `mByN: input dimension of param ${JSON.stringify(p.name)} (shape ${JSON.stringify(p.shape)})`,
      layout.inDim,
      `a multiple of n = ${n}`,
    );
    return layout;
  });
  return params.map((p, pi) => {
    const { outer, inDim, inner } = layouts[pi];
    const scores = readScores(p, pi, options);
    const mask = new Float32Array(scores.length).fill(1);
    const order = new Array<number>(n);
    for (let o = 0; o < outer; o++) {
      for (let q = 0; q < inner; q++) {
        for (let g = 0; g < inDim; g += n) {
          for (let k = 0; k < n; k++) order[k] = (o * inDim + g + k) * inner + q;
          // Smallest scores first; ties by position (lower index first). n is small.
          order.sort((a, b) => scores[a] - scores[b] || a - b);
          for (let k = 0; k < m; k++) mask[order[k]] = 0;
        }
      }
    }
    return { variable: p.variable, mask: tf.tensor(mask, p.variable.shape, 'float32') };
  });
}

export interface MByNParamReport {
  readonly name: string;
  readonly layerName: string;
  /** False when the layout has no input axis (not dense/conv2d) or the input dimension is not a multiple of n. */
  readonly applicable: boolean;
  readonly reason?: string;
  /** Runs of n consecutive input values checked. */
  readonly groups: number;
  /** Runs with fewer than m exact zeros. */
  readonly violatingGroups: number;
}

export interface MByNReport {
  /** Every param applicable and every run has at least m exact zeros. */
  readonly ok: boolean;
  readonly mByN: MByN;
  readonly params: MByNParamReport[];
}

/**
 * Checks m:n sparsity on the weights as they are (tfmot `check_sparsity_m_by_n`): every run of n
 * consecutive input values per output unit has at least m exact zeros. A model is checked on its
 * dense and conv kernels (or `selection`); params and variables are checked as given.
 */
export function checkMByN(source: ParamSource, mByN: MByN, options: { selection?: SelectOptions } = {}): MByNReport {
  checkMByNOption(mByN);
  const [m, n] = mByN;
  const isModel = !Array.isArray(source);
  const params = isModel || options.selection ? selectParams(source, options.selection) : describeParams(source);
  const reports = params.map((p): MByNParamReport => {
    const base = { name: p.name, layerName: p.layerName };
    if (p.layout !== 'dense' && p.layout !== 'conv2d') {
      return { ...base, applicable: false, reason: `layout ${p.layout} has no input axis`, groups: 0, violatingGroups: 0 };
    }
    const { outer, inDim, inner } = inputAxisLayout(p, 'checkMByN');
    if (inDim % n !== 0) {
      return { ...base, applicable: false, reason: `input dimension ${inDim} is not a multiple of ${n}`, groups: 0, violatingGroups: 0 };
    }
    const w = p.variable.dataSync();
    let groups = 0;
    let violatingGroups = 0;
    for (let o = 0; o < outer; o++) {
      for (let q = 0; q < inner; q++) {
        for (let g = 0; g < inDim; g += n) {
          let zeros = 0;
          for (let k = 0; k < n; k++) if (w[(o * inDim + g + k) * inner + q] === 0) zeros++;
          groups++;
          if (zeros < m) violatingGroups++;
        }
      }
    }
    return { ...base, applicable: true, groups, violatingGroups };
  });
  return { ok: reports.every((r) => r.applicable && r.violatingGroups === 0), mByN: [m, n], params: reports };
}
