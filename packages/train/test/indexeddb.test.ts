import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_DATABASE, CheckpointError, deleteStoredRun, resume, storedRuns, train, type TrainOptions } from '../src/index.js';
import type { LoopCheckpoint } from '../src/loop-checkpoint.js';
import { INDEXEDDB_RUN_FILES } from '../src/run-files-indexeddb.js';
import { TestScaled, resumeTestOptions, tinyData, tinyModel, weightsOf } from './helpers.js';

// The portable entry where IndexedDB exists (a browser; here fake-indexeddb): runDir names a run
// whose checkpoints are IndexedDB records. tools/scripts/browser-test.mjs runs the same in Chromium.
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(async () => {
  for (const run of await storedRuns()) await deleteStoredRun(run);
});

/** The resume test's run of train.test.ts: momentum, a penalty with variables, pruning, an Adam fine-tune. */
async function run(runDir: string | undefined, extra: Partial<TrainOptions> = {}) {
  const before = tf.memory().numTensors;
  const model = tinyModel(11);
  const data = tinyData(160, 9);
  const penalty = new TestScaled({ strength: 1e-3 });
  const options = { ...resumeTestOptions(model, data, penalty), ...extra };
  const result =
    runDir === undefined
      ? await train(options)
      : extra.stopAfterEpochs
        ? await train({ ...options, runDir })
        : await resume(runDir, options);
  const weights = weightsOf(model);
  penalty.dispose();
  model.dispose();
  data.dispose();
  return { result, weights, leaked: tf.memory().numTensors - before };
}

describe('checkpoints in IndexedDB (portable train)', () => {
  it('resumes exactly: 4 epochs straight equal an interrupted run resumed from IndexedDB', async () => {
    const straight = await run(undefined);
    for (const cut of [1, 3]) {
      const name = `exact-${cut}`;
      const paths: string[] = [];
      const first = await run(name, { stopAfterEpochs: cut, callbacks: { onCheckpoint: ({ path }) => void paths.push(path) } });
      expect(first.result.status).toBe('interrupted');
      expect(paths.at(-1)).toBe(`indexeddb://${CHECKPOINT_DATABASE}/${name}/checkpoint.bin`);
      // A new loop (as after a page reload): the model, data and penalty are built again.
      const second = await run(name);
      expect(second.result.status).toBe('completed');
      expect(second.result.resumedFrom).toBe(cut);
      expect(second.result.history.length).toBe(4);
      second.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(straight.weights[i])));
      expect(second.result.accuracy).toEqual(straight.result.accuracy);
      expect(second.leaked).toBe(0);
    }
    expect(await storedRuns()).toEqual(expect.arrayContaining(['exact-1', 'exact-3']));
  });

  it('refuses a second run into a stored run unless resuming, and a run in use; deleteStoredRun starts over', async () => {
    const model = tinyModel();
    const data = tinyData(64);
    const options = { model, data, epochs: 1, batchSize: 32, runDir: 'taken' };
    await train(options);
    await expect(train(options)).rejects.toThrow('IndexedDB run "taken" already has checkpoint.bin; pass resume: true');
    await expect(resume('never-ran', options)).rejects.toThrow(
      'resume needs a run with checkpoint.bin; IndexedDB run "never-ran" has none',
    );
    // Two runs at once into one name: the second is refused while the first holds the lock.
    const busy = { ...options, runDir: 'busy', epochs: 2 };
    const first = train(busy);
    await expect(train(busy)).rejects.toThrow('IndexedDB run "busy" is in use by another training run');
    expect((await first).status).toBe('completed');
    expect(await deleteStoredRun('taken')).toBe(true);
    expect(await deleteStoredRun('taken')).toBe(false);
    expect((await train(options)).status).toBe('completed');
    await expect(train({ ...options, runDir: '' })).rejects.toThrow(/runDir must name the run/);
    model.dispose();
    data.dispose();
  });

  it('a checkpoint is written whole or not at all; a damaged one falls back to the previous', async () => {
    const model = tinyModel();
    const data = tinyData(64);
    await train({ model, data, epochs: 2, batchSize: 32, runDir: 'atomic' });
    const stored = await INDEXEDDB_RUN_FILES.readRunCheckpoint('atomic');
    expect(stored?.value.epoch).toBe(2);
    // A value IndexedDB cannot store (a function): the transaction aborts, the checkpoint is untouched.
    const bad = { ...stored!.value, epoch: 3, pruner: { f: () => 1 } } as unknown as LoopCheckpoint;
    const error = await Promise.resolve(INDEXEDDB_RUN_FILES.writeCheckpoint('atomic', bad)).catch((e) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/checkpoint\.bin: the checkpoint was not written, the one before is kept \(DataCloneError/);
    const after = await INDEXEDDB_RUN_FILES.readRunCheckpoint('atomic');
    expect(after?.value.epoch).toBe(2);
    expect(after?.fallback).toBeUndefined();
    // A damaged last record (weights of the wrong length): resume goes on from the previous one, says so, sets it aside.
    await INDEXEDDB_RUN_FILES.writeCheckpoint('atomic', { ...stored!.value, model: [new Float32Array(3)] });
    const warnings: string[] = [];
    const resumed = await resume('atomic', {
      model,
      data,
      epochs: 2,
      batchSize: 32,
      callbacks: { onWarning: (w) => void warnings.push(w) },
    });
    expect(resumed.status).toBe('completed');
    expect(resumed.resumedFrom).toBe(2);
    expect(warnings[0]).toMatch(
      /^checkpoint corrupt: indexeddb:\/\/sparsify-runs\/atomic\/checkpoint\.bin: model must be a list of 4 tensors' values/,
    );
    expect(warnings[0]).toContain('the damaged file is kept as indexeddb://sparsify-runs/atomic/checkpoint.corrupt.bin');
    model.dispose();
    data.dispose();
  });
});
