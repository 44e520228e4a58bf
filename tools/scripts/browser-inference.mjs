// `node tools/scripts/browser-inference.mjs <model dir> [--rounds N] [--round-ms M] [--backends a,b]` (after
// `npm run build`): inference latency of an exported layers model (model.json + weights.bin, e.g.
// `sparsify export <run>`) in Debian's Chromium (never a downloaded browser) through playwright-core, on
// webgl, wasm and cpu: dense vs sparse vs shrunk (tools/browser/inference-page.ts), printed as a table
// for docs/performance.md. Chromium runs headless with WebGL on SwiftShader, a software renderer: the
// webgl figures are a CPU emulating a GPU, and on a real GPU the ratios may differ. Exits 2 when no
// Chromium is installed.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bundlePage, CHROMIUM, WASM_DIR } from './browser-page.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const modelDir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!modelDir || !existsSync(join(modelDir, 'model.json'))) {
  console.error('usage: node tools/scripts/browser-inference.mjs <dir with model.json + weights.bin> [--rounds N] [--round-ms M]');
  process.exit(1);
}
if (!CHROMIUM) {
  console.error('!!! browser inference SKIPPED: no Chromium (apt-get install -y chromium, or set SPARSIFY_CHROMIUM)');
  process.exit(2);
}
const rounds = option('--rounds', 15);
const backendsAt = args.indexOf('--backends');
const backends = backendsAt >= 0 ? args[backendsAt + 1].split(',') : ['webgl', 'wasm', 'cpu'];
const batchesAt = args.indexOf('--batches');
const batches = batchesAt >= 0 ? args[batchesAt + 1].split(',').map(Number) : [1, 32];
const roundMs = option('--round-ms', 20);

const script = await bundlePage(join(root, 'tools/browser/inference-page.ts'));
const html = '<!doctype html><meta charset="utf-8"><title>sparsify inference</title><script type="module" src="/page.js"></script>';
const modelFiles = new Set(['model.json', 'weights.bin']);

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const send = (type, body) => res.writeHead(200, { 'Content-Type': type }).end(body);
  if (url.pathname === '/') return send('text/html', html);
  if (url.pathname === '/page.js') return send('text/javascript', script);
  const wasm = url.pathname.match(/^\/wasm\/([\w-]+\.wasm)$/);
  if (wasm && existsSync(join(WASM_DIR, wasm[1]))) return send('application/wasm', readFileSync(join(WASM_DIR, wasm[1])));
  const model = url.pathname.match(/^\/model\/([\w.]+)$/);
  if (model && modelFiles.has(model[1])) return send('application/octet-stream', readFileSync(join(resolve(modelDir), model[1])));
  res.writeHead(404).end();
});
await new Promise((done) => server.listen(0, '127.0.0.1', done));

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  chromiumSandbox: false,
  args: ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
});
const load = loadavg()
  .map((v) => v.toFixed(1))
  .join(' ');
let result;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  page.on('console', (m) => console.log(`  [page] ${m.text()}`));
  page.on('crash', () => console.log('  [page crashed]'));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => globalThis.sparsifyInference !== undefined, null, { timeout: 60_000 });
  result = await page.evaluate(([b, bs, r, ms]) => globalThis.sparsifyInference.run(b, bs, r, ms), [backends, batches, rounds, roundMs]);
} finally {
  await browser.close();
  server.close();
}

const fmt = (v) => (v >= 1 ? v.toPrecision(3) : v.toPrecision(3).replace(/^0\./, '0.'));
console.log(
  `Chromium ${browser.version()} headless, ${cpus().length} cores, load ${load} at start; model ${basename(resolve(modelDir))}; ` +
    `min over ${rounds} interleaved rounds of ≈ ${roundMs} ms per variant; webgl renderer: ${result.renderer ?? 'unknown'}`,
);
console.log(`shrunk: ${result.kept}`);
console.log('');
console.log(
  '| backend | batch | dense ms | sparse ms | × dense | shrunk ms | × dense | shrunk, plain predict ms | × dense | max abs Δ (sparse, shrunk) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
const groups = new Map();
for (const r of result.rows) groups.set(`${r.backend} ${r.batch}`, [...(groups.get(`${r.backend} ${r.batch}`) ?? []), r]);
for (const rows of groups.values()) {
  const [d, s, k, kp] = ['dense', 'sparse', 'shrunk', 'shrunk-predict'].map((v) => rows.find((r) => r.variant === v));
  const x = (a) => `${(d.minMs / a.minMs).toFixed(2)}×`;
  console.log(
    `| ${d.backend} | ${d.batch} | ${fmt(d.minMs)} | ${fmt(s.minMs)} | ${x(s)} | ${fmt(k.minMs)} | ${x(k)} | ${fmt(kp.minMs)} | ${x(kp)} | ${s.maxDiff.toExponential(1)}, ${k.maxDiff.toExponential(1)} |`,
  );
}
for (const e of result.errors) console.log(`error: ${e}`);
process.exit(result.errors.length ? 1 : 0);
