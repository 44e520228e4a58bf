// Shared by the packages' README-example tests: each README embeds an example file verbatim, and the
// example must type-check against the workspace's sources (what the tests run).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Every workspace package resolved to its source. */
const sourcePaths: Record<string, string[]> = Object.fromEntries(
  readdirSync(`${root}packages`)
    .filter((dir) => existsSync(`${root}packages/${dir}/src/index.ts`))
    .map((dir) => [`@sparsify/${dir}`, [`${root}packages/${dir}/src/index.ts`]]),
);

/**
 * The example `examplePath` (relative to the package of the test file at `testFileUrl`) with the
 * package's README text and a type check of the example.
 */
export function readmeExample(testFileUrl: string, examplePath: string) {
  const packageDir = fileURLToPath(new URL('../', testFileUrl));
  const file = `${packageDir}${examplePath}`;
  return {
    code: readFileSync(file, 'utf8').trim(),
    readme: readFileSync(`${packageDir}README.md`, 'utf8'),
    /** TypeScript's diagnostics for the example (strict), as messages; empty when it compiles. */
    typeErrors(): string[] {
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        skipLibCheck: true,
        types: ['node'],
        paths: sourcePaths,
      });
      return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  };
}
