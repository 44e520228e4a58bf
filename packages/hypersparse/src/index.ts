export {
  ART_ALPHA_INIT,
  ART_GROWTH,
  HYPERSPARSE_C,
  HYPERSPARSE_OPTIONS,
  HyperSparsePenalty,
  MIN_THRESHOLD,
  PACKAGE_NAME,
  hyperSparse,
  sech2,
  type HyperSparseOptions,
} from './hypersparse.js';
export {
  ArtController,
  art,
  type ArtDecision,
  type ArtObservation,
  type ArtOptions,
  type ArtSelection,
  type ArtState,
} from './art.js';
export { HYPERSPARSE_KERNEL, hyperSparseGradients, sech2FromExp, type HyperSparseAttrs } from './ops.js';
export { probePrunedAccuracy, type ProbeOptions, type ProbeResult } from './probe.js';
export { plugin } from './plugin.js';
