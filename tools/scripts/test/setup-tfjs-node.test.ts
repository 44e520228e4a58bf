import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const installer = fileURLToPath(new URL('../setup-tfjs-node.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'sparsify-setup-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run setup:tfjs-node', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [installer, ...args], {
      encoding: 'utf8',
      env: { ...process.env, SPARSIFY_TFJS_NODE_CACHE: join(scratch, 'cache') },
    });

  it('prints its usage', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/npm install --no-save/);
    expect(r.stdout).toMatch(/--from auto\|official\|wheel/);
  });

  it('rejects bad options, naming the value and what is valid', () => {
    const r = run('--from', 'cdn');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('setup:tfjs-node: failed: --from must be auto, official or wheel; got "cdn"\n');
    expect(run('--tensorflow', 'latest').stderr).toMatch(/--tensorflow must be a pip version spec such as ==2.21.0; got "latest"/);
  });

  it('names the step that failed', () => {
    const project = join(scratch, 'project');
    let r = run('--prefix', join(scratch, 'nowhere'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^setup:tfjs-node: step "check project" failed: .*nowhere has no package\.json\n/);
    // A project without @tensorflow/tfjs: the same step, with what to do.
    rmSync(project, { recursive: true, force: true });
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'package.json'), '{"name":"p","private":true}');
    r = run('--prefix', project);
    expect(r.stderr).toMatch(
      /step "check project" failed: @tensorflow\/tfjs does not resolve from .*project\n.*install @tensorflow\/tfjs 4\.22\.0 there first/,
    );
    expect(readdirSync(project)).toEqual(['package.json']);
  });
});
