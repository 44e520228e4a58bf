#!/usr/bin/env node
import { main } from './main.js';

process.on('SIGINT', () => {
  process.stderr.write('\nsparsify: interrupted; a run continues from its last epoch-end checkpoint with sparsify train --resume <run dir>\n');
  process.exit(130);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`sparsify: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
