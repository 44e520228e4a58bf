import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adaptiveLasso } from '@sparsify/adaptive-lasso';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTestBackend } from '../../../tools/testing/backends.js';
import { CHECKPOINT_FILE, resume, train } from '../src/index.node.js';
import { tinyData, tinyModel, weightsOf } from './helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sparsify-penalty-state-'));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  await useTestBackend();
});

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('resume restores penalty state (getState/setState)', () => {
  it('adaptiveLasso (warmupEpochs 1): 3 epochs straight equal 2 epochs + resume + 1 epoch', async () => {
    const run = async (dir: string, stopAfterEpochs?: number) => {
      const model = tinyModel(5);
      const data = tinyData(96, 7);
      const penalty = adaptiveLasso({ strength: 1e-2, warmupEpochs: 1 });
      const options = {
        model,
        data,
        epochs: 3,
        batchSize: 24,
        seed: 2,
        penalties: [penalty],
        optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } } as const,
        runDir: dir,
      };
      const result = stopAfterEpochs
        ? await train({ ...options, stopAfterEpochs })
        : await (readdirSync(dir).includes(CHECKPOINT_FILE) ? resume(dir, options) : train(options));
      const weights = weightsOf(model);
      const estimateEpoch = penalty.estimateEpoch;
      penalty.dispose();
      model.dispose();
      data.dispose();
      return { result, weights, estimateEpoch };
    };
    const straight = await run(tempDir());
    expect(straight.estimateEpoch).toBe(0);
    // Cut after epoch 2: the snapshot from the end of epoch 0 must come back from the checkpoint, not be
    // re-estimated from the epoch-1 weights at resume.
    const dir = tempDir();
    const first = await run(dir, 2);
    expect(first.result.status).toBe('interrupted');
    const second = await run(dir);
    expect(second.result.status).toBe('completed');
    expect(second.result.resumedFrom).toBe(2);
    expect(second.estimateEpoch).toBe(0);
    second.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(straight.weights[i])));
  });
});
