/** The checkpoint file of a run directory (see checkpoint.ts for the format). */
export const CHECKPOINT_FILE = 'checkpoint.bin';
/** The checkpoint before the last one. */
export const PREVIOUS_CHECKPOINT_FILE = 'checkpoint.prev.bin';
/** Where a damaged `checkpoint.bin` is moved when a run resumes from the previous one. */
export const CORRUPT_CHECKPOINT_FILE = 'checkpoint.corrupt.bin';

/**
 * A checkpoint that cannot be used: damaged, of another format, or not from this run. `file` is the
 * checkpoint (or run directory) and `field` where in it (`checksum`, `header`, `phase`, `model[2]`…).
 */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  readonly file: string;
  readonly field: string;

  constructor(message: string, where: { file?: string; field?: string } = {}) {
    super(message);
    this.file = where.file ?? '';
    this.field = where.field ?? '';
  }
}
