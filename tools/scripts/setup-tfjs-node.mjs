#!/usr/bin/env node
// npm run setup:tfjs-node [-- options]
//
// Installs @tensorflow/tfjs-node 4.22.0 into this workspace without touching package.json or the lockfile
// (`npm ci` stays what it is for everyone who never runs this), and makes its native addon work:
//   - where the official libtensorflow download is reachable, with the package's own install script;
//   - where it is not (firewalls, CI machines that reach only npm), from the TensorFlow C API inside the
//     `tensorflow-cpu` wheel that pip serves: the wheel's libtensorflow_cc.so.2 and
//     libtensorflow_framework.so.2 stand in for libtensorflow 2.9.1, and node-gyp builds the addon against
//     them with the local Node headers.
// Idempotent: the wheel, the extracted library and the built addon are cached (default
// ~/.cache/sparsify/tfjs-node), so a rerun, e.g. after `npm ci` removed node_modules, takes seconds.
// Every run ends by loading the backend in a fresh process (tf.getBackend() === 'tensorflow', an op and a
// gradient). On failure it exits 1 and says which step failed and why.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  lstatSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@tensorflow/tfjs-node';
const VERSION = '4.22.0';
/** The libtensorflow tfjs-node 4.22 pins; its install script skips the download when deps/lib has it. */
const PINNED_LIBTENSORFLOW = '2.9.1';
/** What the wheel path takes from the wheel: the two libraries and the C API's headers. */
const WHEEL_LIBRARIES = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
const WHEEL_HEADER_DIRS = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/', 'xla/tsl/'];

const USAGE = `npm run setup:tfjs-node [-- options]

Installs ${PACKAGE} ${VERSION} here (npm install --no-save; package.json and the lockfile are unchanged) and
makes its native addon work, from the official download or, where that is unreachable, from pip's
tensorflow-cpu wheel. Rerun it after npm ci / npm install (they remove it); from the cache it takes seconds.

  --from auto|official|wheel  where libtensorflow comes from (default auto: official when its host answers)
  --tensorflow SPEC           the wheel to use, a pip version spec such as ==2.21.0 (default: the newest served)
  --prefix DIR                the project to install into (default: this repository)
  --cache DIR                 cache directory (default $SPARSIFY_TFJS_NODE_CACHE, else ~/.cache/sparsify/tfjs-node)
  --force                     re-extract the library and rebuild the addon even when cached
  --check                     only verify that the backend loads (exit 0) or not (exit 1)
  --help                      this text`;

class StepError extends Error {
  constructor(message, hint) {
    super(message);
    this.hint = hint;
  }
}

let root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
let packageDir = join(root, 'node_modules', ...PACKAGE.split('/'));
const say = (line) => process.stdout.write(`setup:tfjs-node: ${line}\n`);

function parseArgs(argv) {
  const args = { from: 'auto', tensorflow: '', cache: '', prefix: '', force: false, check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new StepError(`${a} needs a value`, USAGE);
      return argv[++i];
    };
    if (a === '--from') args.from = value();
    else if (a === '--tensorflow') args.tensorflow = value();
    else if (a === '--cache') args.cache = value();
    else if (a === '--prefix') args.prefix = value();
    else if (a === '--force') args.force = true;
    else if (a === '--check') args.check = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new StepError(`unknown option ${JSON.stringify(a)}`, USAGE);
  }
  if (!['auto', 'official', 'wheel'].includes(args.from))
    throw new StepError(`--from must be auto, official or wheel; got ${JSON.stringify(args.from)}`);
  if (args.tensorflow && !/^(==|>=|<=|~=|!=|<|>)?\s*[0-9][0-9a-z.*]*$/i.test(args.tensorflow)) {
    throw new StepError(`--tensorflow must be a pip version spec such as ==2.21.0; got ${JSON.stringify(args.tensorflow)}`);
  }
  if (args.tensorflow && /^[0-9]/.test(args.tensorflow)) args.tensorflow = `==${args.tensorflow}`;
  args.cache = resolve(
    args.cache ||
      process.env.SPARSIFY_TFJS_NODE_CACHE ||
      join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sparsify', 'tfjs-node'),
  );
  return args;
}

