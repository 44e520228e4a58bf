/** A bad flag or value: the CLI prints the message and exits with code 2, having written nothing. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Errors that mean "the user gave a bad value" (exit 2) rather than "something failed" (exit 1). */
export function isUsageLike(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  const name = (error as { name?: string } | null)?.name;
  return [
    'SparsifyConfigError',
    'DatasetError',
    'ModelConfigError',
    'BackendSelectionError',
    'ReportError',
    'CheckpointError',
    'ModelFileError',
    'RunDirectoryError',
  ].includes(name ?? '');
}
