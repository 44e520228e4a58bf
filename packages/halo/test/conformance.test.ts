import { describeConformance } from '@sparsify/conformance';
import { beforeAll, describe, it } from 'vitest';
import { sparsifyKernels } from '../../../tools/testing/kernels.js';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { halo, plugin, sws } from '../src/index.js';

beforeAll(() => useTestBackend());

// The shared battery: finite-difference gradient (weights and λ's), no tensor growth over 500 training
// steps (λ optimizers included), getConfig round trip through the registry, dispose frees the λ variables,
// same value and gradient on cpu and wasm with loop kernels on and off. Coefficients are large enough that the λ-gradient is visible
// next to float32 finite differences.
describeConformance(
  { describe, it },
  { kernels: sparsifyKernels, bitIdentical: true, name: 'halo', plugin, create: () => halo({ xi: 0.05, psi: 0.01 }) },
);
describeConformance(
  { describe, it },
  {
    kernels: sparsifyKernels,
    bitIdentical: true,
    name: 'halo (l2 hyperprior, budget, strength, λ optimizer spec, with a bias)',
    plugin,
    bindTo: 'all',
    create: () =>
      halo({
        xi: 0.05,
        psi: 1e-3,
        hyperPrior: 'l2',
        budget: 50,
        strength: 2,
        lambdaInit: 0.8,
        lambdaWeightDecay: 1e-3,
        lambdaOptimizer: { className: 'Momentum', config: { learningRate: 0.01, momentum: 0.9 } },
      }),
  },
);
describeConformance(
  { describe, it },
  { kernels: sparsifyKernels, bitIdentical: true, name: 'sws', plugin, create: () => sws({ xi: 0.05, psi: 0.01 }) },
);
