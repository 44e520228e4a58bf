import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { renderHtml, renderMarkdown, renderSweepHtml, renderSweepMarkdown } from './render.js';
import { createReport, createSweepReport, ReportError, validateReport } from './validate.js';
import type { ReportInput, RunReport, SweepReport } from './types.js';

/** Temp file beside `path`, fsync, rename: readers see the old file or the new one, never a part. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    if (existsSync(tmp)) unlinkSync(tmp);
    throw error;
  }
}

/** JSON with non-finite numbers as null (compression of an all-zero model is ∞). */
function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

export const REPORT_FILES = { json: 'report.json', markdown: 'report.md', html: 'report.html' } as const;

/**
 * Validates `input`, renders everything, then writes report.json, report.md and report.html into
 * `dir`, each atomically. Invalid input throws a ReportError before any file is touched.
 */
export function writeReport(
  dir: string,
  input: ReportInput | RunReport,
): { report: RunReport; files: { json: string; markdown: string; html: string } } {
  const report = 'kind' in input ? validateReport(input) : createReport(input);
  const texts = { json: toJson(report), markdown: renderMarkdown(report), html: renderHtml(report) };
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, REPORT_FILES.json), markdown: join(dir, REPORT_FILES.markdown), html: join(dir, REPORT_FILES.html) };
  writeFileAtomic(files.json, texts.json);
  writeFileAtomic(files.markdown, texts.markdown);
  writeFileAtomic(files.html, texts.html);
  return { report, files };
}

/** Reads and validates `report.json` from a run directory (or the file itself). */
export function readReport(path: string): RunReport {
  const file = path.endsWith('.json') ? path : join(path, REPORT_FILES.json);
  if (!existsSync(file)) throw new ReportError(`no report at ${file}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ReportError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const fixed = parsed as RunReport;
  if (fixed?.sparsity && fixed.sparsity.compression === null) fixed.sparsity.compression = Infinity;
  return validateReport(fixed);
}

export const SWEEP_FILES = { json: 'sweep.json', markdown: 'sweep.md', html: 'sweep.html' } as const;

export function writeSweepReport(
  dir: string,
  input: Omit<SweepReport, 'kind' | 'version' | 'createdAt'> & { createdAt?: string },
): { report: SweepReport; files: { json: string; markdown: string; html: string } } {
  const report = createSweepReport(input);
  const texts = { json: toJson(report), markdown: renderSweepMarkdown(report), html: renderSweepHtml(report) };
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, SWEEP_FILES.json), markdown: join(dir, SWEEP_FILES.markdown), html: join(dir, SWEEP_FILES.html) };
  writeFileAtomic(files.json, texts.json);
  writeFileAtomic(files.markdown, texts.markdown);
  writeFileAtomic(files.html, texts.html);
  return { report, files };
}
