// `npm run test:browser`: builds tools/browser/page.ts from the packages' browser entries (esbuild,
// TensorFlow.js bundled in, as an app would), serves it on a loopback port and drives Debian's
// Chromium (never a downloaded browser) through playwright-core: on cpu, wasm and webgl (SwiftShader)
// it trains LeNet-300-100 on 1,000 bundled digits with a penalty, prunes to 90%, exports the sparse
// format, reloads it, and checks accuracy, sparsity, equal predictions and leaked tensors. Then it
// loads the page again cross-origin isolated (threaded wasm) to show whether wasm starts there.
// Exits 0 when every check passed, 1 when one failed, 2 when no Chromium is installed.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { buildDemo, serveDirectory } from './build-demo.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const CHROMIUM = process.env.SPARSIFY_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const LEG_TIMEOUT_MS = 240_000;

if (!CHROMIUM || !existsSync(CHROMIUM)) {
  console.error('!!! browser test SKIPPED: no Chromium (apt-get install -y chromium, or set SPARSIFY_CHROMIUM)');
  process.exit(2);
}

const bundle = await build({
  entryPoints: [join(root, 'tools/browser/page.ts')],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  minify: true,
  write: false,
  logLevel: 'warning',
});
const script = bundle.outputFiles[0].contents;
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
const digitsDir = join(dirname(require.resolve('mnist/package.json')), 'src/digits');
const html = '<!doctype html><meta charset="utf-8"><title>sparsify browser test</title><script type="module" src="/page.js"></script>';

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const isolate = url.searchParams.has('isolated') || req.headers.referer?.includes('isolated');
  const headers = isolate ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
  const send = (type, body) => res.writeHead(200, { 'Content-Type': type, ...headers }).end(body);
  if (url.pathname === '/') return send('text/html', html);
  if (url.pathname === '/page.js') return send('text/javascript', script);
  const wasm = url.pathname.match(/^\/wasm\/([\w-]+\.wasm)$/);
  if (wasm && existsSync(join(wasmDir, wasm[1]))) return send('application/wasm', readFileSync(join(wasmDir, wasm[1])));
  const digit = url.pathname.match(/^\/digits\/(\d)\.json$/);
  if (digit) return send('application/json', readFileSync(join(digitsDir, `${digit[1]}.json`)));
  res.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  chromiumSandbox: false,
  args: ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
});
let failed = 0;
let passed = 0;
const expectThat = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (ok) passed++;
  else failed++;
};

