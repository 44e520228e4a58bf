import type { PenaltyOptionInfo, SparsifyPlugin } from '@sparsify/core';
import { groupHoyerSquare, hoyer, hoyerSquare, PACKAGE_NAME, type GroupHoyerSquareOptions, type HoyerOptions } from './penalties.js';
import { GROUP_MODES } from './terms.js';

const strength = (recommended: string): PenaltyOptionInfo => ({
  type: 'strength',
  required: true,
  description: `global coefficient λ (number, schedule or schedule config); the penalty is summed over tensors, not averaged. ${recommended}`,
});

/** Registers `hoyer`, `hoyer-square` and `group-hoyer-square`: `registerPlugin(plugin)`. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: 'hoyer',
      package: PACKAGE_NAME,
      description: 'Hoyer regulariser λ·Σ_W ‖W‖₁/‖W‖₂ (DeepHoyer, arXiv 1908.09979), one term per tensor',
      options: { strength: strength('LeNet-300-100: 2e-2, LeNet-5: 1e-2 (COMP6248).') },
      create: (options) => hoyer(options as unknown as HoyerOptions),
    },
    {
      name: 'hoyer-square',
      package: PACKAGE_NAME,
      description: 'Hoyer-Square λ·Σ_W ‖W‖₁²/‖W‖₂² (DeepHoyer, arXiv 1908.09979), one term per tensor',
      options: { strength: strength('LeNet-300-100: 2e-4, LeNet-5: 1e-4 (COMP6248).') },
      create: (options) => hoyerSquare(options as unknown as HoyerOptions),
    },
    {
      name: 'group-hoyer-square',
      package: PACKAGE_NAME,
      description:
        'Group-Hoyer-Square λ·Σ_layers [(Σ n_in)² + ρ(Σ n_out)²]/‖W‖₂² over input and output groups of dense and conv kernels (DeepHoyer); Hoyer-Square for biases',
      options: {
        strength: strength('LeNet-300-100: 2e-3, LeNet-5: 1e-1 (COMP6248).'),
        groups: {
          type: 'string',
          default: 'auto',
          values: GROUP_MODES,
          description:
            'auto: input and output groups for dense/conv2d kernels, Hoyer-Square elsewhere; both|input|output: that grouping (error for kernels without groups)',
        },
        outputRatio: {
          type: 'number',
          default: 1,
          description: 'weight ρ of the output-group term with groups both/auto (the reference uses 1)',
        },
      },
      create: (options) => groupHoyerSquare(options as unknown as GroupHoyerSquareOptions),
    },
  ],
};
