import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ReportError,
  createReport,
  readReport,
  renderHtmlBody,
  renderReport,
  renderSweepText,
  writeReport,
  writeSweepReport,
  type ReportInput,
} from '../src/index.node.js';

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sparsify-report-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const histogram = (zeros: number) => ({ edges: [-3, -2, -1, 0], counts: [5, 20, 10], zeros, total: 35 + zeros });

function input(): ReportInput {
  return {
    name: 'halo-95',
    model: 'lenet-300-100',
    dataset: 'mnist',
    method: 'halo',
    penalty: { name: 'halo', config: { xi: 1e-8, psi: 1e-8 } },
    pruning: { kind: 'oneShot', rule: 'quantileNonZero', scope: 'global' },
    seed: 0,
    epochs: 3,
    finetuneEpochs: 1,
    backend: 'wasm',
    sparsity: {
      target: 0.95,
      layers: [
        { name: 'dense_1/kernel', shape: [784, 300], total: 235200, zeros: 225000, nearZeros: 225010 },
        { name: 'dense_2/kernel', shape: [300, 100], total: 30000, zeros: 27000, nearZeros: 27000 },
        { name: 'dense_3/kernel', shape: [100, 10], total: 1000, zeros: 400, nearZeros: 400 },
      ],
    },
    accuracy: { split: 'test', dense: 0.97, pruned: 0.9, final: 0.965, best: { value: 0.968, epoch: 2, phase: 'finetune' } },
    timing: { samplesPerSecond: 1500, seconds: 60 },
    diagnostics: { halo: { lambdaQ50: 0.5, lambdaQuantiles: [0.1, 0.5, 0.9] } },
    history: [
      { epoch: 0, phase: 'train', loss: 0.5, trainAccuracy: 0.8, accuracy: 0.9, sparsity: 0 },
      { epoch: 1, phase: 'train', loss: 0.3, trainAccuracy: 0.9, accuracy: 0.95, sparsity: 0 },
      { epoch: 2, phase: 'train', loss: 0.2, trainAccuracy: 0.95, accuracy: 0.97, sparsity: 0 },
      { epoch: 3, phase: 'finetune', loss: 0.2, trainAccuracy: 0.96, accuracy: 0.965, sparsity: 0.945 },
    ],
    histograms: { beforePrune: histogram(0), final: histogram(100) },
  };
}

/** Minimal XML well-formedness: tags balance, attributes quoted, no stray '<'. */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    if (xml.slice(last, m.index).includes('<')) return false;
    last = re.lastIndex;
    const [, close, tag, , self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== tag) return false;
    } else stack.push(tag);
  }
  return stack.length === 0 && !xml.slice(last).includes('<');
}

