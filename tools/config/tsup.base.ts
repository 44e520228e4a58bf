import { existsSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

/**
 * Every package builds the same way: ESM + CJS + .d.ts from src/, tfjs and workspace packages external
 * (tsup externalises dependencies and peers by default; tfjs must never be bundled: one engine per process).
 * A package with Node-only parts also has src/index.node.ts: the entry for the `node` export condition
 * and the `./node` subpath, which re-exports the portable entry and adds them.
 */
export function packageConfig(overrides: Partial<Options> = {}) {
  return defineConfig({
    entry: existsSync('src/index.node.ts') ? ['src/index.ts', 'src/index.node.ts'] : ['src/index.ts'],
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
