import { esc, histogramChart, layerSparsityChart, lineChart, PALETTE, type Series } from './svg.js';
import type { RunReport, SweepReport, SweepRow } from './types.js';

const pct = (v: number | undefined, digits = 2) => (v === undefined || v === null ? '—' : `${(v * 100).toFixed(digits)}%`);
const num = (v: number | undefined, digits = 1) => (v === undefined ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: digits }));
const compression = (c: number) => (Number.isFinite(c) ? `${c.toFixed(2)}×` : '∞ (all zero)');

function fmtDiag(v: number | number[]): string {
  const one = (x: number) =>
    Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : String(Math.round(x * 1e4) / 1e4);
  return Array.isArray(v) ? `[${v.map(one).join(', ')}]` : one(v);
}

/** Epochs are shown counted from 1, as the CLI prints them; report.json keeps the 0-based index. */
const shownEpoch = (epoch: number): number => epoch + 1;

function bestLabel(r: RunReport): string {
  const b = r.accuracy.best;
  if (!b) return '—';
  return `${pct(b.value)} (epoch ${shownEpoch(b.epoch)}, ${b.phase}; best over epochs: a selection on the ${r.accuracy.split} set, optimistic)`;
}

function accuracyRows(r: RunReport): [string, string][] {
  const a = r.accuracy;
  const rows: [string, string][] = [];
  if (a.dense !== undefined) rows.push(['dense (before pruning)', pct(a.dense)]);
  if (a.pruned !== undefined) rows.push(['pruned (before fine-tuning)', pct(a.pruned)]);
  rows.push(['final (last epoch)', pct(a.final)]);
  rows.push(['best', bestLabel(r)]);
  return rows;
}

function summaryRows(r: RunReport): [string, string][] {
  const rows: [string, string][] = [
    ['model', r.model],
    ['dataset', r.dataset],
    ['method', r.method],
    ['penalty', `${r.penalty.name} ${JSON.stringify(r.penalty.config)}`],
    ['target sparsity', pct(r.sparsity.target)],
    [
      'achieved sparsity (exact zeros)',
      `${pct(r.sparsity.global)} (${r.sparsity.zeros.toLocaleString('en-US')} of ${r.sparsity.total.toLocaleString('en-US')})`,
    ],
    ['compression (total / non-zero)', compression(r.sparsity.compression)],
  ];
  if (r.sparsity.nearZeros !== undefined) rows.push(['near-zeros |w| ≤ 1e-5', pct(r.sparsity.nearZeros / r.sparsity.total)]);
  if (r.pruning) rows.push(['pruning', JSON.stringify(r.pruning)]);
  rows.push(
    ['epochs', `${r.epochs}${r.finetuneEpochs ? ` (+ ${r.finetuneEpochs} fine-tune)` : ''}`],
    ['seed', String(r.seed)],
    ['backend', r.runtime ? r.runtime.reason.replace(/^backend /, '') : r.backend],
    ['samples/s (training steps)', num(r.timing.samplesPerSecond, 0)],
  );
  if (r.timing.seconds !== undefined) rows.push(['wall time', `${num(r.timing.seconds, 1)} s`]);
  if (r.status && r.status !== 'completed') rows.push(['status', `${r.status}${r.message ? `: ${r.message}` : ''}`]);
  return rows;
}

/** One row per epoch of a run, in report.md and report.html alike. */
const EPOCHS_HEAD = ['epoch', 'phase', 'loss', 'train acc', 'eval acc', 'sparsity', 's'];
function epochRows(history: NonNullable<RunReport['history']>): string[][] {
  return history.map((h) => [
    String(shownEpoch(h.epoch)),
    h.phase,
    h.loss === undefined ? '—' : h.loss.toFixed(4),
    pct(h.trainAccuracy),
    pct(h.accuracy),
    pct(h.sparsity),
    num(h.seconds, 1),
  ]);
}

