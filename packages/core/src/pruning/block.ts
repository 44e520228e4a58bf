import * as tf from '@tensorflow/tfjs';
import { check, checkOneOf, checkSparsity, SparsifyConfigError } from '../errors.js';
import type { ThresholdRule } from '../magnitude.js';
import type { Param } from '../params.js';
import { DEFAULT_PRUNING } from './defaults.js';
import { checkScopeAndRule, checkScoreOptions, keeps, rankThresholds, readScores, type PruningScope, type ScoreOptions } from './scores.js';
import type { PruningResult } from './structured.js';

export type BlockPooling = 'avg' | 'max';
export const BLOCK_POOLINGS: readonly BlockPooling[] = ['avg', 'max'];

export interface BlockOptions extends ScoreOptions {
  /** Fraction of blocks to zero, in [0, 1). */
  sparsity: number;
  /** `[rows, cols]` of a block of a rank-2 kernel (`[in, out]` for dense), as tfmot's `block_size`. */
  blockSize: readonly [number, number];
  /** How a block's |scores| become one score: mean over the block's entries (default) or max. */
  blockPooling?: BlockPooling;
  /** Default `DEFAULT_PRUNING.scope` (global): block scores are mean |w|, comparable across kernels. */
  scope?: PruningScope;
  /** Default `DEFAULT_PRUNING.rule` (quantile). */
  rule?: ThresholdRule;
}

export function checkBlockSize(blockSize: unknown): void {
  check(
    Array.isArray(blockSize) && blockSize.length === 2 && blockSize.every((b) => Number.isInteger(b) && b >= 1),
    'blockSize',
    blockSize,
    'a pair [rows, cols] of integers ≥ 1',
  );
}

/**
 * One pooled score per block of a rank-2 tensor of `rows × cols` scores. Edge blocks that overhang
 * the kernel pool only their entries inside it (tfmot pools with 'SAME' padding, which averages over
 * valid entries only).
 */
export function poolBlocks(
  scores: Float32Array,
  rows: number,
  cols: number,
  blockSize: readonly [number, number],
  pooling: BlockPooling,
): { pooled: Float32Array; blockRows: number; blockCols: number } {
  const [bh, bw] = blockSize;
  const blockRows = Math.ceil(rows / bh);
  const blockCols = Math.ceil(cols / bw);
  const pooled = new Float32Array(blockRows * blockCols);
  const counts = new Uint32Array(blockRows * blockCols);
  for (let r = 0; r < rows; r++) {
    const br = Math.floor(r / bh);
    for (let c = 0; c < cols; c++) {
      const b = br * blockCols + Math.floor(c / bw);
      const v = scores[r * cols + c];
      if (pooling === 'max') {
        if (v > pooled[b]) pooled[b] = v;
      } else {
        pooled[b] += v;
        counts[b]++;
      }
    }
  }
  if (pooling === 'avg') for (let b = 0; b < pooled.length; b++) pooled[b] /= counts[b];
  return { pooled, blockRows, blockCols };
}

/**
 * Block-sparse masks (tfmot `block_size` / `block_pooling_type`) for rank-2 kernels: the |scores| of
 * each `blockSize` block are pooled to one score, the smallest `sparsity` fraction of blocks is zeroed
 * whole (per layer by default). Non-rank-2 params are rejected, as tfmot does.
 */
export function blockMasks(params: readonly Param[], options: BlockOptions): PruningResult {
  const { sparsity, blockSize, blockPooling = 'avg', scope = DEFAULT_PRUNING.scope, rule = DEFAULT_PRUNING.rule } = options;
  checkSparsity('block sparsity', sparsity);
  checkBlockSize(blockSize);
  checkOneOf('blockPooling', blockPooling, BLOCK_POOLINGS);
  checkScopeAndRule(scope, rule);
  checkScoreOptions(params, options);
  if (params.length === 0) throw new SparsifyConfigError('blockMasks needs at least one param; got none');
  for (const p of params) {
    check(
      p.variable.rank === 2,
      `blockMasks: rank of param ${JSON.stringify(p.name)}`,
      p.variable.rank,
      '2 (block sparsity applies to rank-2 weights such as dense kernels)',
    );
  }
  const pools = params.map((p, i) => {
    const [rows, cols] = p.variable.shape;
    return poolBlocks(readScores(p, i, options), rows, cols, blockSize, blockPooling);
  });
  const thresholds = rankThresholds(
    pools.map((b) => b.pooled),
    sparsity,
    scope,
    rule,
  );
  const [bh, bw] = blockSize;
  const masks = params.map((p, i) => {
    const [rows, cols] = p.variable.shape;
    const { pooled, blockCols } = pools[i];
    const keepBlock = pooled.map((s) => (keeps(s, thresholds[i]) ? 1 : 0));
    const mask = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const br = Math.floor(r / bh);
      for (let c = 0; c < cols; c++) mask[r * cols + c] = keepBlock[br * blockCols + Math.floor(c / bw)];
    }
    return { variable: p.variable, mask: tf.tensor(mask, [rows, cols], 'float32') };
  });
  return { masks, thresholds };
}
