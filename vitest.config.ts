import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(`${root}packages`).filter((dir) =>
  existsSync(`${root}packages/${dir}/package.json`),
);

// Tests run on source: each @sparsify/<name> resolves to packages/<name>/src, so no build is needed
// for a package's own tests (tRPC-style aliases; the published exports map points at dist/).
const alias = Object.fromEntries(
  packages.map((dir) => [`@sparsify/${dir}`, `${root}packages/${dir}/src/index.ts`]),
);

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
      ...packages.map((dir) => ({
        extends: true as const,
        test: { name: dir, include: [`packages/${dir}/test/**/*.test.ts`] },
      })),
      {
        extends: true as const,
        test: { name: 'tools', include: ['tools/*/test/**/*.test.ts'] },
      },
    ],
  },
});