const STRUCTURE_HEAD = ['layer', 'kept', 'of', 'inputs read'];

/** One row per layer with units: what `shrink` keeps. */
function structureRows(r: RunReport): string[][] {
  return r.structure!.layers.map((l) => [l.name, String(l.kept), `${l.total} ${l.unit}`, `${l.inputsRead} of ${l.inputs}`]);
}

function structureNote(r: RunReport): string {
  const { before, after } = r.structure!.parameters;
  const kept = r.structure!.layers.map((l) => l.kept).join('-');
  return `Neurons and channels that are neither constant nor unread (${kept}); a shrunk model keeps ${after.toLocaleString('en-US')} of ${before.toLocaleString('en-US')} parameters (sparsify export --shrink).`;
}

const mdTable = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');

export function renderMarkdown(r: RunReport): string {
  const out: string[] = [`# sparsify run report${r.name ? `: ${r.name}` : ''}`, ''];
  out.push(mdTable(['', ''], summaryRows(r)), '', '## Accuracy', '', `Measured on the ${r.accuracy.split} set.`, '');
  out.push(mdTable(['', ''], accuracyRows(r)), '', '## Per-layer sparsity', '');
  out.push(
    mdTable(
      ['layer', 'shape', 'total', 'zeros', 'sparsity'],
      r.sparsity.layers.map((l) => [
        l.name,
        `[${l.shape.join(', ')}]`,
        String(l.total),
        String(l.zeros),
        pct(l.total ? l.zeros / l.total : 0),
      ]),
    ),
    '',
  );
  if (r.structure) out.push('## Neurons or channels kept', '', structureNote(r), '', mdTable(STRUCTURE_HEAD, structureRows(r)), '');
  const diag = Object.entries(r.diagnostics ?? {}).filter(([, d]) => Object.keys(d).length);
  if (diag.length) {
    out.push('## Penalty diagnostics', '');
    for (const [name, d] of diag) {
      out.push(
        `### ${name}`,
        '',
        mdTable(
          ['quantity', 'value'],
          Object.entries(d).map(([k, v]) => [k, fmtDiag(v)]),
        ),
        '',
      );
    }
  }
  if (r.history?.length) {
    out.push('## Epochs', '');
    out.push(mdTable(EPOCHS_HEAD, epochRows(r.history)), '');
  }
  if (r.art) out.push('## ART', '', '```json', JSON.stringify(r.art, null, 2), '```', '');
  return out.join('\n');
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}
th{background:#f4f6f9}td.n{text-align:right;font-variant-numeric:tabular-nums}h1{font-size:1.5em}h2{margin-top:28px;border-bottom:1px solid #eee}
.chart{margin:10px 0 24px;overflow-x:auto}.muted{color:#666}`;

function htmlTable(head: string[] | null, rows: string[][], numeric: number[] = []): string {
  const h = head ? `<tr>${head.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>` : '';
  const b = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`)
    .join('');
  return `<table>${h}${b}</table>`;
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`;
}

export function renderHtml(r: RunReport): string {
  return page(`sparsify report${r.name ? `: ${r.name}` : ''}`, renderHtmlBody(r));
}

/** The body of `renderHtml` (every value escaped; no scripts, no external resources). */
export function renderHtmlBody(r: RunReport): string {
  let body = `<h1>sparsify run report${r.name ? `: ${esc(r.name)}` : ''}</h1><p class="muted">${esc(r.createdAt)}</p>`;
  body += htmlTable(null, summaryRows(r));
  body += `<h2>Accuracy</h2><p>Measured on the ${esc(r.accuracy.split)} set.</p>${htmlTable(null, accuracyRows(r))}`;
  body += `<h2>Per-layer sparsity</h2><div class="chart">${layerSparsityChart(
    r.sparsity.layers.map((l) => ({ name: l.name, sparsity: l.total ? l.zeros / l.total : 0, total: l.total })),
  )}</div>`;
  body += htmlTable(
    ['layer', 'shape', 'total', 'zeros', 'sparsity'],
    r.sparsity.layers.map((l) => [
      l.name,
      `[${l.shape.join(', ')}]`,
      l.total.toLocaleString('en-US'),
      l.zeros.toLocaleString('en-US'),
      pct(l.total ? l.zeros / l.total : 0),
    ]),
    [2, 3, 4],
  );
  if (r.structure)
    body += `<h2>Neurons or channels kept</h2><p>${esc(structureNote(r))}</p>${htmlTable(STRUCTURE_HEAD, structureRows(r), [1, 2, 3])}`;
  const hs = r.histograms ?? {};
  const hists = [hs.beforePrune && { label: 'before pruning', ...hs.beforePrune }, hs.final && { label: 'final', ...hs.final }].filter(
    Boolean,
  ) as { label: string; edges: number[]; counts: number[]; zeros: number; total: number }[];
  if (hists.length)
    body += `<h2>Weight magnitudes</h2><div class="chart">${histogramChart('Weight magnitudes of the pruned set', hists)}</div>`;
  const hist = r.history ?? [];
  if (hist.length) {
    const series: Series[] = [
      {
        label: 'eval accuracy',
        points: hist.filter((h) => h.accuracy !== undefined).map((h) => ({ x: shownEpoch(h.epoch), y: h.accuracy! })),
      },
      {
        label: 'train accuracy',
        points: hist.filter((h) => h.trainAccuracy !== undefined).map((h) => ({ x: shownEpoch(h.epoch), y: h.trainAccuracy! })),
        dashed: true,
      },
      { label: 'sparsity', points: hist.map((h) => ({ x: shownEpoch(h.epoch), y: h.sparsity })), color: PALETTE[3] },
    ].filter((s) => s.points.length > 0);
    const ft = hist.filter((h) => h.phase === 'finetune');
    const shade = ft.length
      ? [{ from: shownEpoch(ft[0].epoch) - 0.5, to: shownEpoch(ft[ft.length - 1].epoch) + 0.5, label: 'fine-tune' }]
      : [];
    body += `<h2>Accuracy and sparsity per epoch</h2><div class="chart">${lineChart({
      title: 'Accuracy and sparsity per epoch',
      series,
      xLabel: 'epoch',
      yLabel: 'fraction',
      yMin: 0,
      yMax: 1,
      yFormat: (v) => `${Math.round(v * 100)}%`,
      shade,
    })}</div>`;
    body += htmlTable(EPOCHS_HEAD, epochRows(hist), [0, 2, 3, 4, 5, 6]);
  }
  const diag = Object.entries(r.diagnostics ?? {}).filter(([, d]) => Object.keys(d).length);
  if (diag.length) {
    body += '<h2>Penalty diagnostics</h2>';
    for (const [name, d] of diag)
      body += `<h3>${esc(name)}</h3>${htmlTable(
        ['quantity', 'value'],
        Object.entries(d).map(([k, v]) => [k, fmtDiag(v)]),
      )}`;
  }
  if (r.art) body += `<h2>ART</h2><pre>${esc(JSON.stringify(r.art, null, 2))}</pre>`;
  return body;
}

interface Agg {
  method: string;
  target: number;
  n: number;
  sparsity: number;
  final: number;
  finalStd: number;
  pruned?: number;
  dense?: number;
  best?: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)));

