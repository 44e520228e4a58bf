import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { resume, tensorData, train } from '../src/index.js';

// The portable entry (what a browser bundle gets) has no file system: runDir is refused up front.
describe('the portable train', () => {
  it('refuses runDir and resume, naming the Node entry, before touching the model', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    const x = tf.zeros([4, 3]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1], 'int32'), 2);
    const before = tf.memory().numTensors;
    const options = { model, data: { train: tensorData(x, y) }, epochs: 1, batchSize: 2, runDir: '/tmp/never-created' };
    await expect(train(options as never)).rejects.toThrow(/runDir "\/tmp\/never-created" needs a file system.*@sparsify\/train\/node/);
    await expect(resume('/tmp/never-created', options as never)).rejects.toThrow(/needs a file system/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    model.dispose();
  });
});