/** Runs `fn` as a named step; a failure names the step. */
async function step(name, fn) {
  const started = Date.now();
  try {
    const note = await fn();
    say(`${name}: ${note ?? 'done'} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    error.step = name;
    throw error;
  }
}

/** Runs a command; on failure the error carries the command's last output lines. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.error) throw new StepError(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    const tail = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n    ');
    throw new StepError(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}${tail ? `:\n    ${tail}` : ''}`);
  }
  return result.stdout;
}

const isDir = (p) => existsSync(p) && statSync(p).isDirectory();

/** Writes a directory under `dest` atomically: `fill(tmp)`, then one rename (no half-filled cache entries). */
function atomicDir(dest, fill) {
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

function checkProject(args) {
  if (args.prefix) {
    root = resolve(args.prefix);
    packageDir = join(root, 'node_modules', ...PACKAGE.split('/'));
  }
  if (!existsSync(join(root, 'package.json'))) throw new StepError(`${root} has no package.json`, 'pass --prefix <your project directory>');
  try {
    createRequire(join(root, 'package.json')).resolve('@tensorflow/tfjs');
  } catch {
    throw new StepError(
      `@tensorflow/tfjs does not resolve from ${root}`,
      'install @tensorflow/tfjs 4.22.0 there first (npm ci, or npm install @tensorflow/tfjs@4.22.0)',
    );
  }
  return root;
}

function checkPlatform(args) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 23) {
    throw new StepError(
      `Node ${process.versions.node}: ${PACKAGE} ${VERSION} fails at run time on Node ≥ 23 (util.isNullOrUndefined was removed)`,
      'use Node 20 or 22',
    );
  }
  if (args.from !== 'official' && !(process.platform === 'linux' && process.arch === 'x64')) {
    throw new StepError(
      `the wheel path builds for Linux x64 only; this is ${process.platform} ${process.arch}`,
      'use --from official, or the wasm backend',
    );
  }
  return `Node ${process.versions.node}, ${process.platform} ${process.arch}`;
}

