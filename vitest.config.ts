import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { MATRIX_SUITES, TEST_BACKEND_ENV, testBackends } from './tools/testing/matrix.js';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(`${root}packages`).filter((dir) => existsSync(`${root}packages/${dir}/package.json`));

// Tests run on source: each @sparsify/<name> resolves to packages/<name>/src, so no build is needed
// for a package's own tests (tRPC-style aliases; the published exports map points at dist/).
// Tests run in Node, so a package with a Node entry (the `node` export condition) resolves to it.
const entry = (dir: string) =>
  existsSync(`${root}packages/${dir}/src/index.node.ts`)
    ? `${root}packages/${dir}/src/index.node.ts`
    : `${root}packages/${dir}/src/index.ts`;
const alias = Object.fromEntries(
  packages.flatMap((dir) => [
    ...(existsSync(`${root}packages/${dir}/src/index.node.ts`)
      ? [[`@sparsify/${dir}/node`, `${root}packages/${dir}/src/index.node.ts`]]
      : []),
    [`@sparsify/${dir}`, entry(dir)],
  ]),
);

// SPARSIFY_TEST_BACKENDS (default cpu,wasm) lists the legs: cpu is every package's own project (its
// matrix suites run on cpu there), each other backend a project of its name running MATRIX_SUITES on it.
const legs = testBackends();

export default defineConfig({
  resolve: { alias },
  test: {
    // tfjs-node cannot load in a second worker thread (tensorflow/tfjs#8388): forks only.
    pool: 'forks',
    // Test files run in parallel, one per core: wasm pool threads on top would oversubscribe the
    // cores. Tests of the threaded build ask for their count explicitly.
    env: { SPARSIFY_WASM_THREADS: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      ...(legs.includes('cpu')
        ? [
            ...packages.map((dir) => ({
              extends: true as const,
              test: { name: dir, include: [`packages/${dir}/test/**/*.test.ts`] },
            })),
            {
              extends: true as const,
              test: { name: 'tools', include: ['tools/*/test/**/*.test.ts'] },
            },
          ]
        : []),
      ...legs
        .filter((backend) => backend !== 'cpu')
        .map((backend) => ({
          extends: true as const,
          test: { name: backend, include: [...MATRIX_SUITES], env: { [TEST_BACKEND_ENV]: backend } },
        })),
    ],
  },
});
