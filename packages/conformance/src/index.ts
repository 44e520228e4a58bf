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
