import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The dual-package hazard: an application that loads core's ESM build and its CJS build (through a CJS
 * dependency) holds two BasePenalty classes. Runs on the built dist/ (npm test builds first).
 */
describe('ESM and CJS builds of @sparsify/core in one process', () => {
  it('a penalty from either build is instanceof BasePenalty of both, and subclasses keep their own check', async () => {
    const esm = await import(pathToFileURL(`${root}packages/core/dist/index.js`).href);
    const cjs = createRequire(import.meta.url)(`${root}packages/core/dist/index.cjs`);
    expect(esm.BasePenalty).not.toBe(cjs.BasePenalty);
    class EsmL1 extends esm.BasePenalty {
      readonly name = 'esm-l1';
      protected term() {
        return esm.safeL1(...this.params.map((p: { variable: unknown }) => p.variable));
      }
    }
    class CjsL1 extends cjs.BasePenalty {
      readonly name = 'cjs-l1';
      protected term() {
        return cjs.safeL1(...this.params.map((p: { variable: unknown }) => p.variable));
      }
    }
    const [a, b] = [new EsmL1({ strength: 1 }), new CjsL1({ strength: 1 })];
    for (const p of [a, b]) {
      expect(p instanceof esm.BasePenalty).toBe(true);
      expect(p instanceof cjs.BasePenalty).toBe(true);
    }
    expect(a instanceof EsmL1).toBe(true);
    expect(b instanceof EsmL1).toBe(false);
    expect({} instanceof esm.BasePenalty).toBe(false);
    expect(null instanceof cjs.BasePenalty).toBe(false);
    a.dispose();
    b.dispose();
  });
});
