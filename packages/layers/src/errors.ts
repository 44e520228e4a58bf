/**
 * A model file (or directory) that cannot be used as it is: `file` is the path at fault and `field`
 * where in it (a JSON path such as `weights[2].shape`, or a byte region such as `weights[2].colIndex`).
 * The message names both. The name is stable (`ModelFileError`) so callers (the CLI) can map it.
 */
export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';

  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${file}: ${field} ${problem}`);
  }
}
