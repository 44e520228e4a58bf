import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeOptions, getPenaltyDefinition, listPenalties } from '@sparsify/core';
import { readReport, writeReport } from '@sparsify/reporting/node';
import { METHOD_PRESETS } from './config.js';
import { UsageError } from './errors.js';
import type { IO } from './io.js';
import { hasRun } from './train-command.js';
import { registerPlugins, type DiscoveredPlugin } from './plugins.js';

export const BASELINE_DESCRIPTIONS: Record<string, string> = {
  none: 'no penalty, no pruning: the dense reference (use --sparsity 0)',
  magnitude:
    'train without a penalty, one-shot global magnitude pruning at the end (strict quantile rule), optional fine-tuning (--finetune-epochs)',
  gmp: 'gradual magnitude pruning (Zhu & Gupta; tfmot polynomialDecay, power 3): --set begin=0 end=0.75 (fractions of training), frequency=<steps>, scope=layer|global',
};

/** `sparsify penalties`: what is installed, with each option. */
export async function penaltiesCommand(io: IO, json: boolean): Promise<number> {
  const discovered: DiscoveredPlugin[] = await registerPlugins();
  const defs = listPenalties();
  if (json) {
    io.out(
      `${JSON.stringify(
        {
          baselines: Object.entries(BASELINE_DESCRIPTIONS).map(([name, description]) => ({ name, description })),
          penalties: defs.map((d) => ({
            name: d.name,
            package: d.package,
            description: d.description,
            options: describeOptions(d.schema),
            trainDefaults: METHOD_PRESETS[d.name] ?? {},
          })),
          plugins: discovered,
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  io.out('Baselines (--penalty NAME):\n');
  for (const [name, description] of Object.entries(BASELINE_DESCRIPTIONS)) io.out(`  ${name.padEnd(20)} ${description}\n`);
  io.out('\nPenalties (--penalty NAME --set option=value):\n');
  for (const d of defs) {
    io.out(`  ${d.name.padEnd(20)} ${d.description}\n${' '.repeat(23)}from ${d.package}\n`);
    for (const [key, info] of Object.entries(describeOptions(d.schema))) {
      const flags = [
        info.type,
        info.required ? 'required' : undefined,
        info.default !== undefined ? `default ${JSON.stringify(info.default)}` : undefined,
        info.values ? `one of ${info.values.join('|')}` : undefined,
      ]
        .filter(Boolean)
        .join(', ');
      io.out(`${' '.repeat(25)}${key} (${flags}): ${info.description}\n`);
    }
    const preset = Object.entries(METHOD_PRESETS[d.name] ?? {});
    const shown = (v: unknown) => (typeof v === 'number' && v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : JSON.stringify(v));
    if (preset.length)
      io.out(`${' '.repeat(23)}sparsify train defaults: ${preset.map(([k, v]) => `${k}=${shown(v)}`).join(' ')} (docs/defaults.md)\n`);
  }
  if (getPenaltyDefinition('hypersparse')) {
    io.out(`\n  hypersparse also takes the ART options alphaInit, growth, window, maxEpochs (--epochs is the dense warm-up).\n`);
  }
  const third = discovered.filter((p) => !p.error);
  const broken = discovered.filter((p) => p.error);
  if (third.length) io.out(`\nThird-party plugins: ${third.map((p) => `${p.package} (${p.penalties.join(', ')})`).join('; ')}\n`);
  for (const p of broken) io.err(`warning: plugin ${p.package} (${p.dir}) could not be loaded: ${p.error}\n`);
  return 0;
}

/** `sparsify report <run>`: validates report.json, re-renders report.md and report.html, prints a summary. */
export function reportCommand(runDir: string, io: IO, json: boolean): number {
  if (!existsSync(join(runDir, 'report.json')) && hasRun(runDir)) {
    throw new UsageError(`the run in ${runDir} has no report yet (it did not finish); continue it with sparsify train --resume ${runDir}`);
  }
  const report = readReport(runDir);
  const { files } = writeReport(runDir, report);
  if (json) {
    io.out(
      `${JSON.stringify({ report: files.json, html: files.html, markdown: files.markdown, accuracy: report.accuracy, sparsity: report.sparsity.global })}\n`,
    );
    return 0;
  }
  const p = (v?: number) => (v === undefined ? '—' : `${(v * 100).toFixed(2)}%`);
  io.out(
    `${report.name ?? runDir}: ${report.model} on ${report.dataset}, ${report.method}; sparsity ${p(report.sparsity.global)} (target ${p(report.sparsity.target)}); ` +
      `accuracy dense ${p(report.accuracy.dense)}, pruned ${p(report.accuracy.pruned)}, final ${p(report.accuracy.final)}${report.accuracy.best ? `, best ${p(report.accuracy.best.value)} (a test-set selection)` : ''}\n`,
  );
  io.out(`report: ${files.html}\n`);
  return 0;
}
