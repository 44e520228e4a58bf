import { renderHtmlBody, renderSweepHtmlBody } from './render.js';
import type { RunReport, SweepReport } from './types.js';
import { ReportError, validateReport } from './validate.js';

/** The report's styles, scoped to its own wrapper so the page's styles are neither used nor changed. */
const STYLE = `.sparsify-report{font-family:system-ui,sans-serif;color:#222}
.sparsify-report table{border-collapse:collapse;margin:8px 0 20px}.sparsify-report td,.sparsify-report th{border:1px solid #ddd;padding:4px 10px;text-align:left}
.sparsify-report th{background:#f4f6f9}.sparsify-report td.n{text-align:right;font-variant-numeric:tabular-nums}.sparsify-report h1{font-size:1.5em}
.sparsify-report h2{margin-top:28px;border-bottom:1px solid #eee}.sparsify-report .chart{margin:10px 0 24px;overflow-x:auto}.sparsify-report .muted{color:#666}`;

/** The elements the renderers write; anything else (script, iframe, img, a, foreignObject…) is removed. */
const ELEMENTS = new Set([
  'div',
  'style',
  'h1',
  'h2',
  'h3',
  'p',
  'pre',
  'table',
  'tbody',
  'tr',
  'th',
  'td',
  'svg',
  'title',
  'text',
  'line',
  'rect',
  'circle',
  'path',
]);

/** Removes what the renderers never write: other elements, event handlers, links and URLs. */
function sanitize(root: DocumentFragment): void {
  for (const el of Array.from(root.querySelectorAll('*'))) {
    if (!ELEMENTS.has(el.localName)) {
      el.remove();
      continue;
    }
    for (const { name } of Array.from(el.attributes)) {
      if (/^on|^(href|src|xlink:href|action|formaction|style)$/i.test(name)) el.removeAttribute(name);
    }
  }
}

/**
 * Renders a run report (`createReport`, `readReport`, or a parsed report.json: it is validated first)
 * or a sweep report into `element`, replacing its content: the tables and inline SVG charts of
 * report.html, with styles scoped to a `.sparsify-report` wrapper. Every value from the report (run
 * and layer names, penalty configs) is text, never markup: the HTML is built with every value escaped,
 * parsed inert (a `<template>`), and anything the renderer does not write is removed before it is
 * inserted. Returns the wrapper element.
 */
export function renderReport(element: Element, report: RunReport | SweepReport): HTMLElement {
  if (typeof (element as Element | null)?.replaceChildren !== 'function' || !element.ownerDocument) {
    throw new ReportError(`renderReport needs a DOM element to render into; got ${element === null ? 'null' : typeof element}`);
  }
  const body =
    (report as SweepReport | null)?.kind === 'sparsify-sweep-report'
      ? renderSweepHtmlBody(report as SweepReport)
      : renderHtmlBody(validateReport(report));
  const template = element.ownerDocument.createElement('template');
  template.innerHTML = `<div class="sparsify-report"><style>${STYLE}</style>${body}</div>`;
  sanitize(template.content);
  element.replaceChildren(template.content);
  return element.firstElementChild as HTMLElement;
}
