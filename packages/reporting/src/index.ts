export type {
  AccuracyBlock,
  EpochRow,
  Histogram,
  LayerRow,
  ReportInput,
  RunReport,
  RuntimeInfo,
  StructureRow,
  SweepReport,
  SweepRow,
} from './types.js';
export { ReportError, createReport, createSweepReport, validateReport } from './validate.js';
export {
  aggregateSweep,
  renderHtml,
  renderHtmlBody,
  renderMarkdown,
  renderSweepHtml,
  renderSweepHtmlBody,
  renderSweepMarkdown,
  renderSweepText,
} from './render.js';
export { renderReport } from './dom.js';
export { histogramChart, layerSparsityChart, lineChart, type Series } from './svg.js';
