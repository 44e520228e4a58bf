import type { SparsifyPlugin } from '@sparsify/core';
import { halo, HALO_OPTIONS, PACKAGE_NAME, sws, SWS_OPTIONS, type HaloOptions, type SwsOptions } from './halo.js';

/** Registers `halo` and `sws`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'halo',
      package: PACKAGE_NAME,
      description:
        'HALO (arXiv 2008.10183): ξ·Σ|w|/λ² + ψ·R(Σ|λ| − p) with one trainable λ per weight (own optimizer, coupled weight decay)',
      schema: HALO_OPTIONS,
      create: (options) => halo(options as HaloOptions),
    },
    {
      name: 'sws',
      package: PACKAGE_NAME,
      description: 'SWS (HALO paper, --ws): ξ·Σ‖W‖₁/λ² + ψ·λ² with one shared trainable λ',
      schema: SWS_OPTIONS,
      create: (options) => sws(options as SwsOptions),
    },
  ],
};
