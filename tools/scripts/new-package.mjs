#!/usr/bin/env node
// Creates packages/<name> with the workspace's package conventions:
//   node tools/scripts/new-package.mjs <name> "<description>" [--deps core,backend] [--side-effects]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';

const [name, description = '', ...rest] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error(`usage: new-package.mjs <name> "<description>" [--deps a,b] [--side-effects]
  <name> must be lower-case letters, digits and '-'; got ${JSON.stringify(name)}`);
  process.exit(2);
}
const dir = `packages/${name}`;
if (existsSync(dir)) {
  console.error(`${dir} already exists`);
  process.exit(2);
}
const depsIndex = rest.indexOf('--deps');
const deps = depsIndex >= 0 ? rest[depsIndex + 1].split(',').filter(Boolean) : [];
const sideEffects = rest.includes('--side-effects');

const pkg = {
  name: `@sparsify/${name}`,
  version: '0.0.0',
  description,
  license: 'MIT',
  type: 'module',
  sideEffects: sideEffects ? ['./dist/index.js', './dist/index.cjs'] : false,
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.cts',
  exports: {
    '.': {
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    },
    './package.json': './package.json',
  },
  files: ['dist', 'README.md'],
  engines: { node: '>=20' },
  scripts: {
    build: 'tsup',
    typecheck: 'tsc --noEmit -p tsconfig.json',
    test: `vitest run --root ../.. --project ${name}`,
    'check-packages': 'publint --strict && attw --pack . --profile node16',
  },
  dependencies: Object.fromEntries(deps.map((d) => [`@sparsify/${d}`, '0.0.0'])),
  peerDependencies: { '@tensorflow/tfjs': '4.22.0' },
};
mkdirSync(`${dir}/src`, { recursive: true });
mkdirSync(`${dir}/test`, { recursive: true });
writeFileSync(`${dir}/package.json`, `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(
  `${dir}/tsconfig.json`,
  `${JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src', 'test'] }, null, 2)}\n`,
);
writeFileSync(
  `${dir}/tsup.config.ts`,
  `import { packageConfig } from '../../tools/config/tsup.base';\n\nexport default packageConfig();\n`,
);
writeFileSync(`${dir}/README.md`, `# @sparsify/${name}\n\n${description}\n`);
console.log(`created ${dir}`);
