import { setFlagsFromString } from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relaxedSimdSupported, setRelaxedSimd, usesRelaxedSimd } from '../src/accelerate/loop-kernels.js';
import { CONV2D_WASM } from '../src/kernels/conv2d.wasm.js';
import { FILTERGRAD_WASM } from '../src/kernels/filter-grad.wasm.js';
import { registerWasmTrainingKernels, setConvFilterGradMethod, setConvInputGradMethod, setConvMethod } from '../src/kernels/index.js';

/**
 * The direct conv loops' relaxed-SIMD variants (f32x4.relaxed_madd) against their plain-SIMD modules
 * and the cpu backend, on the shapes where the direct loops run. Node 20 compiles relaxed SIMD only
 * with `--experimental-wasm-relaxed-simd`: this file sets that V8 flag before any module is compiled.
 */

const normal = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

const CASES: { x: number[]; f: number[]; s: number; p: 'same' | 'valid' }[] = [
  { x: [2, 8, 8, 8], f: [3, 3, 8, 16], s: 1, p: 'same' },
  { x: [2, 9, 7, 16], f: [3, 3, 16, 8], s: 2, p: 'same' },
  { x: [3, 7, 5, 8], f: [3, 3, 8, 8], s: 1, p: 'valid' },
  { x: [2, 6, 6, 16], f: [1, 1, 16, 24], s: 2, p: 'valid' },
  { x: [4, 16, 16, 3], f: [3, 3, 3, 16], s: 1, p: 'same' }, // the CIFAR stem
];

/** The forward conv, dx and dW of one case, as one flat array (all three run the direct loops). */
function convAndGrads(c: (typeof CASES)[number]): () => tf.Tensor {
  return () => {
    const x = normal(c.x, 1) as tf.Tensor4D;
    const f = normal(c.f, 2) as tf.Tensor4D;
    const loss = (xi: tf.Tensor, fi: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.s, c.p), 0.5));
    const [dx, df] = tf.grads(loss)([x, f]);
    return tf.concat([tf.conv2d(x, f, c.s, c.p).flatten(), dx.flatten(), df.flatten()]);
  };
}

async function run(backend: string, relaxed: boolean, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  setRelaxedSimd(relaxed);
  const before = tf.memory().numTensors;
  const out = tf.tidy(f);
  const values = Float32Array.from(await out.data());
  out.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return values;
}

/** max |a − b| over max |ref|. */
function relError(a: Float32Array, b: Float32Array, ref: Float32Array): number {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return maxAbs / scale;
}

beforeAll(async () => {
  setFlagsFromString('--experimental-wasm-relaxed-simd'); // on by default from Node 22 (V8 11.4)
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
  setConvMethod('direct');
  setConvFilterGradMethod('direct');
  setConvInputGradMethod('direct');
});

afterAll(() => {
  setRelaxedSimd(true);
  setConvMethod('direct');
  setConvFilterGradMethod('auto');
  setConvInputGradMethod('auto');
});

describe('relaxed SIMD conv loops', () => {
  it('are compiled for the direct conv and filter-gradient loops, and detected here', () => {
    expect(relaxedSimdSupported(true)).toBe(true);
    for (const code of [CONV2D_WASM, FILTERGRAD_WASM]) {
      expect(code.relaxed).toBeDefined();
      expect(code.relaxed!.plain).not.toBe(code.plain);
      expect(usesRelaxedSimd(code)).toBe(true);
    }
    setRelaxedSimd(false);
    expect(usesRelaxedSimd(CONV2D_WASM)).toBe(false);
    setRelaxedSimd(true);
  });

  for (const c of CASES) {
    it(`equal the plain-SIMD loops and cpu to float32 rounding: x ${c.x} filter ${c.f} stride ${c.s} ${c.p}`, async () => {
      const f = convAndGrads(c);
      const cpu = await run('cpu', true, f);
      const plain = await run('wasm', false, f);
      const relaxed = await run('wasm', true, f);
      console.log(
        `relaxed vs plain: ${relError(relaxed, plain, cpu).toExponential(2)}, relaxed vs cpu: ${relError(relaxed, cpu, cpu).toExponential(2)}, plain vs cpu: ${relError(plain, cpu, cpu).toExponential(2)}`,
      );
      expect(relError(relaxed, plain, cpu)).toBeLessThanOrEqual(1e-5);
      expect(relError(relaxed, cpu, cpu)).toBeLessThanOrEqual(1e-5);
    });
  }
});
