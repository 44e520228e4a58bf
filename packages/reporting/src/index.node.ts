// The Node entry (export condition `node`, and `@sparsify/reporting/node`): the portable entry (build,
// validate and render reports to strings) plus reading and atomically writing the report files.
export * from './index.js';
export { REPORT_FILES, SWEEP_FILES, readReport, writeFileAtomic, writeReport, writeSweepReport } from './write.js';
