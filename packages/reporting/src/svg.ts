/** Small, dependency-free SVG charts for the HTML report (inline, no external resources). */

export function esc(text: unknown): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (x: number) => (Math.round(x * 100) / 100).toString();
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function svg(width: number, height: number, body: string, title: string): string {
  return `<svg role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12"><title>${esc(title)}</title>${body}</svg>`;
}

function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const span = max - min;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) out.push(Math.round(t / step) * step);
  return out;
}

const pct = (v: number, digits = 0) => `${(v * 100).toFixed(digits)}%`;

/** Horizontal bars: one per layer, its sparsity in [0, 1]. */
export function layerSparsityChart(rows: { name: string; sparsity: number; total: number }[], title = 'Sparsity per layer'): string {
  const labelW = Math.min(260, 20 + Math.max(...rows.map((r) => r.name.length)) * 6.5);
  const barW = 420;
  const rowH = 22;
  const top = 28;
  const width = labelW + barW + 150;
  const height = top + rows.length * rowH + 30;
  let body = `<text x="${width / 2}" y="16" text-anchor="middle" font-weight="bold">${esc(title)}</text>`;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const x = labelW + t * barW;
    body += `<line x1="${f(x)}" y1="${top - 4}" x2="${f(x)}" y2="${top + rows.length * rowH}" stroke="#ddd"/>`;
    body += `<text x="${f(x)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${pct(t)}</text>`;
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    body += `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end">${esc(r.name)}</text>`;
    body += `<rect x="${labelW}" y="${y + 3}" width="${barW}" height="${rowH - 6}" fill="#eef2f7"/>`;
    body += `<rect x="${labelW}" y="${y + 3}" width="${f(r.sparsity * barW)}" height="${rowH - 6}" fill="${PALETTE[0]}"><title>${esc(r.name)}: ${pct(r.sparsity, 2)} of ${r.total}</title></rect>`;
    body += `<text x="${labelW + barW + 6}" y="${y + 15}">${pct(r.sparsity, 2)} of ${r.total.toLocaleString('en-US')}</text>`;
  });
  return svg(width, height, body, title);
}

export interface Series {
  label: string;
  points: { x: number; y: number }[];
  color?: string;
  dashed?: boolean;
  /** Draw markers only (no line). */
  markers?: boolean;
}