/** Rows grouped by (method, target), averaged over seeds. */
export function aggregateSweep(rows: SweepRow[]): Agg[] {
  const groups = new Map<string, SweepRow[]>();
  for (const r of rows) {
    const key = `${r.method}\u0000${r.target}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const opt = (xs: (number | undefined)[]) => (xs.every((x) => x !== undefined) && xs.length ? mean(xs as number[]) : undefined);
  return [...groups.values()].map((g) => ({
    method: g[0].method,
    target: g[0].target,
    n: g.length,
    sparsity: mean(g.map((r) => r.sparsity)),
    final: mean(g.map((r) => r.final)),
    finalStd: std(g.map((r) => r.final)),
    pruned: opt(g.map((r) => r.pruned)),
    dense: opt(g.map((r) => r.dense)),
    best: opt(g.map((r) => r.best)),
  }));
}

function sweepTableRows(s: SweepReport): string[][] {
  return aggregateSweep(s.rows).map((a) => [
    a.method,
    pct(a.target, 1),
    pct(a.sparsity, 2),
    pct(a.dense),
    pct(a.pruned),
    a.n > 1 ? `${pct(a.final)} ± ${(a.finalStd * 100).toFixed(2)}` : pct(a.final),
    pct(a.best),
    String(a.n),
  ]);
}
const SWEEP_HEAD = ['method', 'target', 'achieved', 'dense', 'pruned', 'final', 'best (test selection)', 'seeds'];

/** One row per run of a sweep, in report.md and report.html alike. */
const RUNS_HEAD = ['run', 'method', 'target', 'seed', 'achieved', 'final', 'samples/s', 's', 'status'];
function runsRows(s: SweepReport): string[][] {
  return s.rows.map((r) => [
    r.name,
    r.method,
    pct(r.target, 1),
    String(r.seed),
    pct(r.sparsity),
    pct(r.final),
    num(r.samplesPerSecond, 0),
    num(r.seconds, 0),
    r.status ?? 'completed',
  ]);
}

export function renderSweepMarkdown(s: SweepReport): string {
  return [
    '# sparsify sweep',
    '',
    `${s.model} on ${s.dataset}${s.backend ? `, backend ${s.backend}` : ''}. Accuracies on the evaluation split; means over seeds.`,
    '',
    mdTable(SWEEP_HEAD, sweepTableRows(s)),
    '',
    '## Runs',
    '',
    mdTable(RUNS_HEAD, runsRows(s)),
    '',
  ].join('\n');
}

/** A plain-text table for terminals. */
export function renderSweepText(s: SweepReport): string {
  const rows = [SWEEP_HEAD, ...sweepTableRows(s)];
  const widths = SWEEP_HEAD.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r, j) => r.map((c, i) => c.padEnd(widths[i])).join('  ') + (j === 0 ? `\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : ''))
    .join('\n');
}

