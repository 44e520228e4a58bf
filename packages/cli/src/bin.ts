#!/usr/bin/env node
import { constants } from 'node:os';
import { main } from './main.js';

// SIGINT / SIGTERM: train and sweep stop at the next step boundary with a checkpoint (the report says
// `interrupted`; exit 130 / 143). A second signal stops at once. A sweep worker whose sweep process is
// gone (its IPC channel closed) stops the same way instead of training on, orphaned.
const controller = new AbortController();
const cooperative = process.argv[2] === 'train' || process.argv[2] === 'sweep';
function onSignal(name: 'SIGINT' | 'SIGTERM'): void {
  if (!cooperative || controller.signal.aborted) {
    process.stderr.write(`\nsparsify: ${name}: stopped${cooperative ? ' at once (the last checkpoint is kept)' : ''}\n`);
    process.exit(128 + constants.signals[name]);
  }
  process.stderr.write(`\nsparsify: ${name}: stopping at the next step and writing a checkpoint (${name} again stops at once)\n`);
  controller.abort(name);
}
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
const onDisconnect = () => controller.signal.aborted || onSignal('SIGTERM');
// A 'disconnect' listener keeps the IPC channel (and so the process) alive: removed once main is done.
if (process.connected) process.on('disconnect', onDisconnect);

main(process.argv.slice(2), undefined, { signal: controller.signal })
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`sparsify: ${(error as Error)?.message ?? String(error)}\n`);
      process.exitCode = 1;
    },
  )
  .finally(() => process.off('disconnect', onDisconnect));