/** A line chart; y in [yMin, yMax]; optional shaded x ranges (e.g. the fine-tune phase). */
export function lineChart(options: {
  title: string;
  series: Series[];
  xLabel: string;
  yLabel: string;
  yMin?: number;
  yMax?: number;
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  shade?: { from: number; to: number; label: string }[];
  width?: number;
  height?: number;
}): string {
  const width = options.width ?? 760;
  const height = options.height ?? 340;
  const m = { left: 64, right: 170, top: 30, bottom: 44 };
  const all = options.series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  let xMin = xs.length ? Math.min(...xs) : 0;
  let xMax = xs.length ? Math.max(...xs) : 1;
  if (xMax === xMin) {
    xMin -= 0.5;
    xMax += 0.5;
  }
  let yMin = options.yMin ?? (ys.length ? Math.min(...ys) : 0);
  let yMax = options.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (yMax === yMin) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  // Data-driven ranges get a margin so that no point sits on the frame.
  const yPad = (yMax - yMin) * 0.08;
  if (options.yMin === undefined) yMin -= yPad;
  if (options.yMax === undefined) yMax += yPad;
  const xPad = (xMax - xMin) * 0.04;
  xMin -= xPad;
  xMax += xPad;
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => m.top + ph - ((y - yMin) / (yMax - yMin)) * ph;
  const yFmt = options.yFormat ?? ((v: number) => String(v));
  const xFmt = options.xFormat ?? ((v: number) => String(v));
  let body = `<text x="${m.left + pw / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(options.title)}</text>`;
  for (const s of options.shade ?? []) {
    const x0 = sx(Math.max(s.from, xMin));
    const x1 = sx(Math.min(s.to, xMax));
    body += `<rect x="${f(x0)}" y="${m.top}" width="${f(Math.max(0, x1 - x0))}" height="${ph}" fill="#fff3d6"/>`;
    body += `<text x="${f((x0 + x1) / 2)}" y="${m.top + 14}" text-anchor="middle" fill="#a07000">${esc(s.label)}</text>`;
  }
  for (const t of niceTicks(yMin, yMax)) {
    body += `<line x1="${m.left}" y1="${f(sy(t))}" x2="${m.left + pw}" y2="${f(sy(t))}" stroke="#e5e5e5"/>`;
    body += `<text x="${m.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#555">${esc(yFmt(t))}</text>`;
  }
  for (const t of niceTicks(xMin, xMax, 8)) {
    body += `<line x1="${f(sx(t))}" y1="${m.top + ph}" x2="${f(sx(t))}" y2="${m.top + ph + 4}" stroke="#555"/>`;
    body += `<text x="${f(sx(t))}" y="${m.top + ph + 17}" text-anchor="middle" fill="#555">${esc(xFmt(t))}</text>`;
  }
  body += `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`;
  body += `<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle">${esc(options.xLabel)}</text>`;
  body += `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`;
  options.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (!s.markers && pts.length > 1) {
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${f(sx(p.x))} ${f(sy(p.y))}`).join(' ');
      body += `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
    }
    for (const p of pts) {
      body += `<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="${s.markers ? 4 : 2.5}" fill="${color}"><title>${esc(s.label)}: ${esc(xFmt(p.x))}, ${esc(yFmt(p.y))}</title></circle>`;
    }
    const ly = m.top + 10 + i * 18;
    const lx = m.left + pw + 12;
    body += `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
    body += `<circle cx="${lx + 11}" cy="${ly}" r="3" fill="${color}"/>`;
    body += `<text x="${lx + 28}" y="${ly + 4}">${esc(s.label)}</text>`;
  });
  return svg(width, height, body, options.title);
}

/** Overlaid histograms of log10|w| (same bins), with the exact-zero counts in the legend. */
export function histogramChart(
  title: string,
  hists: { label: string; edges: number[]; counts: number[]; zeros: number; total: number }[],
): string {
  const width = 820;
  const height = 320;
  const m = { left: 64, right: 260, top: 30, bottom: 44 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const edges = hists[0]?.edges ?? [0, 1];
  const xMin = edges[0];
  const xMax = edges[edges.length - 1];
  const yMax = Math.max(1, ...hists.flatMap((h) => h.counts));
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => m.top + ph - (y / yMax) * ph;
  let body = `<text x="${m.left + pw / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`;
  for (const t of niceTicks(0, yMax)) {
    body += `<line x1="${m.left}" y1="${f(sy(t))}" x2="${m.left + pw}" y2="${f(sy(t))}" stroke="#e5e5e5"/>`;
    body += `<text x="${m.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#555">${t.toLocaleString('en-US')}</text>`;
  }
  for (let e = Math.ceil(xMin); e <= Math.floor(xMax); e++) {
    body += `<text x="${f(sx(e))}" y="${m.top + ph + 17}" text-anchor="middle" fill="#555">1e${e}</text>`;
    body += `<line x1="${f(sx(e))}" y1="${m.top + ph}" x2="${f(sx(e))}" y2="${m.top + ph + 4}" stroke="#555"/>`;
  }
  hists.forEach((h, i) => {
    const color = PALETTE[i % PALETTE.length];
    h.counts.forEach((c, b) => {
      if (c === 0) return;
      const x0 = sx(h.edges[b]);
      const x1 = sx(h.edges[b + 1]);
      body += `<rect x="${f(x0)}" y="${f(sy(c))}" width="${f(Math.max(0.5, x1 - x0 - 0.5))}" height="${f(m.top + ph - sy(c))}" fill="${color}" fill-opacity="0.45" stroke="${color}" stroke-width="0.5"><title>${esc(h.label)}: ${c} weights with |w| in [1e${h.edges[b].toFixed(2)}, 1e${h.edges[b + 1].toFixed(2)})</title></rect>`;
    });
    const ly = m.top + 10 + i * 34;
    const lx = m.left + pw + 12;
    body += `<rect x="${lx}" y="${ly - 7}" width="14" height="14" fill="${color}" fill-opacity="0.45" stroke="${color}"/>`;
    body += `<text x="${lx + 20}" y="${ly + 4}">${esc(h.label)}</text>`;
    body += `<text x="${lx + 20}" y="${ly + 19}" fill="#555">${h.zeros.toLocaleString('en-US')} exact zeros (${pct(h.total ? h.zeros / h.total : 0, 1)})</text>`;
  });
  body += `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`;
  body += `<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle">|w| (log scale; exact zeros not drawn)</text>`;
  body += `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">weights</text>`;
  return svg(width, height, body, title);
}
