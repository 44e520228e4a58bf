// The backend test matrix. The suites that touch numerics (MATRIX_SUITES) run once per backend listed in
// SPARSIFY_TEST_BACKENDS (default cpu,wasm): on cpu inside their package's vitest project, on every other
// backend in a project of that name (vitest.config.ts), which sets SPARSIFY_TEST_BACKEND for the file.
// Each of those files activates its backend in beforeAll with `useTestBackend` (backends.ts). No imports
// here: vitest.config.ts reads this file.

export const MATRIX_BACKENDS = ['cpu', 'wasm', 'tensorflow'] as const;
export type MatrixBackend = (typeof MATRIX_BACKENDS)[number];

/** The legs to run: a comma-separated list of MATRIX_BACKENDS (default `cpu,wasm`). */
export const TEST_BACKENDS_ENV = 'SPARSIFY_TEST_BACKENDS';
/** Set by vitest.config.ts per project: the backend a matrix suite runs on (default cpu). */
export const TEST_BACKEND_ENV = 'SPARSIFY_TEST_BACKEND';

/** Repository-relative paths of the matrix suites. */
export const MATRIX_SUITES: readonly string[] = [
  'packages/adaptive-lasso/test/conformance.test.ts',
  'packages/halo/test/conformance.test.ts',
  'packages/hoyer/test/conformance.test.ts',
  'packages/hypersparse/test/conformance.test.ts',
  'packages/adaptive-lasso/test/training.test.ts',
  'packages/halo/test/training.test.ts',
  'packages/hoyer/test/training.test.ts',
  'packages/hypersparse/test/training.test.ts',
  'packages/hypersparse/test/helper-thread-tensorflow.test.ts',
  'packages/backend/test/kernels-training.test.ts',
  'packages/backend/test/op-kernels.test.ts',
  'packages/core/test/train-step.test.ts',
  'packages/core/test/pruning.test.ts',
  'packages/train/test/train.test.ts',
  'packages/train/test/penalty-state-resume.test.ts',
  'packages/cli/test/integration.test.ts',
  'packages/layers/test/fit.test.ts',
  'packages/layers/test/sparse.test.ts',
  'packages/layers/test/sparse-matmul.test.ts',
  'packages/layers/test/sparse-execution.test.ts',
  'packages/cli/test/backends.test.ts',
];

function parse(name: string, raw: string): MatrixBackend {
  const value = raw.trim();
  if (!(MATRIX_BACKENDS as readonly string[]).includes(value)) {
    throw new Error(`${name} must name backends from ${MATRIX_BACKENDS.join(', ')}; got ${JSON.stringify(raw)}`);
  }
  return value as MatrixBackend;
}

export function testBackends(env: Record<string, string | undefined> = process.env): MatrixBackend[] {
  const raw = env[TEST_BACKENDS_ENV];
  if (raw === undefined || raw.trim() === '') return ['cpu', 'wasm'];
  return [...new Set(raw.split(',').map((b) => parse(TEST_BACKENDS_ENV, b)))];
}

/** The backend this matrix suite runs on. */
export function testBackend(env: Record<string, string | undefined> = process.env): MatrixBackend {
  return parse(TEST_BACKEND_ENV, env[TEST_BACKEND_ENV] ?? 'cpu');
}
