/**
 * Thrown for a bad dataset spec or option, a missing file, or a file whose contents are not what the
 * reader expects. The message names the value or file and what would be valid; `file` is set when a
 * file is at fault. The name is stable (`DatasetError`) so callers (the CLI) can map it to a usage error.
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  /** The file at fault, if any. */
  readonly file?: string;
  /** Where in the file (`magic`, `header`, `data`, `labels[17]`, `record 3 label`, `(file)`), when a file is at fault. */
  readonly field?: string;

  constructor(message: string, file?: string, field?: string) {
    super(message);
    if (file !== undefined) this.file = file;
    if (field !== undefined) this.field = field;
  }
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Throws a DatasetError unless `ok`: "`what` must be `expected`; got `value`". */
export function check(ok: boolean, what: string, value: unknown, expected: string): void {
  if (!ok) throw new DatasetError(`${what} must be ${expected}; got ${show(value)}`);
}

export function checkInteger(what: string, value: unknown, min = 0): void {
  check(Number.isSafeInteger(value) && (value as number) >= min, what, value, `an integer ≥ ${min}`);
}

export function checkSeed(what: string, value: unknown): void {
  check(Number.isSafeInteger(value), what, value, 'an integer (a seed)');
}
