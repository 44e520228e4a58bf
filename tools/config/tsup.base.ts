import { defineConfig, type Options } from 'tsup';

/**
 * Every package builds the same way: ESM + CJS + .d.ts from src/, tfjs and workspace packages external
 * (tsup externalises dependencies and peers by default; tfjs must never be bundled: one engine per process).
 */
export function packageConfig(overrides: Partial<Options> = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    shims: true,
    splitting: false,
    treeshake: true,
    ...overrides,
  });
}
