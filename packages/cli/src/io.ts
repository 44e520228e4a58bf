/** Where the CLI writes: injectable so that tests can run `main` in-process. */
export interface IO {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal: progress bar instead of lines. */
  isTTY: boolean;
  /** Terminal width for the bar. */
  columns?: number;
}

export const processIO: IO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  get isTTY() {
    return Boolean(process.stdout.isTTY);
  },
  get columns() {
    return process.stdout.columns;
  },
};
