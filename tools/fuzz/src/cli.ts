/**
 * `node tools/fuzz/dist/cli.js [--cases N] [--seed S] [--no-corpus] [--json] [--watchdog-ms MS]`: the counts per target and
 * outcome, the corpus results and the findings. Exit code 1 when there are findings.
 */
import { parseArgs } from 'node:util';
import { BAD_OUTCOMES, countsTable, runFuzz } from './index.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string' },
    seed: { type: 'string' },
    'no-corpus': { type: 'boolean' },
    json: { type: 'boolean' },
    'watchdog-ms': { type: 'string' },
  },
});
const summary = await runFuzz({
  cases: Number(values.cases ?? 2000),
  seed: Number(values.seed ?? 1),
  withCorpus: !values['no-corpus'],
  ...(values['watchdog-ms'] ? { watchdogMs: Number(values['watchdog-ms']) } : {}),
});
if (values.json) {
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} else {
  process.stdout.write(`seed ${summary.seed}, ${summary.cases} cases, ${summary.seconds.toFixed(1)} s\n\n${countsTable(summary)}\n\n`);
  for (const r of summary.corpus)
    process.stdout.write(`corpus ${r.name}: ${r.outcome} (${r.ms.toFixed(0)} ms)${r.detail ? `: ${r.detail}` : ''}\n`);
  for (const r of summary.findings.slice(0, 40)) process.stdout.write(`finding ${r.target} ${r.name}: ${r.outcome}: ${r.detail ?? ''}\n`);
}
const badCorpus = summary.corpus.filter((r) => (BAD_OUTCOMES as readonly string[]).includes(r.outcome));
process.exitCode = summary.findings.length + badCorpus.length > 0 ? 1 : 0;
