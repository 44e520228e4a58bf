export {
  GROUP_HOYER_SQUARE_OPTIONS,
  GROUP_MODES,
  GroupHoyerSquarePenalty,
  HOYER_OPTIONS,
  HOYER_SQUARE_OPTIONS,
  HoyerPenalty,
  HoyerSquarePenalty,
  PACKAGE_NAME,
  groupHoyerSquare,
  groupHoyerSquareTerm,
  hoyer,
  hoyerSquare,
  hoyerSquareTerm,
  hoyerTerm,
  type GroupHoyerSquareOptions,
  type GroupMode,
  type HoyerOptions,
} from './penalties.js';
export { HOYER_DELTA, HOYER_KERNELS, groupStep, ratioStep, type GroupAttrs, type RatioAttrs } from './ops.js';
export { plugin } from './plugin.js';
