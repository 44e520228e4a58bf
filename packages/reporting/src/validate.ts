import type { ReportInput, RunReport, SweepReport, SweepRow } from './types.js';

/** Invalid report input: the message names the field, the value and what is valid. Nothing was written. */
export class ReportError extends Error {
  override readonly name = 'ReportError';
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(v);
  }
}

function fail(field: string, value: unknown, expected: string): never {
  throw new ReportError(`report field ${field} must be ${expected}; got ${show(value)}`);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isFraction = (v: unknown): v is number => isNum(v) && v >= 0 && v <= 1;
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

function str(field: string, v: unknown): void {
  if (typeof v !== 'string' || v.length === 0) fail(field, v, 'a non-empty string');
}
function frac(field: string, v: unknown, optional = false): void {
  if (optional && v === undefined) return;
  if (!isFraction(v)) fail(field, v, 'a fraction in [0, 1]');
}

/** Checks and completes a run report (global sparsity, totals, compression from the layers). */
export function createReport(input: ReportInput): RunReport {
  if (!input || typeof input !== 'object') fail('(root)', input, 'an object');
  str('model', input.model);
  str('dataset', input.dataset);
  str('method', input.method);
  str('backend', input.backend);
  if (input.runtime !== undefined) {
    const rt = input.runtime;
    if (!rt || typeof rt !== 'object') fail('runtime', rt, 'an object { reason, libtensorflow?, devices?, wasmThreads? }');
    str('runtime.reason', rt.reason);
    if (rt.libtensorflow !== undefined) str('runtime.libtensorflow', rt.libtensorflow);
    if (rt.devices !== undefined && !(Array.isArray(rt.devices) && rt.devices.every((d) => typeof d === 'string' && d.length > 0))) {
      fail('runtime.devices', rt.devices, 'an array of non-empty strings');
    }
    if (rt.wasmThreads !== undefined && !(isCount(rt.wasmThreads) && rt.wasmThreads >= 1))
      fail('runtime.wasmThreads', rt.wasmThreads, 'an integer ≥ 1');
  }
  if (!input.penalty || typeof input.penalty !== 'object') fail('penalty', input.penalty, 'an object { name, config }');
  str('penalty.name', input.penalty.name);
  if (!input.penalty.config || typeof input.penalty.config !== 'object') fail('penalty.config', input.penalty.config, 'an object');
  if (!isCount(input.seed)) fail('seed', input.seed, 'an integer ≥ 0');
  if (!isCount(input.epochs)) fail('epochs', input.epochs, 'an integer ≥ 0');
  const sp = input.sparsity;
  if (!sp || typeof sp !== 'object') fail('sparsity', sp, 'an object { target, layers }');
  if (!(isNum(sp.target) && sp.target >= 0 && sp.target < 1)) fail('sparsity.target', sp.target, 'a fraction in [0, 1)');
  if (!Array.isArray(sp.layers) || sp.layers.length === 0)
    fail('sparsity.layers', sp.layers, 'a non-empty array of { name, shape, total, zeros }');
  sp.layers.forEach((l, i) => {
    str(`sparsity.layers[${i}].name`, l?.name);
    if (!Array.isArray(l.shape) || !l.shape.every(isCount)) fail(`sparsity.layers[${i}].shape`, l.shape, 'an array of integers ≥ 0');
    const size = l.shape.reduce((a, b) => a * b, 1);
    if (!isCount(l.total) || l.total !== size) fail(`sparsity.layers[${i}].total`, l.total, `the product of its shape (${size})`);
    if (!isCount(l.zeros) || l.zeros > l.total) fail(`sparsity.layers[${i}].zeros`, l.zeros, `an integer in [0, ${l.total}]`);
    if (l.nearZeros !== undefined && (!isCount(l.nearZeros) || l.nearZeros < l.zeros || l.nearZeros > l.total)) {
      fail(`sparsity.layers[${i}].nearZeros`, l.nearZeros, `an integer in [zeros, total] = [${l.zeros}, ${l.total}]`);
    }
  });
  const total = sp.layers.reduce((s, l) => s + l.total, 0);
  const zeros = sp.layers.reduce((s, l) => s + l.zeros, 0);
  const global = total ? zeros / total : 0;
  if (sp.global !== undefined && (!isFraction(sp.global) || Math.abs(sp.global - global) > 1e-9)) {
    fail('sparsity.global', sp.global, `zeros / total of the layers (${global})`);
  }
  const hasNear = sp.layers.every((l) => l.nearZeros !== undefined);
  const acc = input.accuracy;
  if (!acc || typeof acc !== 'object') fail('accuracy', acc, 'an object { split, final, dense?, pruned?, best? }');
  str('accuracy.split', acc.split);
  frac('accuracy.final', acc.final);
  frac('accuracy.dense', acc.dense, true);
  frac('accuracy.pruned', acc.pruned, true);
  if (acc.best !== undefined) {
    frac('accuracy.best.value', acc.best?.value);
    if (!isCount(acc.best.epoch)) fail('accuracy.best.epoch', acc.best.epoch, 'an integer ≥ 0');
  }
  if (input.structure !== undefined) {
    const st = input.structure;
    if (!st || typeof st !== 'object' || !Array.isArray(st.layers)) fail('structure', st, 'an object { layers, parameters }');
    st.layers.forEach((l, i) => {
      str(`structure.layers[${i}].name`, l?.name);
      if (l.unit !== 'neurons' && l.unit !== 'channels') fail(`structure.layers[${i}].unit`, l.unit, '"neurons" or "channels"');
      if (!isCount(l.total)) fail(`structure.layers[${i}].total`, l.total, 'an integer ≥ 0');
      if (!isCount(l.kept) || l.kept > l.total) fail(`structure.layers[${i}].kept`, l.kept, `an integer in [0, ${l.total}]`);
      if (!isCount(l.inputs)) fail(`structure.layers[${i}].inputs`, l.inputs, 'an integer ≥ 0');
      if (!isCount(l.inputsRead) || l.inputsRead > l.inputs)
        fail(`structure.layers[${i}].inputsRead`, l.inputsRead, `an integer in [0, ${l.inputs}]`);
    });
    const pm = st.parameters;
    if (!pm || !isCount(pm.before) || !isCount(pm.after) || pm.after > pm.before) {
      fail('structure.parameters', pm, 'an object { before, after } of integers with after ≤ before');
    }
  }
  if (!input.timing || !isNum(input.timing.samplesPerSecond) || input.timing.samplesPerSecond < 0) {
    fail('timing.samplesPerSecond', input.timing?.samplesPerSecond, 'a finite number ≥ 0');
  }
  for (const [i, row] of (input.history ?? []).entries()) {
    if (!isCount(row.epoch)) fail(`history[${i}].epoch`, row.epoch, 'an integer ≥ 0');
    frac(`history[${i}].sparsity`, row.sparsity);
    frac(`history[${i}].accuracy`, row.accuracy, true);
    frac(`history[${i}].trainAccuracy`, row.trainAccuracy, true);
  }
  for (const [key, h] of Object.entries(input.histograms ?? {})) {
    if (!h) continue;
    if (!Array.isArray(h.edges) || !Array.isArray(h.counts) || h.edges.length !== h.counts.length + 1) {
      fail(`histograms.${key}`, { edges: h.edges?.length, counts: h.counts?.length }, 'edges.length = counts.length + 1');
    }
  }
  const report: RunReport = {
    kind: 'sparsify-run-report',
    version: 1,
    ...input,
    createdAt: input.createdAt ?? new Date().toISOString(),
    sparsity: {
      ...sp,
      global,
      total,
      zeros,
      compression: total === zeros ? Infinity : total / (total - zeros),
      ...(hasNear ? { nearZeros: sp.layers.reduce((s, l) => s + (l.nearZeros ?? 0), 0) } : {}),
    },
  };
  return report;
}

/** Checks a parsed `report.json` (e.g. for `sparsify report`). */
export function validateReport(value: unknown): RunReport {
  const v = value as RunReport;
  if (v?.kind !== 'sparsify-run-report') fail('kind', v?.kind, '"sparsify-run-report"');
  if (v.version !== 1) fail('version', v.version, '1');
  const { kind: _k, version: _v, ...rest } = v;
  const { global: _g, total: _t, zeros: _z, compression: _c, nearZeros: _n, ...sparsity } = v.sparsity ?? ({} as RunReport['sparsity']);
  return createReport({ ...(rest as ReportInput), sparsity: sparsity as ReportInput['sparsity'] });
}

export function createSweepReport(input: Omit<SweepReport, 'kind' | 'version' | 'createdAt'> & { createdAt?: string }): SweepReport {
  str('model', input.model);
  str('dataset', input.dataset);
  if (!Array.isArray(input.rows)) fail('rows', input.rows, 'an array');
  input.rows.forEach((r: SweepRow, i) => {
    str(`rows[${i}].name`, r?.name);
    str(`rows[${i}].method`, r.method);
    frac(`rows[${i}].target`, r.target);
    frac(`rows[${i}].sparsity`, r.sparsity);
    frac(`rows[${i}].final`, r.final);
    frac(`rows[${i}].dense`, r.dense, true);
    frac(`rows[${i}].pruned`, r.pruned, true);
    frac(`rows[${i}].best`, r.best, true);
    if (!isCount(r.seed)) fail(`rows[${i}].seed`, r.seed, 'an integer ≥ 0');
  });
  return { kind: 'sparsify-sweep-report', version: 1, ...input, createdAt: input.createdAt ?? new Date().toISOString() };
}