async function runPage(query, backends) {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`  [page] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  await page.goto(base + query);
  await page.waitForFunction(() => globalThis.sparsify !== undefined, null, { timeout: 60_000 });
  const timer = new Promise((_, reject) =>
    setTimeout(
      () => reject(new Error(`no result within ${(LEG_TIMEOUT_MS * backends.length) / 1000} s (stalled?)`)),
      LEG_TIMEOUT_MS * backends.length,
    ),
  );
  try {
    return await Promise.race([page.evaluate((b) => globalThis.sparsify.run(b), backends), timer]);
  } finally {
    await page.close();
  }
}

try {
  console.log(`Chromium ${browser.version()} (${CHROMIUM}), playwright-core ${require('playwright-core/package.json').version}`);
  const results = await runPage('', ['cpu', 'wasm', 'webgl']);
  for (const r of results) {
    const name = `${r.backend} (${r.penalty})`;
    expectThat(r.accuracy >= 0.75, `${name}: test accuracy ${r.accuracy.toFixed(3)} ≥ 0.75 at 90% sparsity`);
    expectThat(r.sparsity >= 0.895, `${name}: kernel sparsity ${r.sparsity.toFixed(4)} ≥ 0.895`);
    expectThat(r.maxDiff === 0, `${name}: reloaded sparse model predicts the same (max |Δ| ${r.maxDiff})`);
    expectThat(r.ratio < 0.3, `${name}: sparse format ${(100 * r.ratio).toFixed(1)}% of dense`);
    expectThat(r.leakedTensors === 0, `${name}: no tensors left (${r.leakedTensors})`);
    console.log(`     ${name}: ${r.seconds.toFixed(1)} s`);
    const loop = `${r.backend} (train loop, ${r.loop.penalty})`;
    expectThat(
      r.loop.accuracy >= 0.75,
      `${loop}: test accuracy ${r.loop.accuracy.toFixed(3)} ≥ 0.75 after one-shot pruning to 90% and fine-tuning`,
    );
    expectThat(r.loop.sparsity >= 0.895, `${loop}: kernel sparsity ${r.loop.sparsity.toFixed(4)} ≥ 0.895`);
    expectThat(r.loop.maxDiff === 0, `${loop}: reloaded sparse (csr) model predicts the same (max |Δ| ${r.loop.maxDiff})`);
    expectThat(r.loop.leakedTensors === 0, `${loop}: no tensors left (${r.loop.leakedTensors})`);
    console.log(`     ${loop}: ${r.loop.seconds.toFixed(1)} s`);
  }
  expectThat(results.length === 3, `ran ${results.map((r) => r.backend).join(', ')}`);
  // Cross-origin isolated: SharedArrayBuffer exists, so tfjs-backend-wasm starts its threaded build.
  try {
    const [isolated] = await runPage('?isolated', ['wasm']);
    expectThat(isolated.crossOriginIsolated, 'the ?isolated page is cross-origin isolated (COOP + COEP)');
    expectThat(
      isolated.accuracy >= 0.75 && isolated.sparsity >= 0.895 && isolated.maxDiff === 0 && isolated.leakedTensors === 0,
      `wasm, cross-origin isolated: accuracy ${isolated.accuracy.toFixed(3)}, sparsity ${isolated.sparsity.toFixed(4)}, same predictions, no tensors left`,
    );
    console.log(
      `     wasm, cross-origin isolated: ${isolated.wasmThreads} thread(s)${isolated.wasmThreadsNote ? ` (${isolated.wasmThreadsNote})` : ''}, ${isolated.seconds.toFixed(1)} s`,
    );
  } catch (error) {
    expectThat(false, `wasm, cross-origin isolated: ${error.message}`);
  }
  await demoRun();
} catch (error) {
  expectThat(false, `browser run: ${error.stack ?? error}`);
} finally {
  await browser.close();
  server.close();
}

/** One short run through the demo page's controls (docs/demo); `--screenshot` refreshes its picture. */
async function demoRun() {
  const demo = await serveDirectory(await buildDemo(join(root, '.tmp/demo')));
  const page = await browser.newPage({ viewport: { width: 1150, height: 1000 }, acceptDownloads: true });
  page.on('pageerror', (e) => console.log(`  [demo error] ${e.message}`));
  try {
    await page.goto(`http://127.0.0.1:${demo.address().port}/`);
    await page.selectOption('#model', 'lenet-300-100');
    await page.selectOption('#penalty', 'hoyer-square');
    await page.fill('#sparsity', '0.9');
    await page.fill('#epochs', '4');
    await page.fill('#samples', '2000');
    await page.selectOption('#backend', 'wasm');
    await page.click('#train');
    const result = await page.waitForSelector('#result', { timeout: LEG_TIMEOUT_MS });
    const sparsity = Number(await result.getAttribute('data-sparsity'));
    const accuracy = Number(await result.getAttribute('data-accuracy'));
    expectThat(
      sparsity >= 0.895 && accuracy >= 0.6,
      `demo page: trained to ${(100 * sparsity).toFixed(1)}% sparsity, test accuracy ${accuracy.toFixed(3)}`,
    );
    const charts = await page.$$eval('#charts svg', (svgs) => svgs.length);
    expectThat(charts === 3, `demo page: loss, accuracy and per-layer sparsity charts drawn (${charts})`);
    const download = page.waitForEvent('download', { timeout: 10_000 });
    await page.click('#download');
    expectThat((await download).suggestedFilename() === 'model.sparse.json', 'demo page: the sparse model downloads');
    if (process.argv.includes('--screenshot')) await page.screenshot({ path: join(root, 'docs/demo/screenshot.png'), fullPage: true });
  } finally {
    await page.close();
    demo.close();
  }
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
