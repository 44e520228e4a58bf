import type { Penalty } from '@sparsify/core';

/** A penalty the bench knows how to build, from a package written elsewhere in the workspace. */
export interface PenaltySpec {
  readonly id: string;
  readonly pkg: string;
  /** Exported factory names to try, in order. */
  readonly factories: readonly string[];
  readonly options: Record<string, unknown>;
}

export const PENALTIES: readonly PenaltySpec[] = [
  { id: 'lasso', pkg: '@sparsify/adaptive-lasso', factories: ['lasso', 'adaptiveLasso'], options: { strength: 1e-4 } },
  { id: 'hoyerSquare', pkg: '@sparsify/hoyer', factories: ['hoyerSquare'], options: { strength: 1e-4 } },
  { id: 'groupHoyerSquare', pkg: '@sparsify/hoyer', factories: ['groupHoyerSquare'], options: { strength: 1e-4 } },
  { id: 'halo', pkg: '@sparsify/halo', factories: ['halo'], options: { strength: 1e-4, xi: 1e-8, psi: 1 } },
  { id: 'hyperSparse', pkg: '@sparsify/hypersparse', factories: ['hyperSparse'], options: { strength: 1e-4, sparsity: 0.9 } },
];

export type PenaltyFactory = () => Penalty;

/**
 * Imports each penalty package (a variable specifier: the bundler must not resolve it at build time)
 * and returns a factory per penalty, or why it is skipped (not installed / not built / no factory).
 */
export async function loadPenalties(): Promise<{ available: Map<string, PenaltyFactory>; skipped: Map<string, string> }> {
  const available = new Map<string, PenaltyFactory>();
  const skipped = new Map<string, string>();
  const modules = new Map<string, Record<string, unknown> | string>();
  for (const spec of PENALTIES) {
    if (!modules.has(spec.pkg)) {
      try {
        const specifier = spec.pkg;
        modules.set(spec.pkg, (await import(specifier)) as Record<string, unknown>);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        modules.set(spec.pkg, /Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(message) ? 'not built or not installed (npm run build)' : message.split('\n')[0]);
      }
    }
    const mod = modules.get(spec.pkg)!;
    if (typeof mod === 'string') {
      skipped.set(spec.id, `${spec.pkg}: ${mod}`);
      continue;
    }
    const name = spec.factories.find((f) => typeof mod[f] === 'function');
    if (!name) {
      skipped.set(spec.id, `${spec.pkg} exports none of ${spec.factories.join(', ')}`);
      continue;
    }
    const factory = mod[name] as (options: Record<string, unknown>) => Penalty;
    try {
      factory(spec.options).dispose();
      available.set(spec.id, () => factory(spec.options));
    } catch (e) {
      skipped.set(spec.id, `${spec.pkg}.${name}(${JSON.stringify(spec.options)}) failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
  }
  return { available, skipped };
}