export function renderSweepHtml(s: SweepReport): string {
  return page('sparsify sweep', renderSweepHtmlBody(s));
}

/** The body of `renderSweepHtml`. */
export function renderSweepHtmlBody(s: SweepReport): string {
  const aggs = aggregateSweep(s.rows);
  const methods = [...new Set(aggs.map((a) => a.method))];
  const series: Series[] = methods.map((m, i) => ({
    label: m,
    color: PALETTE[i % PALETTE.length],
    points: aggs
      .filter((a) => a.method === m)
      .map((a) => ({ x: a.sparsity, y: a.final }))
      .sort((p, q) => p.x - q.x),
  }));
  let body = `<h1>sparsify sweep</h1><p>${esc(s.model)} on ${esc(s.dataset)}${s.backend ? `, backend ${esc(s.backend)}` : ''}. Final accuracy on the evaluation split against achieved sparsity; means over seeds.</p>`;
  body += `<div class="chart">${lineChart({
    title: 'Accuracy vs sparsity per method',
    series,
    xLabel: 'achieved sparsity',
    yLabel: 'final accuracy',
    xFormat: (v) => `${(v * 100).toFixed(1)}%`,
    yFormat: (v) => `${(v * 100).toFixed(1)}%`,
  })}</div>`;
  body += htmlTable(SWEEP_HEAD, sweepTableRows(s), [1, 2, 3, 4, 5, 6, 7]);
  body += '<h2>Runs</h2>';
  body += htmlTable(RUNS_HEAD, runsRows(s), [2, 3, 4, 5, 6, 7]);
  return body;
}
