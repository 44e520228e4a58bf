import { defineConfig } from 'tsup';

/**
 * ESM files: dist/worker.js (the worker thread that runs the cases, importing the packages under
 * test at run time, never bundled) and dist/cli.js (`npm run fuzz -- --cases N --seed S`).
 */
export default defineConfig({
  entry: ['src/worker.ts', 'src/cli.ts', 'src/index.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  clean: true,
  splitting: false,
  sourcemap: true,
  external: [/^@tensorflow\//, /^@sparsify\//],
});
