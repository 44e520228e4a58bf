// What the browser scripts share (browser-test.mjs, browser-inference.mjs, build-demo.mjs): where Debian's
// Chromium is, where tfjs-backend-wasm's binaries are, and how a page script is bundled.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

/** Debian's Chromium, or `SPARSIFY_CHROMIUM`; undefined when neither exists (never a downloaded browser). */
export const CHROMIUM = [process.env.SPARSIFY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));

/** tfjs-backend-wasm's `.wasm` files, which a page fetches beside its script. */
export const WASM_DIR = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

/** A page script bundled from the packages' browser entries, TensorFlow.js included, as an app would ship it. */
export async function bundlePage(entry) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].contents;
}
