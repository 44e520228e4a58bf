export { DEFAULT_PRUNING, LN_STRUCTURED_PRUNING, resolvePruningDefaults, type PruningDefaults } from './defaults.js';
export {
  PRUNING_SCOPES,
  type PruningScope,
  type ScoreOptions,
} from './scores.js';
export {
  GROUP_AXES,
  groupScores,
  lnStructured,
  type GroupAxis,
  type LnStructuredOptions,
  type PruningResult,
} from './structured.js';
export { BLOCK_POOLINGS, blockMasks, poolBlocks, type BlockOptions, type BlockPooling } from './block.js';
export {
  checkMByN,
  mByNMasks,
  type MByN,
  type MByNOptions,
  type MByNParamReport,
  type MByNReport,
} from './nm.js';
export { customFromMask } from './custom.js';
export { countZeroGroups, type ZeroGroups } from './groups.js';
export {
  DEFAULT_PRUNING_METHOD,
  PRUNING_METHOD_KINDS,
  checkPruningMethod,
  computePruningMasks,
  pruningMethodConfig,
  type CustomPruningMethod,
  type PruningMethod,
} from './methods.js';
