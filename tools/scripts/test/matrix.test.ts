import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MATRIX_SUITES, testBackend, testBackends } from '../../testing/matrix.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('the backend test matrix', () => {
  it('reads its legs from SPARSIFY_TEST_BACKENDS (default cpu,wasm) and names a bad value', () => {
    expect(testBackends({})).toEqual(['cpu', 'wasm']);
    expect(testBackends({ SPARSIFY_TEST_BACKENDS: ' tensorflow, cpu,tensorflow' })).toEqual(['tensorflow', 'cpu']);
    expect(() => testBackends({ SPARSIFY_TEST_BACKENDS: 'cpu,webgl' })).toThrow(
      'SPARSIFY_TEST_BACKENDS must name backends from cpu, wasm, tensorflow; got "webgl"',
    );
    expect(testBackend({})).toBe('cpu');
    expect(testBackend({ SPARSIFY_TEST_BACKEND: 'tensorflow' })).toBe('tensorflow');
  });

  it('covers every penalty package’s conformance and training suites, and each suite runs on the matrix backend', () => {
    const penaltyPackages = readdirSync(join(root, 'packages')).filter(
      (d) => existsSync(join(root, 'packages', d, 'test', 'conformance.test.ts')) && d !== 'conformance',
    );
    expect(penaltyPackages.length).toBeGreaterThanOrEqual(4);
    for (const dir of penaltyPackages) {
      expect(MATRIX_SUITES).toContain(`packages/${dir}/test/conformance.test.ts`);
      expect(MATRIX_SUITES).toContain(`packages/${dir}/test/training.test.ts`);
    }
    for (const suite of MATRIX_SUITES) {
      const text = readFileSync(join(root, suite), 'utf8');
      // Either activates the backend (useTestBackend) or passes it to a process it starts (testBackend()).
      expect(/useTestBackend\(|testBackend\(\)/.test(text), `${suite} runs on the matrix backend`).toBe(true);
      expect(/setBackend\('cpu'\)|useCpu\(\)/.test(text), `${suite} does not pin cpu`).toBe(false);
    }
  });
});
