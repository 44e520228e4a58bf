import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * `--write-docs`: each section's printed output goes into docs/performance.md between
 * `<!-- bench:<section> -->` and `<!-- /bench:<section> -->`, so the figures there are the bench's own
 * and a rerun replaces them. A section without markers is added at the end of the file.
 */

/** How each section's output begins (its first printed line). */
export const SECTION_HEADERS: Record<string, string> = {
  throughput: '== Training step throughput',
  engines: '== Engines side by side',
  threads: '== wasm threads',
  penalties: '== Penalty overhead',
  memory: '== Memory over a long run',
  export: '== Export size',
  bundles: '== Browser bundle sizes',
  inference: '== Inference',
  avenues: '== Avenues',
  relaxed: '== Relaxed SIMD',
  parallel: '== Data-parallel',
  compare: '== Before and after',
};

/** Records what `console.log` prints, by section, until `stop()`; the output still reaches the terminal. */
export function captureSections(): { stop(): Map<string, string> } {
  const original = console.log;
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  console.log = (...args: unknown[]) => {
    original(...args);
    const text = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    const section = Object.keys(SECTION_HEADERS).find((id) => text.startsWith(SECTION_HEADERS[id]));
    if (section) sections.set(section, (current = []));
    current?.push(text);
  };
  return {
    stop() {
      console.log = original;
      return new Map([...sections].map(([id, lines]) => [id, lines.join('\n').trim()]));
    },
  };
}

export interface RunStamp {
  date: string;
  cores: number;
  node: string;
  load: string;
  command: string;
}

/** `doc` with each section's block replaced (or appended); pure, for tests. */
export function withSections(doc: string, sections: ReadonlyMap<string, string>, stamp: RunStamp): string {
  let out = doc;
  for (const [id, text] of sections) {
    const [open, close] = [`<!-- bench:${id} -->`, `<!-- /bench:${id} -->`];
    const block = `${open}\n_\`${stamp.command}\`, ${stamp.date}, ${stamp.cores} cores, Node ${stamp.node}, load ${stamp.load}:_\n\n\`\`\`text\n${text}\n\`\`\`\n${close}`;
    const [start, end] = [out.indexOf(open), out.indexOf(close)];
    if (start >= 0 && end > start) out = out.slice(0, start) + block + out.slice(end + close.length);
    else out = `${out.trimEnd()}\n\n${block}\n`;
  }
  return out;
}

/** Writes the sections into `file` (atomically: a whole new file or none). */
export function writeDocs(file: string, sections: ReadonlyMap<string, string>, stamp: RunStamp): void {
  if (!existsSync(file)) throw new Error(`--write-docs: ${file} does not exist (run the bench from the repository root)`);
  const next = withSections(readFileSync(file, 'utf8'), sections, stamp);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, next);
  renameSync(tmp, file);
}
