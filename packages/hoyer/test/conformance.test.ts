import { describeConformance } from '@sparsify/conformance';
import { beforeAll, describe, it } from 'vitest';
import { sparsifyKernels } from '../../../tools/testing/kernels.js';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { groupHoyerSquare, hoyer, hoyerSquare, plugin } from '../src/index.js';

beforeAll(() => useTestBackend());

// The shared battery: finite-difference gradient, no tensor growth over 500 steps, getConfig round trip
// through the registry, dispose frees everything, same value and gradient on cpu and wasm (loop kernels on and off).
describeConformance(
  { describe, it },
  { kernels: sparsifyKernels, bitIdentical: true, name: 'hoyer', plugin, bindTo: 'all', create: () => hoyer({ strength: 2e-2 }) },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'hoyer-square',
    plugin,
    bindTo: 'all',
    create: () => hoyerSquare({ strength: 2e-4 }),
  },
);
describeConformance(
  { describe, it },
  { kernels: sparsifyKernels, bitIdentical: true, name: 'group-hoyer-square', plugin, create: () => groupHoyerSquare({ strength: 2e-3 }) },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'group-hoyer-square (both, outputRatio 0.5, with a bias)',
    plugin,
    bindTo: 'all',
    create: () => groupHoyerSquare({ strength: 1, groups: 'both', outputRatio: 0.5 }),
  },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'group-hoyer-square (input groups)',
    plugin,
    create: () => groupHoyerSquare({ strength: 1, groups: 'input' }),
  },
);
