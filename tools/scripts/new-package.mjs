#!/usr/bin/env node
// Creates a workspace package with the workspace's conventions:
//   node tools/scripts/new-package.mjs <name> "<description>" [--deps core,backend] [--side-effects]
//   npm run new-penalty -- <name> ["<description>"] [--dir DIR] [--no-install]
// `new-penalty` writes a working penalty package: an L1-like penalty with its closed-form gradient, its
// plugin, a conformance test and a README stub, which pass CI as generated. Then `npm install` links it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const camel = (name) => name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (name) => camel(name).replace(/^./, (c) => c.toUpperCase());
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;

/** package.json of a workspace package. */
function manifest(name, description, deps, { sideEffects = false, devDeps = [], keywords } = {}) {
  return {
    name: `@sparsify/${name}`,
    version: '0.0.0',
    description,
    ...(keywords ? { keywords } : {}),
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
    ...(devDeps.length ? { devDependencies: Object.fromEntries(devDeps.map((d) => [`@sparsify/${d}`, '0.0.0'])) } : {}),
  };
}

/** The files of an empty package. */
function packageFiles(name, description, deps, options) {
  return {
    'package.json': json(manifest(name, description, deps, options)),
    'tsconfig.json': json({ extends: '../../tsconfig.base.json', include: ['src', 'test'] }),
    'tsup.config.ts': `import { packageConfig } from '../../tools/config/tsup.base';\n\nexport default packageConfig();\n`,
  };
}

/** A penalty package: `name` is the registry name; the penalty is λ·Σ|w| until its author changes it. */
function penaltyFiles(name, description) {
  const [factory, Class, OPTIONS] = [
    camel(name),
    `${pascal(name)}Penalty`,
    `${camel(name)
      .replace(/[A-Z]/g, (c) => `_${c}`)
      .toUpperCase()}_OPTIONS`,
  ];
  return {
    ...packageFiles(name, description, ['core'], {
      devDeps: ['backend', 'conformance'],
      keywords: ['sparsify', 'sparsify-plugin', 'sparsity', 'tensorflowjs'],
    }),
    'src/index.ts': `export { ${Class}, ${OPTIONS}, PACKAGE_NAME, ${factory}, type ${pascal(name)}Options } from './${name}.js';\nexport { plugin } from './plugin.js';\n`,
    [`src/${name}.ts`]: `import * as tf from '@tensorflow/tfjs';
import { BasePenalty, option, safeL1, signLinear, type OptionsOf, type PenaltyGradients, type TrainingContext } from '@sparsify/core';

export const PACKAGE_NAME = '@sparsify/${name}';

/** The options, their validation, defaults and CLI help. */
export const ${OPTIONS} = {
  strength: option.strength({ required: true, description: 'λ, the coefficient of Σ|w|: a number ≥ 0, a schedule or its config' }),
};

export type ${pascal(name)}Options = OptionsOf<typeof ${OPTIONS}>;

/** λ·Σ|w| over the bound weights, with the gradient λ·sign(w) (0 at w = 0). */
export class ${Class} extends BasePenalty<typeof ${OPTIONS}> {
  readonly name = '${name}';
  protected override readonly packageName = PACKAGE_NAME;

  constructor(options: ${pascal(name)}Options) {
    super(options, ${OPTIONS}, '${factory}');
  }

  /** The penalty without its strength, differentiable: the training step may use the tape on it. */
  protected term(_ctx: TrainingContext): tf.Scalar {
    return safeL1(...this.params.map((p) => p.variable));
  }

  /** Optional: the same value and its gradients without a tape (the conformance kit checks they agree). */
  protected override closedForm(_ctx: TrainingContext, strength: tf.Scalar): PenaltyGradients {
    const weights = this.params.map((p) => p.variable);
    const zero = tf.scalar(0);
    return {
      value: tf.mul(safeL1(...weights), strength) as tf.Scalar,
      grads: Object.fromEntries(weights.map((w) => [w.name, signLinear(w, strength, zero)])),
    };
  }
}

export function ${factory}(options: ${pascal(name)}Options): ${Class} {
  return new ${Class}(options);
}
`,
    'src/plugin.ts': `import type { SparsifyPlugin } from '@sparsify/core';
import { ${factory}, ${OPTIONS}, PACKAGE_NAME, type ${pascal(name)}Options } from './${name}.js';

/** Registers \`${name}\`: \`registerPlugin(plugin)\`; the CLI finds it by the keyword sparsify-plugin. */
export const plugin: SparsifyPlugin = {
  package: PACKAGE_NAME,
  penalties: [
    {
      name: '${name}',
      package: PACKAGE_NAME,
      description: ${JSON.stringify(description)},
      schema: ${OPTIONS},
      create: (options) => ${factory}(options as ${pascal(name)}Options),
    },
  ],
};
`,
    'test/conformance.test.ts': `import * as tf from '@tensorflow/tfjs';
import { registerSparsifyKernels, unregisterSparsifyKernels } from '@sparsify/backend';
import { describeConformance } from '@sparsify/conformance';
import { beforeAll, describe, it } from 'vitest';
import { ${factory}, plugin } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  registerSparsifyKernels();
});

// Finite-difference gradient, no tensor growth over 500 steps, getConfig round trip, dispose frees all,
// the same numbers on cpu and wasm with the fast kernels and without, closed form = tape.
describeConformance(
  { describe, it },
  { name: '${name}', plugin, create: () => ${factory}({ strength: 1e-2 }), kernels: { register: registerSparsifyKernels, unregister: unregisterSparsifyKernels } },
);
`,
    'README.md': `# @sparsify/${name}

${description}

\`\`\`ts
import { ${factory} } from '@sparsify/${name}';

const penalty = ${factory}({ strength: 1e-4 });
\`\`\`

## The math

λ·Σ|w| over the bound weights; gradient λ·sign(w), 0 at w = 0. Replace this with your penalty's
definition, its gradient, and the ranges of its options that work.
`,
  };
}

function write(dir, files) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

const args = process.argv.slice(2);
const penalty = args[0] === '--penalty';
const [name, description = penalty ? `The ${args[1]} penalty for sparsify.` : '', ...rest] = penalty ? args.slice(1) : args;
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  fail(`usage: new-package.mjs <name> "<description>" [--deps a,b] [--side-effects]
       new-package.mjs --penalty <name> ["<description>"] [--dir DIR] [--no-install]
  <name> must be lower-case letters, digits and '-'; got ${JSON.stringify(name)}`);
}
const option = (flag) => (rest.includes(flag) ? rest[rest.indexOf(flag) + 1] : undefined);
const dir = option('--dir') ?? `packages/${name}`;
if (existsSync(dir)) fail(`${dir} already exists`);
if (penalty) {
  write(dir, penaltyFiles(name, description));
} else {
  const deps = (option('--deps') ?? '').split(',').filter(Boolean);
  write(dir, {
    ...packageFiles(name, description, deps, { sideEffects: rest.includes('--side-effects') }),
    'README.md': `# @sparsify/${name}\n\n${description}\n`,
  });
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'test'), { recursive: true });
}
// Every tarball carries the licence its manifest declares.
writeFileSync(join(dir, 'LICENSE'), readFileSync(new URL('../../LICENSE', import.meta.url)));
console.log(`created ${dir}`);
if (!rest.includes('--no-install') && !option('--dir')) {
  // Links the new workspace package and records it in package-lock.json (from the registry cache).
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { stdio: 'inherit' });
}
