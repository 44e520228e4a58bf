import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanup, ensureBin, tempDir } from './helpers.js';

// `sparsify train` as a person sees it: run in a real terminal (a detached tmux pane of 80 and of 200
// columns) and read back with `tmux capture-pane`, so that wrapping, the redrawn bar and the epoch and
// summary lines are what the terminal shows, not what the code meant to write.

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) {
  console.warn(
    '!!! tmux is not installed: the terminal-output tests of sparsify train (80 and 200 columns) are SKIPPED (apt-get install tmux)',
  );
}

const EXIT_MARK = '__sparsify_exit=';

/** Runs `sparsify train` in a `columns`-wide tmux pane; returns the final screen and every bar line seen while it ran. */
async function trainInTmux(columns: number): Promise<{ screen: string[]; bars: string[]; exit: string }> {
  const cwd = tempDir('sparsify-tmux-');
  const socket = `sparsify-test-${process.pid}-${columns}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  // A few hundred digits, 30 batches an epoch: long enough for the bar to be seen between epochs.
  const train = [
    process.execPath,
    BIN,
    'train',
    '--dataset',
    'mnist',
    '--limit',
    '600',
    '--batch-size',
    '20',
    '--epochs',
    '2',
    '--finetune-epochs',
    '1',
    '--backend',
    'cpu',
    '--out',
    'runs/tmux',
  ]
    .map((a) => `'${a}'`)
    .join(' ');
  tmux('new-session', '-d', '-s', 'run', '-x', String(columns), '-y', '60', '-c', cwd, `${train}; echo ${EXIT_MARK}$?; sleep 600`);
  const capture = () => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'run').split('\n');
  const bars = new Set<string>();
  try {
    const deadline = Date.now() + 240_000;
    for (;;) {
      const screen = capture();
      for (const line of screen) if (/[█░]/.test(line) || /\d+% loss/.test(line)) bars.add(line.trimEnd());
      const done = screen.find((l) => l.startsWith(EXIT_MARK));
      if (done)
        return { screen: screen.map((l) => l.trimEnd()).filter((l, i, all) => l || i < all.length - 1), bars: [...bars], exit: done };
      if (Date.now() > deadline) throw new Error(`sparsify train did not finish in the ${columns}-column pane:\n${screen.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    spawnSync('tmux', ['-L', socket, 'kill-server']);
  }
}

/** Keeps the captures for a person to read when SPARSIFY_TERMINAL_CAPTURES names a directory. */
function keep(columns: number, run: { screen: string[]; bars: string[] }): void {
  const dir = process.env.SPARSIFY_TERMINAL_CAPTURES;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `tmux-${columns}.txt`), `${run.screen.join('\n')}\n\n# bar lines seen while it ran:\n${run.bars.join('\n')}\n`);
}

beforeAll(() => {
  if (hasTmux) ensureBin();
}, 600_000);
afterAll(cleanup);

describe.skipIf(!hasTmux)('sparsify train in a terminal (tmux capture-pane)', () => {
  for (const columns of [80, 200]) {
    it(`fits ${columns} columns: no wrapped line, a bar, honest epoch counts, the summary`, async () => {
      const run = await trainInTmux(columns);
      keep(columns, run);
      expect(run.exit).toBe(`${EXIT_MARK}0`);
      const text = run.screen.join('\n');
      // -J joins what the terminal wrapped: a line as wide as the pane or wider was wrapped (or filled it).
      for (const line of [...run.screen, ...run.bars]) expect(line.length, line).toBeLessThan(columns);
      expect(text).toMatch(/^training: 2 epochs$/m);
      expect(text).toMatch(/^epoch 1\/2 +loss \d\.\d{4} /m);
      expect(text).toMatch(/^epoch 2\/2 +loss /m);
      expect(text).toMatch(/^fine-tuning: 1 epoch$/m);
      expect(text).toMatch(/^fine-tune 1\/1 +loss .* sparsity 95\.\d\d%/m);
      expect(text).not.toMatch(/epoch 3\//);
      expect(text).toMatch(/^pruned \(oneShot\) to 95\.\d\d% \(target 95\.00%\)/m);
      // the summary: one line where it fits, else the same figures on two
      if (columns >= 120)
        expect(text).toMatch(
          /^done: accuracy dense \d+\.\d\d%, pruned \d+\.\d\d%, final \d+\.\d\d%; sparsity 95\.\d\d% \(target 95\.00%\); \d+ samples\/s on cpu; \d+\.\d s$/m,
        );
      else
        expect(text).toMatch(
          /^done: accuracy dense \d+\.\d\d%, pruned \d+\.\d\d%, final \d+\.\d\d%\n {2}sparsity 95\.\d\d% \(target 95\.00%\); \d+ samples\/s on cpu; \d+\.\d s$/m,
        );
      expect(text).toMatch(/^report: runs\/tmux\/report\.html$/m);
      // the bar, seen while it ran: the epoch in its phase, a bar, the running metrics
      expect(run.bars.length).toBeGreaterThan(0);
      for (const bar of run.bars) expect(bar).toMatch(/^(epoch [12]\/2|fine-tune 1\/1) .*\d+% .*loss \d+\.\d{4}.*ETA [\d:?]+$/);
      if (columns >= 120) expect(run.bars.some((b) => /[█░]{30}/.test(b))).toBe(true);
    }, 300_000);
  }
});
