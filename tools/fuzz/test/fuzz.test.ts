import { describe, expect, it } from 'vitest';
import { BAD_OUTCOMES, corpus, runFuzz } from '../src/index.js';

/**
 * The fuzz test of CI (issue 22): seeded and bounded. The worker runs the *built* packages (npm test
 * builds first). SPARSIFY_FUZZ_SEED and SPARSIFY_FUZZ_CASES explore further locally.
 */
const seed = Number(process.env.SPARSIFY_FUZZ_SEED ?? 1);
const cases = Number(process.env.SPARSIFY_FUZZ_CASES ?? 2400);

describe('fuzzing the readers of untrusted files', () => {
  it(`${cases} seeded cases (seed ${seed}) and the corpus: a typed error naming file and field within 1 s and 256 MB, or the original weights`, async () => {
    const summary = await runFuzz({ cases, seed });
    const total = Object.values(summary.counts).reduce((n, c) => n + Object.values(c).reduce((a, b) => a + (b ?? 0), 0), 0);
    expect(total).toBe(cases);
    // Every reader is reached, and most cases end in a named error.
    for (const target of ['sparse', 'checkpoint', 'idx', 'cifar'] as const)
      expect(summary.counts[target].named ?? 0, target).toBeGreaterThan(100);
    expect(summary.findings).toEqual([]);
    const expected = corpus();
    expect(summary.corpus.map((r) => [r.name, r.outcome])).toEqual(expected.map((c) => [c.name, c.expected]));
    expect(summary.corpus.filter((r) => (BAD_OUTCOMES as readonly string[]).includes(r.outcome))).toEqual([]);
  }, 300_000);
});
