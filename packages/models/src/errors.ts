/**
 * Thrown for a bad model name or option. The message names the value and what would be valid. The
 * name is stable (`ModelConfigError`) so callers (the CLI) can map it to a usage error.
 */
export class ModelConfigError extends Error {
  override readonly name = 'ModelConfigError';
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

/** Throws a ModelConfigError unless `ok`: "`what` must be `expected`; got `value`". */
export function check(ok: boolean, what: string, value: unknown, expected: string): void {
  if (!ok) throw new ModelConfigError(`${what} must be ${expected}; got ${show(value)}`);
}
