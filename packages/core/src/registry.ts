import { SparsifyConfigError } from './errors.js';
import type { OptionSchema } from './options.js';
import type { Penalty, PenaltyConfig } from './penalty.js';

/** A named penalty factory, as registered. */
export interface PenaltyDefinition {
  readonly name: string;
  /** npm package that provides it. */
  readonly package: string;
  readonly description: string;
  /** Its options (`describeOptions(schema)` lists them for the CLI). */
  readonly schema: OptionSchema;
  /** Builds the penalty; it validates its options (unknown, missing or invalid ones are errors). */
  readonly create: (options: Record<string, unknown>) => Penalty;
}

/** What a penalty package exports as `plugin`: `registerPlugin(plugin)` makes its names known. */
export interface SparsifyPlugin {
  readonly package: string;
  readonly penalties: readonly PenaltyDefinition[];
}

// On globalThis so that two copies of core in one process (a dual ESM/CJS load) share one registry.
const REGISTRY_KEY = Symbol.for('@sparsify/core/penalty-registry');
type Registry = Map<string, PenaltyDefinition>;
function registry(): Registry {
  const g = globalThis as Record<symbol, Registry | undefined>;
  return (g[REGISTRY_KEY] ??= new Map());
}

/** Registers a penalty by name. Re-registering the same name from the same package replaces it. */
export function registerPenalty(definition: PenaltyDefinition): void {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new SparsifyConfigError(
      `penalty name must be lower-case letters, digits and "-" (e.g. "hoyer-square"); got ${JSON.stringify(definition.name)}`,
    );
  }
  const existing = registry().get(definition.name);
  if (existing && existing.package !== definition.package) {
    throw new SparsifyConfigError(
      `penalty name ${JSON.stringify(definition.name)} is already registered by ${existing.package}; ${definition.package} must use another name`,
    );
  }
  registry().set(definition.name, definition);
}

export function registerPlugin(plugin: SparsifyPlugin): void {
  for (const definition of plugin.penalties) registerPenalty(definition);
}

export function getPenaltyDefinition(name: string): PenaltyDefinition | undefined {
  return registry().get(name);
}

export function listPenalties(): PenaltyDefinition[] {
  return [...registry().values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Creates a registered penalty by name. */
export function createPenalty(name: string, options: Record<string, unknown> = {}): Penalty {
  const definition = registry().get(name);
  if (!definition) {
    const known = listPenalties().map((d) => d.name);
    throw new SparsifyConfigError(
      `unknown penalty ${JSON.stringify(name)}; registered: ${known.length ? known.join(', ') : 'none (import a penalty package and call registerPlugin)'}`,
    );
  }
  return definition.create(options);
}

/** Rebuilds a penalty from `getConfig()`; registered names only (see `loadPenaltyFromConfig`). */
export function penaltyFromConfig(config: PenaltyConfig): Penalty {
  return createPenalty(config.name, config.options);
}

/**
 * Like `penaltyFromConfig`, but imports `config.package` first when the name is not registered yet
 * and registers that package's `plugin` export.
 */
export async function loadPenaltyFromConfig(config: PenaltyConfig): Promise<Penalty> {
  if (!getPenaltyDefinition(config.name) && config.package) {
    const mod = (await import(config.package)) as { plugin?: SparsifyPlugin; default?: { plugin?: SparsifyPlugin } };
    const plugin = mod.plugin ?? mod.default?.plugin;
    if (!plugin) {
      throw new SparsifyConfigError(`package ${config.package} has no "plugin" export to register penalty ${config.name}`);
    }
    registerPlugin(plugin);
  }
  return penaltyFromConfig(config);
}
