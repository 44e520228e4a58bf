import { describe, expect, it } from 'vitest';
import { figuresOf, pair } from '../src/compare.js';
import { withSections } from '../src/docs.js';

const stamp = { date: '2026-12-07', cores: 2, node: '20.0.0', load: '0.1 0.2 0.3', command: 'npm run bench' };

describe('withSections', () => {
  it('replaces the block between a section’s markers and keeps the rest', () => {
    const doc = 'intro\n<!-- bench:penalties -->\nold\n<!-- /bench:penalties -->\noutro\n';
    const out = withSections(doc, new Map([['penalties', '== Penalty overhead\nrow']]), stamp);
    expect(out.startsWith('intro\n<!-- bench:penalties -->\n')).toBe(true);
    expect(out).toContain('```text\n== Penalty overhead\nrow\n```\n<!-- /bench:penalties -->\noutro\n');
    expect(out).not.toContain('old');
    expect(out).toContain('`npm run bench`, 2026-12-07, 2 cores, Node 20.0.0, load 0.1 0.2 0.3');
    expect(withSections(out, new Map([['penalties', '== Penalty overhead\nrow']]), stamp)).toBe(out);
  });

  it('appends a section that has no markers yet', () => {
    const out = withSections('# Performance\n', new Map([['memory', '== Memory']]), stamp);
    expect(out).toMatch(/^# Performance\n\n<!-- bench:memory -->\n[\s\S]*== Memory\n```\n<!-- \/bench:memory -->\n$/);
  });
});

describe('comparison figures', () => {
  it('reads throughput (CPU-time first) and penalty ratios, skipping failed rows', () => {
    const f = figuresOf({
      throughput: [
        { workload: 'lenet', batch: 100, label: 'wasm', samplesPerSec: 900, samplesPerSecCpu: 1000 },
        { workload: 'lenet', batch: 100, label: 'cpu', samplesPerSec: 500 },
        { workload: 'lenet', batch: 100, label: 'broken' },
      ],
      penalties: [
        { backend: 'wasm', workload: 'lenet', penalty: 'halo', ratio: 1.2 },
        { backend: 'wasm', workload: 'lenet', penalty: 'lasso', ratio: 0, error: 'NaN' },
      ],
    });
    expect([...f.throughput]).toEqual([
      ['lenet b=100 · wasm', 1000],
      ['lenet b=100 · cpu', 500],
    ]);
    expect([...f.penalties]).toEqual([['lenet · wasm · halo', 1.2]]);
  });

  it('pairs the medians of rows present on both sides', () => {
    const before = [
      new Map([
        ['a', 1],
        ['b', 5],
      ]),
      new Map([['a', 3]]),
      new Map([['a', 2]]),
    ];
    const after = [
      new Map([
        ['a', 4],
        ['c', 1],
      ]),
      new Map([['a', 6]]),
    ];
    expect(pair(before, after)).toEqual([['a', 2, 5]]);
  });
});
