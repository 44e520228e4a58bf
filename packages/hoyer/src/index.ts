export {
  GroupHoyerSquarePenalty,
  HoyerPenalty,
  HoyerSquarePenalty,
  PACKAGE_NAME,
  groupHoyerSquare,
  hoyer,
  hoyerSquare,
  type GroupHoyerSquareOptions,
  type HoyerOptions,
} from './penalties.js';
export { GROUP_MODES, HOYER_DELTA, groupHoyerSquareTerm, hoyerSquareTerm, hoyerTerm, type GroupMode } from './terms.js';
export { plugin } from './plugin.js';
