import type { SparsifyPlugin } from '@sparsify/core';
import { HYPERSPARSE_C, hyperSparse, PACKAGE_NAME, type HyperSparseOptions } from './hypersparse.js';

/** Registers `hypersparse`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'hypersparse',
      package: PACKAGE_NAME,
      description:
        'HyperSparse (arXiv 2308.07163): value 0, gradient α·sign(w)·c·sech²(s|w|) over all bound weights with s = C/t, t = a(⌊κN⌋); use with the ART schedule (art().strength)',
      options: {
        sparsity: { type: 'number', required: true, description: 'target sparsity κ in [0, 1); the threshold t = a(⌊κN⌋) is recomputed every step; 0 disables HS' },
        strength: {
          type: 'strength',
          default: { kind: 'exponentialGrowth', initial: 5e-6, rate: 1.05, beginEpoch: 0 },
          description: 'α: ART grows it ×1.05 per epoch from 5e-6 (λ_init ∈ [5e-7, 5e-5], η ∈ [1.03, 1.1] in the SMAC search)',
        },
        C: { type: 'number', default: HYPERSPARSE_C, description: 's = C/t; 0.6585 ≈ atanh(1/√3) puts the inflection point of sech² at the threshold' },
        thresholdEvery: {
          type: 'number',
          default: 1,
          description: 'recompute t every this many steps (1 = every step, as the reference; larger is a documented deviation that saves the O(N) select)',
        },
      },
      create: (options) => hyperSparse(options as unknown as HyperSparseOptions),
    },
  ],
};
