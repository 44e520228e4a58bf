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
export { aggregateSweep, renderHtml, renderMarkdown, renderSweepHtml, renderSweepMarkdown, renderSweepText } from './render.js';
export { histogramChart, layerSparsityChart, lineChart, type Series } from './svg.js';
