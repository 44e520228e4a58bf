import { describeConformance } from '@sparsify/conformance';
import { beforeAll, describe, it } from 'vitest';
import { sparsifyKernels } from '../../../tools/testing/kernels.js';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { adaptiveLasso, lasso, logPenalty, plugin, reweightedL1 } from '../src/index.js';

beforeAll(() => useTestBackend());

// The shared battery: finite-difference gradient, no tensor growth over 500 training steps (with refreshes
// of the adaptive weights), getConfig round trip through the registry, dispose frees everything, same value
// and gradient on cpu and wasm.
describeConformance(
  { describe, it },
  { kernels: sparsifyKernels, bitIdentical: true, name: 'lasso', plugin, bindTo: 'all', create: () => lasso({ strength: 1e-3 }) },
);
describeConformance(
  { describe, it },
  { kernels: sparsifyKernels, bitIdentical: true, name: 'adaptive-lasso', plugin, create: () => adaptiveLasso({ strength: 1e-3 }) },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'adaptive-lasso (γ 2, normalised, warm-up 1 epoch, refresh every 2, lazy snapshot on resume)',
    plugin,
    bindTo: 'all',
    // Epoch 1: past the warm-up, so the first loss() takes the snapshot (the resume path).
    context: { step: 0, epoch: 1 },
    create: () => adaptiveLasso({ strength: 1e-3, gamma: 2, normalize: true, warmupEpochs: 1, refreshEvery: 2 }),
  },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'reweighted-l1 (per epoch)',
    plugin,
    create: () => reweightedL1({ strength: 1e-3 }),
  },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'reweighted-l1 (a, b, every 7 steps)',
    plugin,
    bindTo: 'all',
    create: () => reweightedL1({ strength: 1e-3, a: 1, b: 0.05, every: 7 }),
  },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'log-penalty',
    plugin,
    create: () => logPenalty({ strength: 1e-3, epsilonRel: 0.1 }),
  },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'log-penalty (a, b, with a bias)',
    plugin,
    bindTo: 'all',
    create: () => logPenalty({ strength: 1e-3, a: 2, b: 0.1 }),
  },
);
