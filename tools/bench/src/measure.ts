/** Wall and process-CPU time of a synchronous call; CPU time is robust to other processes on the machine. */
export interface Sample {
  wallMs: number;
  cpuMs: number;
}

export function timeIt(f: () => void): Sample {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export interface Stats {
  n: number;
  median: number;
  p25: number;
  min: number;
  max: number;
}

export function stats(values: readonly number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return { n: 0, median: NaN, p25: NaN, min: NaN, max: NaN };
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))];
  return { n: s.length, median: at(0.5), p25: at(0.25), min: s[0], max: s[s.length - 1] };
}

export interface Timing {
  wall: Stats;
  cpu: Stats;
}

export function summarize(samples: readonly Sample[]): Timing {
  return { wall: stats(samples.map((s) => s.wallMs)), cpu: stats(samples.map((s) => s.cpuMs)) };
}

/** Formats a number with a fixed number of significant digits for tables. */
export function fmt(v: number | undefined | null, digits = 3): string {
  if (v == null || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10 ** digits) return v.toFixed(0);
  return v.toPrecision(digits).replace(/\.?0+$/, (m) => (m.includes('.') ? '' : m));
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
