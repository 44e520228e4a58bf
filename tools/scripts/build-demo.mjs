// `npm run demo`: builds the demo page (docs/demo) into docs/demo/dist — the page, its script bundled
// with TensorFlow.js, the wasm backend's binaries and the bundled digits — and, with --serve, serves it
// on http://127.0.0.1:8080/ (or PORT).
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePage, WASM_DIR } from './browser-page.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

/** Builds the demo into `out` (default docs/demo/dist); returns `out`. */
export async function buildDemo(out = join(root, 'docs/demo/dist')) {
  mkdirSync(join(out, 'wasm'), { recursive: true });
  writeFileSync(join(out, 'demo.js'), await bundlePage(join(root, 'docs/demo/demo.ts')));
  copyFileSync(join(root, 'docs/demo/index.html'), join(out, 'index.html'));
  for (const f of readdirSync(WASM_DIR).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(WASM_DIR, f), join(out, 'wasm', f));
  cpSync(join(dirname(require.resolve('mnist/package.json')), 'src/digits'), join(out, 'digits'), { recursive: true });
  return out;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/** A static server for `dir` on `port` (0: any free one); resolves to the server once listening. */
export function serveDirectory(dir, port = 0) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(dir) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildDemo();
  console.log(`demo built in ${out}`);
  if (process.argv.includes('--serve')) {
    const server = await serveDirectory(out, Number(process.env.PORT ?? 8080));
    console.log(`serving on http://127.0.0.1:${server.address().port}/ (Ctrl-C stops)`);
  }
}
