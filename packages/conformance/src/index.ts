export {
  ConformanceError,
  conformanceChecks,
  describeConformance,
  runConformance,
  type ConformanceCheck,
  type ConformanceOptions,
  type TestApi,
} from './checks.js';
export { disposeParams, fixtureKernels, fixtureModel, fixtureParams, fixtureValues, seededRandom } from './fixtures.js';
export {
  CLASSES,
  FEATURES,
  HIDDEN,
  RELEVANT,
  accuracy,
  makeModel,
  teacherTask,
  trainAndPrune,
  type RunOptions,
  type RunResult,
  type Task,
} from './training.js';
