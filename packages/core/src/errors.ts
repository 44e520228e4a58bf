/** Thrown for invalid options: the message names the bad value and what would be valid. */
export class SparsifyConfigError extends Error {
  override readonly name = 'SparsifyConfigError';
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Throws a SparsifyConfigError unless `ok`; `what` names the option, `expected` the valid range. */
export function check(ok: boolean, what: string, value: unknown, expected: string): void {
  if (!ok) throw new SparsifyConfigError(`${what} must be ${expected}; got ${show(value)}`);
}

export function checkFinite(what: string, value: unknown): void {
  check(typeof value === 'number' && Number.isFinite(value), what, value, 'a finite number');
}

export function checkNonNegative(what: string, value: unknown): void {
  check(typeof value === 'number' && Number.isFinite(value) && value >= 0, what, value, 'a finite number ≥ 0');
}

export function checkPositive(what: string, value: unknown): void {
  check(typeof value === 'number' && Number.isFinite(value) && value > 0, what, value, 'a finite number > 0');
}

export function checkInteger(what: string, value: unknown, min = 0): void {
  check(Number.isInteger(value) && (value as number) >= min, what, value, `an integer ≥ ${min}`);
}

/** Sparsity targets live in [0, 1): 1 would prune everything. */
export function checkSparsity(what: string, value: unknown): void {
  check(typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < 1, what, value, 'a fraction in [0, 1)');
}

export function checkOneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): void {
  check(allowed.includes(value as T), what, value, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
}
