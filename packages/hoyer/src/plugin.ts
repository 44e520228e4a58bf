import type { SparsifyPlugin } from '@sparsify/core';
import {
  GROUP_HOYER_SQUARE_OPTIONS,
  groupHoyerSquare,
  hoyer,
  HOYER_OPTIONS,
  HOYER_SQUARE_OPTIONS,
  hoyerSquare,
  PACKAGE_NAME,
  type GroupHoyerSquareOptions,
  type HoyerOptions,
} from './penalties.js';

/** Registers `hoyer`, `hoyer-square` and `group-hoyer-square`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'hoyer',
      package: PACKAGE_NAME,
      description: 'Hoyer regulariser λ·Σ_W ‖W‖₁/‖W‖₂ (DeepHoyer, arXiv 1908.09979), one term per tensor',
      schema: HOYER_OPTIONS,
      create: (options) => hoyer(options as HoyerOptions),
    },
    {
      name: 'hoyer-square',
      package: PACKAGE_NAME,
      description: 'Hoyer-Square λ·Σ_W ‖W‖₁²/‖W‖₂² (DeepHoyer, arXiv 1908.09979), one term per tensor',
      schema: HOYER_SQUARE_OPTIONS,
      create: (options) => hoyerSquare(options as HoyerOptions),
    },
    {
      name: 'group-hoyer-square',
      package: PACKAGE_NAME,
      description:
        'Group-Hoyer-Square λ·Σ_layers [(Σ n_in)² + ρ(Σ n_out)²]/‖W‖₂² over input and output groups of dense and conv kernels (DeepHoyer); Hoyer-Square for biases',
      schema: GROUP_HOYER_SQUARE_OPTIONS,
      create: (options) => groupHoyerSquare(options as GroupHoyerSquareOptions),
    },
  ],
};