function installedVersion() {
  try {
    return JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** npm install --no-save --ignore-scripts: the package and its JS dependencies, no download of libtensorflow. */
function installPackage() {
  const present =
    installedVersion() === VERSION &&
    (() => {
      try {
        return createRequire(join(packageDir, 'package.json')).resolve('@mapbox/node-pre-gyp') !== undefined;
      } catch {
        return false;
      }
    })();
  if (present) return `${PACKAGE} ${VERSION} already in node_modules`;
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  run(npm[0], [...npm[1], 'install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `${PACKAGE}@${VERSION}`], { cwd: root });
  if (installedVersion() !== VERSION) throw new StepError(`npm install finished but ${packageDir} does not hold ${PACKAGE} ${VERSION}`);
  return `npm install --no-save ${PACKAGE}@${VERSION}`;
}

/** The URL the package's install script downloads libtensorflow from (same environment variables). */
function officialUrl() {
  const host =
    process.env.TFJS_NODE_CDN_STORAGE ||
    process.env.npm_config_TFJS_NODE_CDN_STORAGE ||
    process.env.CDN_STORAGE ||
    'https://storage.googleapis.com/';
  const base =
    process.env.TFJS_NODE_BASE_URI || process.env.npm_config_TFJS_NODE_BASE_URI || `${host}tensorflow/libtensorflow/libtensorflow-`;
  return `${base}cpu-linux-x86_64-${PINNED_LIBTENSORFLOW}.tar.gz`;
}

/** Whether the official download answers within 5 s (any HTTP status below 400). */
async function officialReachable() {
  try {
    const response = await fetch(officialUrl(), { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return response.status < 400 ? { ok: true } : { ok: false, why: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, why: error.cause?.code ?? error.cause?.message ?? error.message };
  }
}

const depsLib = () => join(packageDir, 'deps', 'lib');

/** The package's own install script: downloads libtensorflow 2.9.1 and a prebuilt addon (or builds it). */
function officialInstall() {
  const bin = join(root, 'node_modules', '.bin');
  run(process.execPath, ['scripts/install.js'], { cwd: packageDir, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  return `libtensorflow ${PINNED_LIBTENSORFLOW} from ${officialUrl()}`;
}

function findPython() {
  for (const candidate of [process.env.SPARSIFY_PYTHON, 'python3', 'python'].filter(Boolean)) {
    const probe = spawnSync(candidate, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  throw new StepError(
    'no python with pip found (tried $SPARSIFY_PYTHON, python3, python)',
    'install python3 and pip, or point SPARSIFY_PYTHON at one',
  );
}

const wheelVersion = (file) => /^tensorflow_cpu-([^-]+)-/.exec(file)?.[1];
const compareVersions = (a, b) => {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
};

/** The cached wheel that fits the spec (exact `==X` only; other specs ask pip), else pip download. */
function ensureWheel(args) {
  const dir = join(args.cache, 'wheels');
  const cached = () =>
    (isDir(dir) ? readdirSync(dir) : [])
      .filter((f) => f.startsWith('tensorflow_cpu-') && f.endsWith('.whl'))
      .filter((f) => !args.tensorflow || (args.tensorflow.startsWith('==') && wheelVersion(f) === args.tensorflow.slice(2).trim()))
      .sort((a, b) => compareVersions(wheelVersion(b), wheelVersion(a)));
  const hit = args.tensorflow && !args.tensorflow.startsWith('==') ? [] : cached();
  if (hit.length > 0) return { file: join(dir, hit[0]), note: `cached ${hit[0]}` };
  const python = findPython();
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    run(python, [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--disable-pip-version-check',
      '-d',
      tmp,
      `tensorflow-cpu${args.tensorflow}`,
    ]);
    const got = readdirSync(tmp).find((f) => f.startsWith('tensorflow_cpu-') && f.endsWith('.whl'));
    if (!got) throw new StepError(`pip download finished without a tensorflow_cpu wheel in ${tmp}`);
    mkdirSync(dir, { recursive: true });
    renameSync(join(tmp, got), join(dir, got));
    return { file: join(dir, got), note: `pip download tensorflow-cpu${args.tensorflow} → ${got}` };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Copies the two libraries and the C API headers out of the wheel (a zip), streaming.
const EXTRACT_PY = `
import os, shutil, sys, zipfile
wheel, dest, libs, dirs = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4].split(',')
found = set()
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith('/'):
            continue
        if name.count('/') == 1 and name.split('/')[1] in libs:
            out = os.path.join(dest, 'lib', name.split('/')[1])
            found.add(name.split('/')[1])
        elif name.startswith('tensorflow/include/') and any(name[19:].startswith(d) for d in dirs):
            out = os.path.join(dest, 'include', name[19:])
        else:
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
missing = [l for l in libs if l not in found]
if missing:
    sys.exit('the wheel holds no ' + ', '.join('tensorflow/' + m for m in missing))
`;

/** cache/libtensorflow-<version>/{lib,include}, extracted once per wheel. */
function ensureLibrary(args, wheel) {
  const version = wheelVersion(wheel.split('/').pop());
  const dest = join(args.cache, `libtensorflow-${version}`);
  const complete = () =>
    WHEEL_LIBRARIES.every((l) => existsSync(join(dest, 'lib', l))) && existsSync(join(dest, 'include', 'tensorflow', 'c', 'c_api.h'));
  if (!args.force && complete()) return { dir: dest, version, note: `cached ${dest}` };
  atomicDir(dest, (tmp) => run(findPython(), ['-c', EXTRACT_PY, wheel, tmp, WHEEL_LIBRARIES.join(','), WHEEL_HEADER_DIRS.join(',')]));
  return { dir: dest, version, note: `extracted ${WHEEL_LIBRARIES.join(', ')} and the C API headers to ${dest}` };
}

function link(target, path) {
  try {
    lstatSync(path);
    rmSync(path, { recursive: true, force: true });
  } catch {
    // absent
  }
  symlinkSync(target, path);
}

/**
 * deps/ as binding.gyp and the install script expect it: -ltensorflow -ltensorflow_framework resolve to
 * the wheel's libraries, the addon's rpath ($ORIGIN/../../deps/lib) finds them by their sonames, and
 * libtensorflow.so.2.9.1 present makes the package's own install script skip its download.
 */
function linkDeps(library) {
  const lib = depsLib();
  rmSync(join(packageDir, 'deps'), { recursive: true, force: true });
  mkdirSync(lib, { recursive: true });
  const cc = join(library.dir, 'lib', 'libtensorflow_cc.so.2');
  const framework = join(library.dir, 'lib', 'libtensorflow_framework.so.2');
  for (const name of ['libtensorflow.so', 'libtensorflow_cc.so.2', `libtensorflow.so.${PINNED_LIBTENSORFLOW}`]) link(cc, join(lib, name));
  for (const name of ['libtensorflow_framework.so', 'libtensorflow_framework.so.2', `libtensorflow_framework.so.${PINNED_LIBTENSORFLOW}`])
    link(framework, join(lib, name));
  link(join(library.dir, 'include'), join(packageDir, 'deps', 'include'));
  writeFileSync(join(packageDir, 'deps', 'SOURCE'), `tensorflow-cpu ${library.version} wheel (sparsify setup:tfjs-node)\n`);
  return `deps/ → ${library.dir}`;
}

/** Where node-pre-gyp's find() (what tfjs-node's binding loader calls) looks for the addon. */
function addonPath() {
  const preGyp = createRequire(join(packageDir, 'package.json'))('@mapbox/node-pre-gyp');
  return preGyp.find(join(packageDir, 'package.json'));
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new StepError(
      `node-gyp not found (looked at ${candidates.join(', ')})`,
      'npm ships node-gyp; run this through npm run setup:tfjs-node, or set npm_config_node_gyp',
    );
  return found;
}

function nodeDir() {
  const dir = process.env.npm_config_nodedir || resolve(dirname(process.execPath), '..');
  if (!existsSync(join(dir, 'include', 'node', 'node_api.h'))) {
    throw new StepError(
      `the Node headers are not under ${dir}/include/node (node-gyp must not download them)`,
      'install the Node development headers, or set npm_config_nodedir to a Node prefix that has them',
    );
  }
  return dir;
}

/** Builds the addon against the linked library (node-gyp, local headers), or reuses the cached build. */
function ensureAddon(args, library) {
  const target = addonPath();
  const napi = /napi-v(\d+)/.exec(target)?.[1];
  if (!napi) throw new StepError(`node-pre-gyp's addon path ${target} names no N-API version`);
  const cached = join(
    args.cache,
    'addon',
    `tfjs-node-${VERSION}-tf-${library.version}-napi-v${napi}-${process.platform}-${process.arch}`,
    'tfjs_binding.node',
  );
  mkdirSync(dirname(target), { recursive: true });
  if (!args.force && existsSync(cached)) {
    copyFileSync(cached, target);
    return `cached build → ${target}`;
  }
  for (const tool of ['make', 'c++']) {
    if (spawnSync(tool, ['--version'], { encoding: 'utf8' }).status !== 0)
      throw new StepError(`${tool} not found`, 'install a C++ toolchain (Debian: apt-get install build-essential)');
  }
  run(
    process.execPath,
    [
      nodeGyp(),
      'rebuild',
      `--nodedir=${nodeDir()}`,
      `--napi_build_version=${napi}`,
      '--module_name=tfjs_binding',
      `--module_path=${dirname(target)}`,
      `-j`,
      String(Math.max(1, availableParallelism())),
    ],
    { cwd: packageDir },
  );
  if (!existsSync(target)) throw new StepError(`node-gyp finished but ${target} is missing`);
  atomicDir(dirname(cached), (tmp) => copyFileSync(target, join(tmp, 'tfjs_binding.node')));
  rmSync(join(packageDir, 'build'), { recursive: true, force: true });
  return `node-gyp rebuild (napi ${napi}, headers ${nodeDir()}) → ${target}`;
}

// Loaded in a fresh process: a crash of the native library is a failed step, not a crashed installer.
const VERIFY_JS = `
const tf = require(${JSON.stringify(PACKAGE)});
const fail = (m) => { console.log(JSON.stringify({ error: m })); process.exit(0); };
if (tf.getBackend() !== 'tensorflow') fail('tf.getBackend() is ' + tf.getBackend() + ', not tensorflow');
const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync();
if (product[0] !== 17 || product[1] !== 39) fail('matMul gave ' + Array.from(product));
const gradient = tf.grad((x) => tf.sum(tf.square(x)))(tf.tensor1d([1, -2, 3])).dataSync();
if (gradient.join() !== '2,-4,6') fail('the gradient of sum(x²) at [1,-2,3] was ' + Array.from(gradient));
console.log(JSON.stringify({ libtensorflow: tf.backend().binding.TF_Version, gpu: tf.backend().isUsingGpuDevice }));
`;

function verify() {
  const result = spawnSync(process.execPath, ['-e', VERIFY_JS], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const last = (result.stdout ?? '').trim().split('\n').pop() ?? '';
  let report;
  try {
    report = JSON.parse(last);
  } catch {
    const tail = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n    ');
    throw new StepError(`loading ${PACKAGE} failed (exit ${result.status ?? result.signal})${tail ? `:\n    ${tail}` : ''}`);
  }
  if (report.error) throw new StepError(report.error);
  return report;
}

async function main() {
  const started = Date.now();
  const args = parseArgs(process.argv.slice(2));
  await step('check project', () => checkProject(args));
  if (args.check) {
    await step('verify', () => {
      const r = verify();
      return `backend tensorflow, libtensorflow ${r.libtensorflow}`;
    });
    return;
  }
  await step('check platform', () => checkPlatform(args));
  await step('install package', () => installPackage());
  let source = args.from;
  if (source === 'auto') {
    await step('probe official download', async () => {
      const probe = await officialReachable();
      source = probe.ok ? 'official' : 'wheel';
      return probe.ok ? `${officialUrl()} answers` : `${officialUrl()} unreachable (${probe.why}): building from the tensorflow-cpu wheel`;
    });
  }
  if (source === 'official') {
    try {
      await step('official install', () => officialInstall());
    } catch (error) {
      if (args.from === 'official') throw error;
      say(`official install failed (${error.message.split('\n')[0]}): building from the tensorflow-cpu wheel instead`);
      source = 'wheel';
    }
  }
  if (source === 'wheel') {
    let wheel;
    let library;
    await step('download wheel', () => {
      wheel = ensureWheel(args);
      return wheel.note;
    });
    await step('extract libtensorflow', () => {
      library = ensureLibrary(args, wheel.file);
      return library.note;
    });
    await step('link deps', () => linkDeps(library));
    await step('build addon', () => ensureAddon(args, library));
  }
  let report;
  await step('verify', () => {
    report = verify();
    return `tf.getBackend() === 'tensorflow', matMul and a gradient correct`;
  });
  say(
    `ok: ${PACKAGE} ${VERSION} on libtensorflow ${report.libtensorflow}${report.gpu ? ' (GPU)' : ''}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

main().catch((error) => {
  const where = error.step ? `step "${error.step}" failed` : 'failed';
  process.stderr.write(`setup:tfjs-node: ${where}: ${error.message}\n`);
  if (error.hint) process.stderr.write(`setup:tfjs-node: ${error.hint}\n`);
  process.exit(1);
});
