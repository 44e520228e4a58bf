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
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bundlePage, CHROMIUM, WASM_DIR } from './browser-page.mjs';
import { buildDemo, serveDirectory } from './build-demo.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const LEG_TIMEOUT_MS = 240_000;
const testStart = performance.now();

if (!CHROMIUM) {
  console.error('!!! browser test SKIPPED: no Chromium (apt-get install -y chromium, or set SPARSIFY_CHROMIUM)');
  process.exit(2);
}

const script = await bundlePage(join(root, 'tools/browser/page.ts'));
const digitsDir = join(dirname(require.resolve('mnist/package.json')), 'src/digits');
const idx = idxFiles();
const html = '<!doctype html><meta charset="utf-8"><title>sparsify browser test</title><script type="module" src="/page.js"></script>';

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const isolate = url.searchParams.has('isolated') || req.headers.referer?.includes('isolated');
  const headers = isolate ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
  const send = (type, body) => res.writeHead(200, { 'Content-Type': type, ...headers }).end(body);
  if (url.pathname === '/') return send('text/html', html);
  if (url.pathname === '/page.js') return send('text/javascript', script);
  const wasm = url.pathname.match(/^\/wasm\/([\w-]+\.wasm)$/);
  if (wasm && existsSync(join(WASM_DIR, wasm[1]))) return send('application/wasm', readFileSync(join(WASM_DIR, wasm[1])));
  const idxFile = url.pathname.match(/^\/(idx|idx-bad|idx-bomb)\/([\w.-]+)$/);
  if (idxFile && idx[idxFile[1]][idxFile[2]]) return send('application/octet-stream', idx[idxFile[1]][idxFile[2]]);
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

