// Bundles each library package's main entry the way a browser app would (esbuild, platform
// 'browser', TensorFlow.js external: it is a peer, loaded once by the app) and reports its size and
// any Node built-in it reaches. Used by tools/scripts/test/browser-bundles.test.ts, by the bench's
// `bundles` section (docs/performance.md) and, run directly, prints the bundle-size table of the
// README (`npm run bundle-sizes`).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Packages meant to run wherever tfjs runs: every package but the CLI (the tools are not packages). */
export const LIBRARY_PACKAGES = readdirSync(`${root}packages`)
  .filter((dir) => existsSync(`${root}packages/${dir}/package.json`))
  .filter((dir) => dir !== 'cli')
  .map((dir) => JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8')).name);

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/**
 * `{ minified, gzip, nodeImports }` for `specifier` bundled for the browser: bytes of the minified
 * bundle and of it gzipped (level 9), and every Node built-in import as `importer -> module`.
 */
export async function bundleForBrowser(specifier) {
  const nodeImports = [];
  const result = await build({
    stdin: { contents: `export * from '${specifier}';`, resolveDir: root, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    logLevel: 'silent',
    external: ['@tensorflow/*'],
    plugins: [
      {
        name: 'node-builtins',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (!BUILTINS.has(args.path)) return undefined;
            nodeImports.push(`${args.importer.slice(root.length) || '(entry)'} -> ${args.path}`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength, nodeImports };
}

/**
 * The README's and the bench's bundle-size table (Markdown) of every library package, and the line
 * saying how it was measured. Throws when a package reaches a Node built-in.
 */
export async function bundleSizeTable() {
  const kb = (n) => (n / 1024).toFixed(1);
  const lines = ['| package | minified (KiB) | gzip (KiB) |', '| --- | ---: | ---: |'];
  for (const name of LIBRARY_PACKAGES) {
    const { minified, gzip, nodeImports } = await bundleForBrowser(name);
    if (nodeImports.length) throw new Error(`${name} reaches Node built-ins: ${nodeImports.join(', ')}`);
    lines.push(`| \`${name}\` | ${kb(minified)} | ${kb(gzip)} |`);
  }
  const { version } = await import('esbuild');
  lines.push('', `esbuild ${version}, platform browser, minified, @tensorflow/* external; gzip level 9.`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await bundleSizeTable());
