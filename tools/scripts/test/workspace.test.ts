import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const packageDirs = readdirSync(`${root}packages`).filter((d) => existsSync(`${root}packages/${d}/package.json`));
const manifest = (dir: string) => JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8'));
const PENALTY_PACKAGES = ['halo', 'adaptive-lasso', 'hoyer', 'hypersparse'];

describe('workspace conventions', () => {
  it('installs exactly one version of each @tensorflow package (one engine per process)', () => {
    const out = execFileSync('npm', ['ls', '@tensorflow/tfjs-core', '--all', '--json'], { cwd: root, encoding: 'utf8' });
    const versions = new Set<string>();
    const walk = (node: { dependencies?: Record<string, { version?: string; dependencies?: object }> }) => {
      for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
        if (name === '@tensorflow/tfjs-core' && dep.version) versions.add(dep.version);
        walk(dep as never);
      }
    };
    walk(JSON.parse(out));
    expect([...versions]).toEqual(['4.22.0']);
  });

  for (const dir of packageDirs) {
    it(`@sparsify/${dir} follows the package conventions`, () => {
      const pkg = manifest(dir);
      expect(pkg.name).toBe(`@sparsify/${dir}`);
      expect(pkg.type).toBe('module');
      expect(pkg.exports['.'].import.types).toBe('./dist/index.d.ts');
      expect(pkg.exports['.'].require.default).toBe('./dist/index.cjs');
      expect(pkg.exports['./package.json']).toBe('./package.json');
      expect(pkg.sideEffects === false || Array.isArray(pkg.sideEffects)).toBe(true);
      expect(pkg.peerDependencies['@tensorflow/tfjs']).toBe('4.22.0');
      // npm packs a LICENSE beside package.json whatever `files` says: the MIT text the manifest declares.
      expect(pkg.license).toBe('MIT');
      expect(readFileSync(`${root}packages/${dir}/LICENSE`, 'utf8')).toBe(readFileSync(`${root}LICENSE`, 'utf8'));
      // tfjs is a peer, never a dependency (never bundled, one engine).
      expect(Object.keys(pkg.dependencies ?? {})).not.toContain('@tensorflow/tfjs');
      for (const optional of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
        expect(Object.keys(pkg.dependencies ?? {})).not.toContain(optional);
        if (pkg.peerDependencies[optional]) expect(pkg.peerDependenciesMeta?.[optional]?.optional).toBe(true);
      }
      expect(existsSync(`${root}packages/${dir}/README.md`)).toBe(true);
    });
  }

  it('penalty packages depend on core only, never on each other', () => {
    for (const dir of PENALTY_PACKAGES.filter((d) => packageDirs.includes(d))) {
      const deps = Object.keys(manifest(dir).dependencies ?? {}).filter((d) => d.startsWith('@sparsify/'));
      expect(deps, dir).toEqual(['@sparsify/core']);
      const sources = readdirSync(`${root}packages/${dir}/src`, { recursive: true }).filter((f) => String(f).endsWith('.ts'));
      for (const file of sources) {
        const text = readFileSync(`${root}packages/${dir}/src/${file}`, 'utf8');
        for (const other of PENALTY_PACKAGES.filter((o) => o !== dir)) {
          expect(text.includes(`@sparsify/${other}`), `${dir}/src/${file} imports @sparsify/${other}`).toBe(false);
        }
      }
    }
  });

  it('core and the penalty packages are plain tfjs: no WebAssembly, worker, Node built-in or process', () => {
    for (const dir of ['core', ...PENALTY_PACKAGES].filter((d) => packageDirs.includes(d))) {
      const files = readdirSync(`${root}packages/${dir}/src`, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
      for (const file of files.map((f) => join(f.parentPath, f.name).slice(`${root}packages/${dir}/src/`.length))) {
        expect(file.endsWith('.ts'), `${dir}/src/${file}: only TypeScript sources`).toBe(true);
        const text = readFileSync(`${root}packages/${dir}/src/${file}`, 'utf8');
        for (const banned of [/\bWebAssembly\b/, /from\s+['"]node:/, /worker_threads/, /\bprocess\./, /\bSharedArrayBuffer\b/]) {
          expect(banned.test(text), `${dir}/src/${file} uses ${banned}`).toBe(false);
        }
      }
    }
  });

  it('library code never imports the native tfjs packages statically', () => {
    for (const dir of packageDirs) {
      if (!existsSync(`${root}packages/${dir}/src`)) continue;
      for (const file of readdirSync(`${root}packages/${dir}/src`, { recursive: true }).filter((f) => String(f).endsWith('.ts'))) {
        const text = readFileSync(`${root}packages/${dir}/src/${file}`, 'utf8');
        expect(/^\s*import\s[^;]*from\s+['"]@tensorflow\/tfjs-node/m.test(text), `${dir}/src/${file}`).toBe(false);
      }
    }
  });

  it('npm pack puts LICENSE in the tarball', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: `${root}packages/core`, encoding: 'utf8' });
    const [{ files }] = JSON.parse(out) as [{ files: { path: string }[] }];
    expect(files.map((f) => f.path)).toContain('LICENSE');
  });
});
