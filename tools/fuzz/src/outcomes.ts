/** How a case ended. The first four are what the issue allows; the rest are findings. */
export const GOOD_OUTCOMES = [
  /** A typed error with `.file` and `.field`, its message naming the file. */
  'named',
  /** Exactly the original weights (sparse: and topology; checkpoints: and masks). */
  'original',
  /**
   * A crafted sparse model (checksums recomputed: a valid file, not a damaged one) accepted: finite
   * weights, and every sparse-encoded weight decodes to exactly its `count` non-zeros.
   */
  'crafted-valid',
  /** A dataset accepted with other pixel or label bytes but the same structure (IDX and CIFAR have no checksums). */
  'valid-data',
] as const;

export const BAD_OUTCOMES = [
  /** A sparsify error type, but without the file or the field. */
  'typed-unnamed',
  /** Any other error (RangeError, TypeError, SyntaxError…): no context. */
  'context-free',
  /** Accepted with weights other than the original's (damage let through, or a crafted file whose values were lost or shifted). */
  'accepted-different',
  /** Accepted with NaN or ±∞ weights. */
  'accepted-non-finite',
  /** A dataset accepted with another structure (class count, sizes). */
  'accepted-suspicious',
  /** An error message that tells the size of a file outside the model's directory. */
  'leak',
  /** Longer than 1 s. */
  'slow',
  /** Peak RSS grew by more than 256 MB. */
  'memory',
  /** No answer within the watchdog's limit: the worker was terminated. */
  'hang',
] as const;

export type Outcome = (typeof GOOD_OUTCOMES)[number] | (typeof BAD_OUTCOMES)[number];

export interface CaseResult {
  name: string;
  target: string;
  outcome: Outcome;
  ms: number;
  /** Peak RSS growth during the case, MB. */
  rssMB: number;
  /** The error message or what differed (findings only). */
  detail?: string;
}

export const SLOW_MS = 1000;
export const MEMORY_MB = 256;