/** Opens the test page (`query` as its query string) and runs `body` on it, within `timeoutMs`. */
async function onPage(query, body, timeoutMs = LEG_TIMEOUT_MS) {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (!m.text().startsWith('Failed to load resource: the server responded with a status of 404')) console.log(`  [page] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  let timeout;
  const timer = new Promise((_, reject) => {
    timeout = setTimeout(() => reject(new Error(`no result within ${timeoutMs / 1000} s (stalled?)`)), timeoutMs);
  });
  try {
    await page.goto(base + query);
    await page.waitForFunction(() => globalThis.sparsify !== undefined, null, { timeout: 60_000 });
    return await Promise.race([body(page), timer]);
  } finally {
    clearTimeout(timeout);
    await page.close();
  }
}

function runPage(query, backends, compare = false) {
  return onPage(
    query,
    (page) => page.evaluate(([b, c]) => globalThis.sparsify.run(b, c), [backends, compare]),
    LEG_TIMEOUT_MS * (backends.length + 1),
  );
}

try {
  console.log(`Chromium ${browser.version()} (${CHROMIUM}), playwright-core ${require('playwright-core/package.json').version}`);
  const results = await runPage('', ['cpu', 'wasm', 'webgl'], true);
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
  // The penalties must change the result, against the same leg without one: which weights survive
  // pruning (all three) and, for the L1-type penalties, Σ|w| (Hoyer-Square is scale-invariant).
  for (const r of results) {
    const v = r.versusUnpenalized;
    expectThat(
      v !== undefined && v.maskAgreement <= 0.9,
      `${r.backend} (${r.penalty}): keeps ${(100 * v?.maskAgreement).toFixed(1)}% of the weights the unpenalized run keeps (≤ 90%); accuracy ${r.accuracy.toFixed(3)} vs ${v?.accuracy.toFixed(3)}`,
    );
    if (r.penalty !== 'hoyer-square')
      expectThat(
        v?.kernelL1Ratio <= 0.8,
        `${r.backend} (${r.penalty}): Σ|w| of the kernels ${v?.kernelL1Ratio.toFixed(3)} × the unpenalized run's (≤ 0.8)`,
      );
  }
  await onPage('', async (page) => {
    const d = await page.evaluate(() => globalThis.sparsify.idx());
    expectThat(
      d.trainSize === 1000 && d.testSize === 200 && d.shape.join() === '28,28,1',
      `IDX over HTTP (gzipped training files, raw test files): ${d.trainSize} + ${d.testSize} images of ${d.shape.join('×')}`,
    );
    expectThat(
      d.pixelSum === idx.expected.pixelSum && d.labelCounts.join() === idx.expected.labelCounts.join(),
      `IDX over HTTP: the pixels and labels served (Σ pixels ${d.pixelSum}, expected ${idx.expected.pixelSum})`,
    );
    expectThat(
      /^DatasetError: .*\/idx-bad\/train-images-idx3-ubyte\.gz: not a valid gzip stream/.test(d.truncated),
      `IDX over HTTP: truncated gzip refused (${d.truncated.slice(0, 110)})`,
    );
    expectThat(
      /^DatasetError: .*zeros\.gz: decompresses to more than the 1000000 bytes/.test(d.bomb),
      `IDX over HTTP: gzip bomb stopped at maxBytes (${d.bomb.slice(0, 110)})`,
    );
    // Checkpoints in IndexedDB: stop after one epoch, reload the page, resume in a new loop.
    const started = await page.evaluate(() => globalThis.sparsify.startCheckpoint());
    expectThat(
      started.status === 'interrupted' && started.runs.includes('browser-test-resume'),
      `IndexedDB checkpoint: the run stopped after epoch 1 (${started.status}) and is stored`,
    );
    await page.reload();
    await page.waitForFunction(() => globalThis.sparsify !== undefined, null, { timeout: 60_000 });
    const resumed = await page.evaluate(() => globalThis.sparsify.resumeCheckpoint());
    expectThat(
      resumed.status === 'completed' && resumed.resumedFrom === 1 && resumed.resumed === started.straight,
      `IndexedDB checkpoint: resumed after a page reload from epoch ${resumed.resumedFrom}, same weights as straight through (${resumed.resumed} = ${started.straight})`,
    );
    expectThat(resumed.leakedTensors === 0, `IndexedDB checkpoint: no tensors left (${resumed.leakedTensors})`);
    // The report in a DOM element, under a hostile run name.
    const r = resumed.report;
    expectThat(
      r.h1 === 'sparsify run report: <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>' &&
        r.images === 0 &&
        r.scripts === 0 &&
        r.pwned === undefined,
      'renderReport: the run name is text (no img, no script, nothing ran)',
    );
    const zeros = r.layerRows.map((row) => Number(row[3].replace(/,/g, '')));
    const totals = r.layerRows.map((row) => Number(row[2].replace(/,/g, '')));
    expectThat(
      r.layerRows.length === 3 && totals.join() === '235200,30000,1000' && zeros.reduce((a, b) => a + b, 0) / 266200 >= 0.899,
      `renderReport: per-layer table ${r.layerRows.map((row) => `${row[0]} ${row[4]}`).join(', ')}`,
    );
  });
  // Inference plans on webgl: a batch-1 Dense chain as the plan's own WebGL programs, one draw per layer.
  await onPage('', async (page) => {
    const cases = await page.evaluate(() => globalThis.sparsify.webglPlan());
    expectThat(cases.length === 3, `webgl inference plan: ${cases.length} Dense chains`);
    for (const c of cases) {
      const name = `webgl inference plan, ${c.name}`;
      const diffs = [c.maxDiff, c.maxDiffAfterSetWeights, c.maxDiffBatch3];
      expectThat(
        diffs.every((d) => d <= 1e-5),
        `${name}: LayersModel.predict's outputs (max |Δ| ${diffs.map((d) => d.toExponential(1)).join(', ')} at batch 1, after setWeights, at batch 3)`,
      );
      expectThat(
        c.planPrograms === c.denseLayers && c.draws === c.planPrograms && c.planProgramsBatch3 === 0,
        `${name}: batch 1 in ${c.draws} draws, ${c.planPrograms} of them the plan's programs (one per Dense layer, ${c.denseLayers}); batch 3 through tfjs's ops (${c.planProgramsBatch3} of the plan's)`,
      );
      expectThat(c.leakedTensors === 0, `${name}: no tensors left (${c.leakedTensors})`);
    }
  });
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
    // What a Web Worker version of the Node helper thread would rely on (packages/backend/README.md).
    const probe = isolated.helperThreadProbe;
    console.log(
      `     wasm, cross-origin isolated: heap in shared memory: ${probe?.sharedHeap}; Atomics.wait on the main thread: ${probe?.atomicsWait}`,
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

/** IDX bytes: magic 0x0000 08 rank, big-endian dims, data. */
function idxBytes(dims, data) {
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out.writeUInt32BE(0x800 | dims.length, 0);
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/**
 * IDX files the page loads over HTTP (`loadIdxFromUrl`): 100 training and 20 test digits of each class
 * from the bundled digits, the training files gzipped and the test files raw; the same with truncated
 * gzip training images (`idx-bad`); a gzip bomb (2 MB of zeros in ~2 kB, `idx-bomb`).
 */
function idxFiles() {
  const perClass = Array.from({ length: 10 }, (_, d) => JSON.parse(readFileSync(join(digitsDir, `${d}.json`), 'utf8')).data);
  const split = (from, count) => {
    const pixels = new Uint8Array(10 * count * 784);
    const labels = new Uint8Array(10 * count);
    for (let d = 0; d < 10; d++)
      for (let i = 0; i < count; i++) {
        labels[d * count + i] = d;
        for (let p = 0; p < 784; p++) pixels[(d * count + i) * 784 + p] = Math.round(perClass[d][(from + i) * 784 + p] * 255);
      }
    return { images: idxBytes([10 * count, 28, 28], pixels), labels: idxBytes([10 * count], labels), pixels };
  };
  const train = split(0, 100);
  const test = split(100, 20);
  const good = {
    'train-images-idx3-ubyte.gz': gzipSync(train.images),
    'train-labels-idx1-ubyte.gz': gzipSync(train.labels),
    't10k-images-idx3-ubyte': test.images,
    't10k-labels-idx1-ubyte': test.labels,
  };
  const gz = good['train-images-idx3-ubyte.gz'];
  return {
    idx: good,
    'idx-bad': { ...good, 'train-images-idx3-ubyte.gz': gz.subarray(0, gz.length - 20) },
    'idx-bomb': { 'zeros.gz': gzipSync(idxBytes([2551, 28, 28], new Uint8Array(2551 * 784))) },
    expected: { pixelSum: train.pixels.reduce((a, b) => a + b, 0), labelCounts: Array(10).fill(100) },
  };
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
    const layers = await page.$$eval('#report .sparsify-report table', (tables) => {
      const table = tables.find((t) => t.querySelector('th')?.textContent === 'layer');
      return Array.from(table?.querySelectorAll('tr') ?? [], (tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)).slice(
        1,
      );
    });
    expectThat(
      layers.length === 3 && layers.map((row) => row[0]).join() === 'fc1/kernel,fc2/kernel,fc3/kernel',
      `demo page: the run's report rendered below (${layers.map((row) => `${row[0]} ${row[4]}`).join(', ')})`,
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
console.log(`browser test: ${((performance.now() - testStart) / 1000).toFixed(0)} s in Chromium`);
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