describe('run report', () => {
  it('writes report.json with the required fields, report.md and report.html', () => {
    const dir = temp();
    const { report, files } = writeReport(dir, input());
    const json = JSON.parse(readFileSync(files.json, 'utf8'));
    for (const key of ['model', 'dataset', 'backend', 'seed', 'epochs']) expect(json).toHaveProperty(key);
    expect(json.penalty).toEqual({ name: 'halo', config: { xi: 1e-8, psi: 1e-8 } });
    expect(json.sparsity.target).toBe(0.95);
    expect(json.sparsity.global).toBeCloseTo((225000 + 27000 + 400) / 266200, 12);
    expect(json.sparsity.layers[0]).toMatchObject({ name: 'dense_1/kernel', shape: [784, 300], total: 235200, zeros: 225000 });
    expect(json.accuracy).toMatchObject({ dense: 0.97, pruned: 0.9, final: 0.965 });
    expect(json.timing.samplesPerSecond).toBe(1500);
    expect(report.sparsity.compression).toBeCloseTo(266200 / (266200 - 252400), 9);
    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain('| dense_1/kernel | [784, 300] | 235200 | 225000 | 95.66% |');
    expect(md).toMatch(/96\.80% \(epoch 3, finetune; best over epochs: a selection on the test set/);
    // Epochs counted from 1, as the CLI prints them (report.json keeps the 0-based index).
    expect(md).toMatch(/^\| 1 \| train \| 0\.5000 \|/m);
    expect(md).toMatch(/^\| 4 \| finetune \| 0\.2000 \|/m);
    expect(json.history[0].epoch).toBe(0);
    expect(md).toContain('lambdaQuantiles');
    expect(readdirSync(dir).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    // Round trip through readReport.
    expect(readReport(dir).sparsity.global).toBe(report.sparsity.global);
  });

  it('makes a self-contained HTML page with well-formed inline SVG charts', () => {
    const dir = temp();
    const { files } = writeReport(dir, input());
    const html = readFileSync(files.html, 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(html).not.toMatch(/\burl\(/);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    // Per-layer sparsity, magnitude histogram, accuracy/sparsity per epoch.
    expect(svgs.length).toBe(3);
    for (const svg of svgs) {
      expect(wellFormed(svg)).toBe(true);
      expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    }
    expect(html).toContain('Sparsity per layer');
    expect(html).toContain('Weight magnitudes');
    expect(html).toContain('Accuracy and sparsity per epoch');
  });

  it('shows the neurons or channels kept per layer when the run counted them', () => {
    const dir = temp();
    const structure = {
      layers: [
        { name: 'fc1', unit: 'neurons' as const, total: 300, kept: 41, inputs: 784, inputsRead: 402 },
        { name: 'fc2', unit: 'neurons' as const, total: 100, kept: 19, inputs: 300, inputsRead: 41 },
        { name: 'fc3', unit: 'neurons' as const, total: 10, kept: 10, inputs: 100, inputsRead: 19 },
      ],
      parameters: { before: 266610, after: 17477 },
    };
    const { files } = writeReport(dir, { ...input(), structure });
    expect(readReport(dir).structure).toEqual(structure);
    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain('## Neurons or channels kept');
    expect(md).toContain('| fc1 | 41 | 300 neurons | 402 of 784 |');
    expect(md).toContain('(41-19-10); a shrunk model keeps 17,477 of 266,610 parameters');
    expect(readFileSync(files.html, 'utf8')).toContain('<td>fc2</td><td class="n">19</td>');
    const bad = { ...structure, layers: [{ ...structure.layers[0], kept: 301 }] };
    expect(() => writeReport(join(temp(), 'out'), { ...input(), structure: bad })).toThrow(
      /structure.layers\[0\].kept must be an integer in \[0, 300\]; got 301/,
    );
  });

  it('rejects invalid input with a message naming the field, before writing anything', () => {
    const cases: [(i: ReportInput) => void, RegExp][] = [
      [(i) => void (i.sparsity.target = 1), /sparsity.target must be a fraction in \[0, 1\); got 1/],
      [(i) => void (i.sparsity.layers[1].zeros = 30001), /sparsity.layers\[1\].zeros must be an integer in \[0, 30000\]; got 30001/],
      [(i) => void (i.sparsity.layers[0].total = 5), /sparsity.layers\[0\].total must be the product of its shape \(235200\)/],
      [(i) => void (i.accuracy.final = 97 as number), /accuracy.final must be a fraction in \[0, 1\]; got 97/],
      [(i) => void ((i as { model?: string }).model = ''), /model must be a non-empty string/],
      [(i) => void (i.timing.samplesPerSecond = NaN), /timing.samplesPerSecond/],
    ];
    for (const [mutate, message] of cases) {
      const dir = join(temp(), 'out');
      const bad = input();
      mutate(bad);
      expect(() => writeReport(dir, bad)).toThrow(ReportError);
      expect(() => writeReport(dir, bad)).toThrow(message);
      expect(existsSync(dir)).toBe(false);
    }
  });
});

describe('sweep report', () => {
  it('aggregates over seeds and plots accuracy vs sparsity per method', () => {
    const dir = temp();
    const rows = ['none', 'magnitude', 'halo'].flatMap((method) =>
      [0, 1].map((seed) => ({
        name: `${method}-s${seed}`,
        method,
        target: method === 'none' ? 0 : 0.95,
        seed,
        sparsity: method === 'none' ? 0 : 0.9501,
        final: 0.9 + seed * 0.01,
        samplesPerSecond: 1000,
      })),
    );
    const { report, files } = writeSweepReport(dir, { model: 'lenet-300-100', dataset: 'mnist', rows });
    expect(report.rows.length).toBe(6);
    const text = renderSweepText(report);
    expect(text.split('\n').length).toBe(2 + 3);
    expect(text).toContain('90.50% ± 0.71');
    const html = readFileSync(files.html, 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs.length).toBe(1);
    expect(wellFormed(svgs[0]!)).toBe(true);
    expect(svgs[0]).toContain('Accuracy vs sparsity per method');
    expect(readFileSync(files.markdown, 'utf8')).toContain('| magnitude | 95.0% |');
  });
});

describe('reports in a page (the DOM is tested in the browser test)', () => {
  it('the HTML body carries names as text: no markup from run, layer or penalty names', () => {
    const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const base = input();
    const report = createReport({
      ...base,
      name: hostile,
      penalty: { name: hostile, config: { note: hostile } },
      sparsity: { ...base.sparsity, layers: base.sparsity.layers.map((l, i) => (i ? l : { ...l, name: hostile })) },
    });
    const body = renderHtmlBody(report);
    expect(body).not.toMatch(/<img|<script|onerror="/);
    expect(body).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;');
    expect(body.startsWith('<h1>sparsify run report: &lt;img')).toBe(true);
  });

  it('renderReport refuses what is not an element, and an invalid report, before touching the page', () => {
    expect(() => renderReport(null as never, createReport(input()))).toThrow(ReportError);
    expect(() => renderReport({} as never, createReport(input()))).toThrow('renderReport needs a DOM element to render into; got object');
    const replaced: unknown[] = [];
    const element = { replaceChildren: (...nodes: unknown[]) => replaced.push(...nodes), ownerDocument: {} } as unknown as Element;
    expect(() => renderReport(element, { kind: 'sparsify-run-report', version: 2 } as never)).toThrow(ReportError);
    expect(replaced).toEqual([]);
  });
});
