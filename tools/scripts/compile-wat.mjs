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
const FEATURES = { simd: true, threads: true, bulk_memory: true, relaxed_simd: true };
// A .wat with this line also gets a relaxed-SIMD variant (`relaxed`): each multiply-add into an
// accumulator, `(f32x4.add (local.get $aN) (f32x4.mul X Y))`, becomes `(f32x4.relaxed_madd X Y (local.get $aN))`.
const RELAXED_LINE = /^;; RELAXED-SIMD:/m;

/** The text of the S-expression starting at `text[start]` (an opening parenthesis). */
function sexpr(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`unbalanced parentheses at ${start}`);
}

/** `text` with every accumulator multiply-add as a relaxed fused multiply-add; throws where there is none. */
function relaxed(file, text) {
  const head = /\(f32x4\.add \(local\.get (\$a\d+)\) \(f32x4\.mul /g;
  let out = '';
  let from = 0;
  let count = 0;
  for (let m = head.exec(text); m; m = head.exec(text)) {
    const whole = sexpr(text, m.index);
    const mul = sexpr(text, m.index + m[0].length - '(f32x4.mul '.length);
    const x = sexpr(text, m.index + m[0].length);
    const y = sexpr(text, m.index + m[0].length + x.length + 1);
    if (`(f32x4.mul ${x} ${y})` !== mul || whole !== `(f32x4.add (local.get ${m[1]}) ${mul})`) {
      throw new Error(`${file}: cannot read the multiply-add at ${m.index}`);
    }
    out += `${text.slice(from, m.index)}(f32x4.relaxed_madd ${x} ${y} (local.get ${m[1]}))`;
    from = m.index + whole.length;
    head.lastIndex = from;
    count++;
  }
  if (count === 0) throw new Error(`${file}: marked RELAXED-SIMD but has no accumulator multiply-add`);
  return out + text.slice(from);
}

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
  shared: '${compile(file, text.replace(MEMORY_LINE, SHARED_MEMORY))}',${
    RELAXED_LINE.test(text)
      ? `
  relaxed: {
    plain: '${compile(file, relaxed(file, text))}',
    shared: '${compile(file, relaxed(file, text).replace(MEMORY_LINE, SHARED_MEMORY))}',
  },`
      : ''
  }
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
