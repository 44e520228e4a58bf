import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listPenalties, registerPlugin, type SparsifyPlugin } from '@sparsify/core';
import { plugin as haloPlugin } from '@sparsify/halo';
import { plugin as hoyerPlugin } from '@sparsify/hoyer';
import { plugin as hypersparsePlugin } from '@sparsify/hypersparse';
import { plugin as adaptiveLassoPlugin } from '@sparsify/adaptive-lasso';

export const BUILTIN_PLUGINS: readonly SparsifyPlugin[] = [haloPlugin, adaptiveLassoPlugin, hoyerPlugin, hypersparsePlugin];
export const PLUGIN_KEYWORD = 'sparsify-plugin';

export interface DiscoveredPlugin {
  package: string;
  dir: string;
  penalties: string[];
  error?: string;
}

/** node_modules directories from `start` up to the root. */
function nodeModulesChain(start: string): string[] {
  const out: string[] = [];
  let dir = resolve(start);
  for (;;) {
    const nm = join(dir, 'node_modules');
    if (existsSync(nm)) out.push(nm);
    const parent = dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

/** Package directories directly under a node_modules directory (scoped ones included). */
function packagesIn(nodeModules: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(nodeModules);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      try {
        for (const sub of readdirSync(join(nodeModules, name))) out.push(join(nodeModules, name, sub));
      } catch {
        /* not a directory */
      }
    } else out.push(join(nodeModules, name));
  }
  return out;
}

const builtinPackages = () => new Set(BUILTIN_PLUGINS.map((p) => p.package));

/**
 * Registers the built-in penalty packages, then every installed package whose package.json lists the
 * keyword "sparsify-plugin" (searched in the node_modules directories above `cwd` and above the CLI
 * itself) by importing it and registering its `plugin` export. A plugin that fails to load is
 * reported, not fatal.
 */
export async function registerPlugins(options: { cwd?: string; searchFrom?: string[] } = {}): Promise<DiscoveredPlugin[]> {
  for (const p of BUILTIN_PLUGINS) registerPlugin(p);
  const roots = [options.cwd ?? process.cwd(), ...(options.searchFrom ?? [dirname(new URL(import.meta.url).pathname)])];
  const seen = new Set<string>();
  const found: DiscoveredPlugin[] = [];
  const builtins = builtinPackages();
  for (const nm of [...new Set(roots.flatMap(nodeModulesChain))]) {
    for (const dir of packagesIn(nm)) {
      let manifest: { name?: string; keywords?: unknown };
      try {
        manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      const name = manifest.name;
      if (!name || seen.has(name) || builtins.has(name)) continue;
      if (!Array.isArray(manifest.keywords) || !manifest.keywords.includes(PLUGIN_KEYWORD)) continue;
      seen.add(name);
      const entry: DiscoveredPlugin = { package: name, dir, penalties: [] };
      try {
        const require = createRequire(join(dirname(dir), 'noop.js'));
        let target: string;
        try {
          target = pathToFileURL(require.resolve(name)).href;
        } catch {
          target = pathToFileURL(dir).href;
        }
        const mod = (await import(target)) as { plugin?: SparsifyPlugin; default?: { plugin?: SparsifyPlugin } };
        const plugin = mod.plugin ?? mod.default?.plugin;
        if (!plugin || !Array.isArray(plugin.penalties)) throw new Error('it has no "plugin" export ({ package, penalties })');
        registerPlugin(plugin);
        entry.penalties = plugin.penalties.map((p) => p.name);
      } catch (error) {
        entry.error = (error as Error).message.split('\n')[0];
      }
      found.push(entry);
    }
  }
  return found;
}

/** Method names the CLI accepts: the baselines and every registered penalty. */
export function methodNames(): string[] {
  return ['none', 'magnitude', 'gmp', ...listPenalties().map((p) => p.name)];
}
