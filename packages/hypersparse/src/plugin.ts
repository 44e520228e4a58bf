import type { SparsifyPlugin } from '@sparsify/core';
import { hyperSparse, HYPERSPARSE_OPTIONS, PACKAGE_NAME, type HyperSparseOptions } from './hypersparse.js';

/** Registers `hypersparse`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'hypersparse',
      package: PACKAGE_NAME,
      description:
        'HyperSparse (arXiv 2308.07163): value 0, gradient α·sign(w)·c·sech²(s|w|) over all bound weights with s = C/t, t = a(⌊κN⌋); use with the ART schedule (art().strength)',
      schema: HYPERSPARSE_OPTIONS,
      create: (options) => hyperSparse(options as HyperSparseOptions),
    },
  ],
};
