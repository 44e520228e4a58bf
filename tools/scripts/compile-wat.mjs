#!/usr/bin/env node
// Compiles every .wat under packages/*/src (the accelerator, @sparsify/backend, holds them all) into a sibling <name>.wasm.ts holding the module twice, as base64:
// importing a plain memory (tfjs-backend-wasm's single-threaded builds) and a shared one (its threaded
// build). The .wasm.ts files are committed, so building and using the packages needs no wabt.
//   node tools/scripts/compile-wat.mjs           write the .wasm.ts files
//   node tools/scripts/compile-wat.mjs --check   exit 1 if any is missing or out of date (tests run this)
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import createWabt from 'wabt';

// Where `WasmKernelCode` is declared: every .wat belongs to the accelerator.
const LOOP_KERNELS = join('packages', 'backend', 'src', 'accelerate', 'loop-kernels');
const MEMORY_LINE = /^\s*\(import "env" "memory" \(memory 1\)\) ;; MEMORY$/m;
const SHARED_MEMORY = '  (import "env" "memory" (memory 1 65536 shared))';
const FEATURES = { simd: true, threads: true, bulk_memory: true };

const check = process.argv.includes('--check');
const wabt = await createWabt();
const sources = readdirSync('packages').flatMap((pkg) => {
  const dir = join('packages', pkg, 'src');
  return existsSync(dir)
    ? readdirSync(dir, { recursive: true })
        .filter((f) => f.endsWith('.wat'))
        .sort()
        .map((f) => join(dir, f))
    : [];
});

// Browsers compile at most 4 KB synchronously on the main thread (loop kernels instantiate on first use).
const MAX_BYTES = 4096;

function compile(file, text) {
  const module = wabt.parseWat(file, text, FEATURES);
  try {
    module.validate(FEATURES);
    const bytes = module.toBinary({}).buffer;
    if (bytes.length > MAX_BYTES) throw new Error(`${file}: ${bytes.length} bytes compiled, over ${MAX_BYTES} (split the module)`);
    return Buffer.from(bytes).toString('base64');
  } finally {
    module.destroy();
  }
}

let stale = 0;
for (const file of sources) {
  const text = readFileSync(file, 'utf8');
  if (!MEMORY_LINE.test(text)) throw new Error(`${file}: needs the line '  (import "env" "memory" (memory 1)) ;; MEMORY'`);
  const name = basename(file, '.wat');
  const constant = `${name.replace(/-./g, (m) => m[1].toUpperCase()).toUpperCase()}_WASM`;
  const from = `./${relative(dirname(file), LOOP_KERNELS)}.js`.replace(/\\/g, '/').replace(/^\.\/\.\.\//, '../');
  const out = `// Generated from ${name}.wat by tools/scripts/compile-wat.mjs (npm run compile-wat): do not edit.
import type { WasmKernelCode } from '${from}';

export const ${constant}: WasmKernelCode = {
  name: '${file.replace(/\\/g, '/')}',
  plain: '${compile(file, text)}',
  shared: '${compile(file, text.replace(MEMORY_LINE, SHARED_MEMORY))}',
};
`;
  const target = file.replace(/\.wat$/, '.wasm.ts');
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (current === out) continue;
  if (check) {
    console.error(`${target} is out of date with ${file}: run npm run compile-wat`);
    stale++;
  } else {
    writeFileSync(target, out);
    console.log(`wrote ${target}`);
  }
}
if (stale > 0) process.exit(1);
console.log(`${sources.length} .wat file(s) ${check ? 'up to date' : 'compiled'}`);
