import { defineConfig } from 'tsup';

/**
 * One ESM file, dist/index.js (what `npm run bench` runs). tfjs and every @sparsify package stay
 * external (one tfjs engine per process; penalty packages are optional and imported at run time);
 * the wasm kernels are bundled from packages/backend/src/kernels so stock and sparsify kernels can be
 * compared in one process whatever @sparsify/backend currently re-exports.
 */
export default defineConfig({
  entry: ['src/index.ts', 'src/compare.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  clean: true,
  splitting: false,
  sourcemap: true,
  external: [/^@tensorflow\//, /^@sparsify\//],
});
