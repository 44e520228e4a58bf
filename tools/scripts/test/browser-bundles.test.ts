import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { LIBRARY_PACKAGES, bundleForBrowser } from '../browser-bundles.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('every library package bundles for the browser', () => {
  it('lists every package but the CLI', () => {
    expect(LIBRARY_PACKAGES).toContain('@sparsify/layers');
    expect(LIBRARY_PACKAGES).not.toContain('@sparsify/cli');
  });

  for (const name of LIBRARY_PACKAGES as string[]) {
    it(`${name}: its main entry reaches no Node built-in`, async () => {
      const dist = `${root}packages/${name.slice('@sparsify/'.length)}/dist/index.js`;
      expect(existsSync(dist), `${dist} is missing: build first (npm run build)`).toBe(true);
      const { minified, nodeImports } = await bundleForBrowser(name);
      expect(nodeImports).toEqual([]);
      expect(minified).toBeGreaterThan(0);
    });
  }

  it('catches a Node built-in when one is reached (the check can fail)', async () => {
    const { nodeImports } = await bundleForBrowser('@sparsify/layers/node');
    expect(nodeImports.some((i: string) => /-> (node:)?(fs|path)/.test(i))).toBe(true);
  });
});
