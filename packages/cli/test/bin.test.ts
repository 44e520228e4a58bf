import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadSparse } from '@sparsify/layers/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN as bin, cleanup, ensureBin, runBin, tempDir, TINY } from './helpers.js';

/** Runs the built bin; `onLine(line, kill)` may SIGKILL it. */
function run(args: string[], cwd: string, onLine?: (line: string, kill: () => void) => void) {
  return runBin(args, cwd, onLine && ((line, child) => onLine(line, () => child.kill('SIGKILL'))));
}

beforeAll(() => {
  ensureBin();
}, 600_000);
afterAll(cleanup);

describe('the sparsify bin', () => {
  it('has a node shebang', () => {
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('trains, prunes and fine-tunes end to end, writes the report, reports and exports', async () => {
    const cwd = tempDir();
    const r = await run(
      [
        'train',
        ...TINY,
        '--penalty',
        'hoyer-square',
        '--set',
        'strength=2e-4',
        '--sparsity',
        '0.9',
        '--epochs',
        '2',
        '--finetune-epochs',
        '1',
        '--lr',
        '0.05',
        '--out',
        'runs/hs',
      ],
      cwd,
    );
    expect(r.stderr.trim()).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^epoch 1\/2 .*loss/m); // --epochs 2: counted within the phase
    expect(r.stdout).toMatch(/^fine-tune 1\/1 /m);
    expect(r.stdout).toMatch(/report: runs\/hs\/report.html/);
    const report = JSON.parse(readFileSync(join(cwd, 'runs/hs/report.json'), 'utf8'));
    expect(report).toMatchObject({
      model: 'lenet-300-100',
      dataset: 'synthetic:64',
      method: 'hoyer-square',
      seed: 0,
      epochs: 2,
      backend: 'cpu',
    });
    expect(report.penalty.name).toBe('hoyer-square');
    expect(report.sparsity.target).toBe(0.9);
    expect(report.sparsity.global).toBeGreaterThanOrEqual(0.9);
    expect(report.sparsity.layers.map((l: { name: string }) => l.name)).toEqual(['fc1/kernel', 'fc2/kernel', 'fc3/kernel']);
    for (const key of ['dense', 'pruned', 'final']) expect(report.accuracy[key]).toBeTypeOf('number');
    expect(report.timing.samplesPerSecond).toBeGreaterThan(0);
    expect(readFileSync(join(cwd, 'runs/hs/report.html'), 'utf8')).not.toMatch(/https?:\/\//);

    const rep = await run(['report', 'runs/hs'], cwd);
    expect(rep.code).toBe(0);
    expect(rep.stdout).toMatch(/sparsity 9\d\.\d\d% \(target 90.00%\)/);

    const ex = await run(['export', 'runs/hs', '--out', 'model'], cwd);
    expect(ex.code).toBe(0);
    const modelJson = JSON.parse(readFileSync(join(cwd, 'model/model.json'), 'utf8'));
    const weights = readFileSync(join(cwd, 'model/weights.bin'));
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    const kernels = model.weights.filter((w) => w.name.endsWith('kernel'));
    let zeros = 0;
    let total = 0;
    for (const k of kernels) {
      const d = k.read().dataSync();
      total += d.length;
      for (const v of d) if (v === 0) zeros++;
    }
    expect(zeros / total).toBeCloseTo(report.sparsity.global, 12);
    expect((await run(['export', 'runs/hs', '--out', 'model'], cwd)).code).toBe(2);
    const sparse = await run(['export', 'runs/hs', '--out', 'sparse', '--format', 'sparse'], cwd);
    expect(sparse.code).toBe(0);
    expect(sparse.stdout).toMatch(/bytes vs [\d,]+ dense/);
    const loaded = await loadSparse(join(cwd, 'sparse'));
    // Equal values (the sparse format stores a pruned −0 as 0).
    const plain = (t: tf.Tensor) => Array.from(t.dataSync(), (v) => v + 0);
    loaded.weights.forEach((w, i) => expect(plain(w.read())).toEqual(plain(model.weights[i].read())));
    loaded.dispose();

    // The report counts what a shrink keeps; export --shrink writes that smaller model, same outputs.
    expect(report.structure.layers.map((l: { name: string; unit: string; total: number }) => [l.name, l.unit, l.total])).toEqual([
      ['fc1', 'neurons', 300],
      ['fc2', 'neurons', 100],
      ['fc3', 'neurons', 10],
    ]);
    const shrunk = await run(['export', 'runs/hs', '--out', 'shrunk', '--shrink'], cwd);
    expect(shrunk.code).toBe(0);
    const kept = report.structure.layers
      .map((l: { name: string; kept: number; total: number }) => `${l.name} ${l.kept}/${l.total}`)
      .join(', ');
    expect(shrunk.stdout).toContain(`shrunk: ${kept} neurons; ${report.structure.parameters.after.toLocaleString('en-US')} of`);
    const shrunkJson = JSON.parse(readFileSync(join(cwd, 'shrunk/model.json'), 'utf8'));
    const shrunkWeights = readFileSync(join(cwd, 'shrunk/weights.bin'));
    const small = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: shrunkJson.modelTopology,
        weightSpecs: shrunkJson.weightsManifest[0].weights,
        weightData: shrunkWeights.buffer.slice(shrunkWeights.byteOffset, shrunkWeights.byteOffset + shrunkWeights.byteLength),
      }),
    );
    expect(small.countParams()).toBe(report.structure.parameters.after);
    const x = tf.randomNormal([8, ...(model.inputs[0].shape.slice(1) as number[])], 0, 1, 'float32', 3);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(small.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor))).dataSync()[0]);
    expect(diff).toBeLessThanOrEqual(1e-5);
    x.dispose();
    small.dispose();
    model.dispose();
  });

  it('is killed mid-epoch and resumes from the last epoch-end checkpoint', async () => {
    const cwd = tempDir();
    let epochs = 0;
    const first = await run(
      [
        'train',
        ...TINY,
        '--penalty',
        'magnitude',
        '--sparsity',
        '0.8',
        '--epochs',
        '3',
        '--finetune-epochs',
        '0',
        '--json',
        '--out',
        'runs/k',
      ],
      cwd,
      (line, kill) => {
        if (line.includes('"event":"epoch"') && ++epochs === 1) setTimeout(kill, 150);
      },
    );
    expect(first.signal).toBe('SIGKILL');
    expect(existsSync(join(cwd, 'runs/k/report.json'))).toBe(false);
    const second = await run(['train', '--resume', 'runs/k', '--json'], cwd);
    expect(second.code).toBe(0);
    const events = second.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const done = events.find((e) => e.event === 'done');
    expect(done.resumedFrom).toBe(1);
    expect(events.filter((e) => e.event === 'epoch').map((e) => e.epoch)).toEqual([1, 2]);
    const report = JSON.parse(readFileSync(join(cwd, 'runs/k/report.json'), 'utf8'));
    expect(report.history.map((h: { epoch: number }) => h.epoch)).toEqual([0, 1, 2]);
  });

  it('sweeps methods × sparsities in parallel workers, resumably, with one summary', async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'grid.json'),
      JSON.stringify({
        model: 'lenet-300-100',
        dataset: 'synthetic:64',
        limit: 192,
        backend: 'cpu',
        batchSize: 64,
        epochs: 1,
        finetuneEpochs: 0,
        methods: ['none', 'magnitude', { name: 'gmp', set: { frequency: 1 } }],
        sparsities: [0.8],
        seeds: [0],
        jobs: 2,
      }),
    );
    const r = await run(['sweep', 'grid.json'], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sweep: 3 runs, 2 in parallel/);
    expect(r.stdout).toMatch(/^method\s+target\s+achieved/m);
    const sweep = JSON.parse(readFileSync(join(cwd, 'grid/sweep.json'), 'utf8'));
    expect(sweep.rows.map((x: { name: string }) => x.name).sort()).toEqual(['gmp-s80-seed0', 'magnitude-s80-seed0', 'none-s0-seed0']);
    const gmp = sweep.rows.find((x: { method: string }) => x.method === 'gmp');
    expect(gmp.sparsity).toBeGreaterThan(0.79);
    expect(readFileSync(join(cwd, 'grid/sweep.html'), 'utf8')).toContain('Accuracy vs sparsity per method');
    const again = await run(['sweep', 'grid.json'], cwd);
    expect(again.code).toBe(0);
    expect(again.stdout.match(/finished before: skipped/g)?.length).toBe(3);
  });
});
