import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  registerWasmTrainingKernels,
  setConvFilterGradMethod,
  setConvInputGradMethod,
  setConvMethod,
  setMatMulLayout,
  setWasmHeapLoops,
  unregisterWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
} from '../src/kernels/index.js';

/**
 * Each wasm training kernel against the cpu backend on seeded random data: same shape, max abs error
 * within 1e-5 of the largest reference magnitude (float32 sums in a different order), no leaked
 * tensors or backend buffers.
 */

type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

interface Comparison {
  maxAbs: number;
  rel: number;
}

async function onBackend(name: string, f: () => tf.Tensor): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(name);
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.backend().numDataIds();
  const out = tf.tidy(f);
  const values = (await out.data()) as Float32Array;
  const shape = out.shape.slice();
  out.dispose();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  expect(tf.backend().numDataIds()).toBe(buffersBefore);
  return { values: Float32Array.from(values), shape };
}

/** Runs `f` on cpu then wasm (inputs are created inside `f` from seeds, so both see the same data). */
async function compare(f: () => tf.Tensor): Promise<Comparison> {
  const cpu = await onBackend('cpu', f);
  const wasm = await onBackend('wasm', f);
  expect(wasm.shape).toEqual(cpu.shape);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < cpu.values.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(cpu.values[i] - wasm.values[i]));
    maxRef = Math.max(maxRef, Math.abs(cpu.values[i]));
    expect(Number.isFinite(wasm.values[i])).toBe(true);
  }
  return { maxAbs, rel: maxAbs / Math.max(maxRef, 1e-12) };
}

/** Bit-for-bit agreement (NaN matches NaN, ±∞ match), for kernels with exact results. */
async function expectIdentical(f: () => tf.Tensor, what: string): Promise<void> {
  const cpu = await onBackend('cpu', f);
  const wasm = await onBackend('wasm', f);
  expect(wasm.shape, what).toEqual(cpu.shape);
  const mismatch = Array.from(cpu.values).findIndex((v, i) => !Object.is(v, wasm.values[i]) && !(v === 0 && wasm.values[i] === 0));
  expect(mismatch, `${what}: first mismatch at ${mismatch}`).toBe(-1);
}

function expectClose(c: Comparison, rel = 1e-5): void {
  expect(c.rel).toBeLessThanOrEqual(rel);
}

/** tf.grad for functions of a rank-4 tensor. */
const grad4 = (f: (t: tf.Tensor4D) => tf.Tensor) => tf.grad((t: tf.Tensor) => f(t as tf.Tensor4D));

const normal = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

/** dL/dW of L = Σ conv(x, W) ⊙ r: exercises Conv2DBackpropFilter with a random dy. */
function convFilterGrad(xShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad, dilations = 1) {
  return () => {
    const x = normal(xShape, 1) as tf.Tensor4D;
    const w0 = normal(filterShape, 2) as tf.Tensor4D;
    const outShape = tf.conv2d(x, w0, strides, pad, 'NHWC', dilations).shape;
    const r = normal(outShape, 3);
    return grad4((w) => tf.sum(tf.mul(tf.conv2d(x, w, strides, pad, 'NHWC', dilations), r)))(w0);
  };
}

function convInputGrad(xShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad) {
  return () => {
    const x0 = normal(xShape, 4) as tf.Tensor4D;
    const w = normal(filterShape, 5) as tf.Tensor4D;
    const r = normal(tf.conv2d(x0, w, strides, pad).shape, 6);
    return grad4((x) => tf.sum(tf.mul(tf.conv2d(x, w, strides, pad), r)))(x0);
  };
}

function depthwiseGrad(
  which: 'filter' | 'input',
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: 'valid' | 'same',
  dilations: number | [number, number] = 1,
) {
  return () => {
    const x0 = normal(xShape, 7) as tf.Tensor4D;
    const w0 = normal(filterShape, 8) as tf.Tensor4D;
    const r = normal(tf.depthwiseConv2d(x0, w0, strides, pad, 'NHWC', dilations).shape, 9);
    const loss = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.sum(tf.mul(tf.depthwiseConv2d(x, w, strides, pad, 'NHWC', dilations), r));
    return which === 'filter' ? grad4((w) => loss(x0, w))(w0) : grad4((x) => loss(x, w0))(x0);
  };
}

const CONV_CASES: { x: number[]; f: number[]; s: number | [number, number]; p: Pad }[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, p: 'valid' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, p: 'same' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 2, p: 'same' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 2, p: 'valid' },
  { x: [3, 10, 7, 2], f: [4, 2, 2, 5], s: [3, 2], p: 'same' },
  {
    x: [2, 8, 8, 3],
    f: [3, 3, 3, 4],
    s: 1,
    p: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
  { x: [4, 28, 28, 1], f: [5, 5, 1, 6], s: 1, p: 'valid' }, // LeNet-5 conv1
  { x: [4, 12, 12, 6], f: [5, 5, 6, 16], s: 1, p: 'valid' }, // LeNet-5 conv2
  { x: [2, 6, 6, 3], f: [1, 1, 3, 8], s: 2, p: 'valid' }, // ResNet projection shortcut
  // CIFAR ResNet / VGG shapes, where the direct loops apply (co, and for dx ci, multiples of 8); widths
  // that are not a multiple of the loops' 4-position blocks.
  { x: [2, 8, 8, 8], f: [3, 3, 8, 16], s: 1, p: 'same' },
  { x: [2, 9, 7, 16], f: [3, 3, 16, 8], s: 2, p: 'same' },
  { x: [3, 7, 5, 8], f: [3, 3, 8, 8], s: 1, p: 'valid' },
  { x: [2, 6, 6, 16], f: [1, 1, 16, 24], s: 2, p: 'valid' },
];

const errors: Record<string, number> = {};
function record(kernel: string, c: Comparison): void {
  errors[kernel] = Math.max(errors[kernel] ?? 0, c.rel);
}

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
});

afterAll(() => {
  // The largest relative error seen per kernel, for the record.
  console.log('max relative error vs cpu:', errors);
});

describe('registerWasmTrainingKernels', () => {
  it('registers every kernel, idempotently, and can be undone', async () => {
    const stockMatMul = (() => {
      unregisterWasmTrainingKernels();
      return tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    })();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    const first = registerWasmTrainingKernels();
    const second = registerWasmTrainingKernels();
    expect(first).toEqual([...WASM_TRAINING_KERNELS]);
    expect(second).toEqual(first);
    expect(first).toEqual(
      expect.arrayContaining([
        'Conv2DBackpropFilter',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
        'UnsortedSegmentSum',
        'BatchMatMul',
      ]),
    );
    for (const name of first) expect(tf.getKernel(name, 'wasm')).toBeDefined();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(stockMatMul);
    unregisterWasmTrainingKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(stockMatMul);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    registerWasmTrainingKernels();
    // Still works after re-initialising the backend (setup functions of replaced kernels re-run).
    await tf.setBackend('cpu');
    await tf.setBackend('wasm');
    expectClose(await compare(() => tf.matMul(normal([20, 30], 1), normal([40, 30], 2), false, true)));
  });
});

/** The methods to check: the heap loops (im2col, col2im) both as WebAssembly SIMD and as JS. */
const withLoops = <M extends string>(methods: readonly M[], heapMethod: M) =>
  methods.flatMap((method) =>
    method === heapMethod ? (['simd', 'js'] as const).map((loops) => ({ method, loops })) : [{ method, loops: 'simd' as const }],
  );

describe('Conv2DBackpropFilter', () => {
  for (const { method, loops } of withLoops(['auto', 'conv', 'im2col', 'direct'] as const, 'im2col')) {
    for (const c of CONV_CASES) {
      it(`${method} (${loops}): x ${c.x} filter ${c.f} stride ${c.s} pad ${JSON.stringify(c.p)}`, async () => {
        setConvFilterGradMethod(method);
        setWasmHeapLoops(loops);
        try {
          const r = await compare(convFilterGrad(c.x, c.f, c.s, c.p));
          record('Conv2DBackpropFilter', r);
          expectClose(r);
        } finally {
          setConvFilterGradMethod('auto');
          setWasmHeapLoops('simd');
        }
      });
    }
  }
  it('NCHW data format', async () => {
    const r = await compare(
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: normal([2, 3, 9, 9], 1), dy: normal([2, 4, 5, 5], 2) },
            { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] },
          ) as tf.Tensor,
    );
    record('Conv2DBackpropFilter', r);
    expectClose(r);
  });
});

describe('Conv2DBackpropInput (replaces the stock scalar loop)', () => {
  for (const { method, loops } of withLoops(['auto', 'col2im', 'conv', 'direct'] as const, 'col2im')) {
    for (const c of CONV_CASES) {
      it(`${method} (${loops}): x ${c.x} filter ${c.f} stride ${c.s} pad ${JSON.stringify(c.p)}`, async () => {
        setConvInputGradMethod(method);
        setWasmHeapLoops(loops);
        try {
          const r = await compare(convInputGrad(c.x, c.f, c.s, c.p));
          record('Conv2DBackpropInput', r);
          expectClose(r);
        } finally {
          setConvInputGradMethod('auto');
          setWasmHeapLoops('simd');
        }
      });
    }
  }
  it('conv2dTranspose with NCHW-free explicit call', async () => {
    const r = await compare(() =>
      tf.conv2dTranspose(normal([2, 5, 5, 4], 1) as tf.Tensor4D, normal([3, 3, 2, 4], 2) as tf.Tensor4D, [2, 10, 10, 2], 2, 'same'),
    );
    expectClose(r);
  });
});

describe('Conv2D and FusedConv2D (the direct loop where co is a multiple of 8, else XNNPACK)', () => {
  for (const method of ['direct', 'xnnpack'] as const) {
    for (const c of CONV_CASES) {
      it(`${method}: x ${c.x} filter ${c.f} stride ${c.s} pad ${JSON.stringify(c.p)}, with and without bias`, async () => {
        setConvMethod(method);
        try {
          const conv = () => tf.conv2d(normal(c.x, 1) as tf.Tensor4D, normal(c.f, 2) as tf.Tensor4D, c.s, c.p);
          const fused = () =>
            tf.fused.conv2d({
              x: normal(c.x, 1) as tf.Tensor4D,
              filter: normal(c.f, 2) as tf.Tensor4D,
              strides: c.s,
              pad: c.p,
              bias: normal([c.f[3]], 3),
            });
          for (const f of [conv, fused]) {
            const r = await compare(f);
            record('Conv2D', r);
            expectClose(r);
          }
        } finally {
          setConvMethod('direct');
        }
      });
    }
  }
  it('dilation 2', async () => {
    const r = await compare(() =>
      tf.conv2d(normal([2, 9, 9, 8], 1) as tf.Tensor4D, normal([3, 3, 8, 8], 2) as tf.Tensor4D, 1, 'same', 'NHWC', 2),
    );
    record('Conv2D', r);
    expectClose(r);
  });
  it('an activation other than linear goes to the stock kernel, with the same result', async () => {
    const r = await compare(() =>
      tf.fused.conv2d({
        x: normal([2, 6, 6, 8], 1) as tf.Tensor4D,
        filter: normal([3, 3, 8, 8], 2) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        activation: 'relu',
      }),
    );
    expectClose(r);
  });
});

describe('DepthwiseConv2dNativeBackpropFilter / BackpropInput', () => {
  const cases: { x: number[]; f: number[]; s: number; p: 'valid' | 'same' }[] = [
    { x: [2, 9, 9, 3], f: [3, 3, 3, 1], s: 1, p: 'same' },
    { x: [2, 9, 9, 3], f: [3, 3, 3, 2], s: 2, p: 'same' },
    { x: [2, 9, 9, 3], f: [3, 3, 3, 2], s: 2, p: 'valid' },
    { x: [3, 8, 8, 4], f: [5, 5, 4, 1], s: 1, p: 'valid' },
  ];
  for (const c of cases) {
    for (const which of ['filter', 'input'] as const) {
      it(`${which}: x ${c.x} filter ${c.f} stride ${c.s} pad ${c.p}`, async () => {
        const r = await compare(depthwiseGrad(which, c.x, c.f, c.s, c.p));
        record(which === 'filter' ? 'DepthwiseConv2dNativeBackpropFilter' : 'DepthwiseConv2dNativeBackpropInput', r);
        expectClose(r);
      });
    }
  }

  it('dilation 2 (tfjs-core has no gradient for it and the cpu kernels ignore it; reference: zero-inserted filter)', async () => {
    const [fh, fw, c, m] = [3, 3, 2, 3];
    const xShape = [2, 10, 10, c];
    const dyShape = [2, 10, 10, c * m];
    const attrs = { strides: 1, pad: 'same', dilations: 2 };
    // The dilated 3×3 filter as a 5×5 filter with zeros between taps.
    const expand = (w: tf.Tensor) =>
      tf.reshape(
        tf.pad(tf.reshape(w, [fh, 1, fw, 1, c, m]), [
          [0, 0],
          [0, 1],
          [0, 0],
          [0, 1],
          [0, 0],
          [0, 0],
        ]),
        [2 * fh, 2 * fw, c, m],
      );
    const dense = (w: tf.Tensor) => tf.slice(expand(w), [0, 0, 0, 0], [2 * fh - 1, 2 * fw - 1, c, m]) as tf.Tensor4D;
    await tf.setBackend('cpu');
    const x = normal(xShape, 1) as tf.Tensor4D;
    const w = normal([fh, fw, c, m], 2) as tf.Tensor4D;
    const dy = normal(dyShape, 3) as tf.Tensor4D;
    const refFilter = tf.tidy(() => {
      const g = grad4((big) => tf.sum(tf.mul(tf.depthwiseConv2d(x, big, 1, 'same'), dy)))(dense(w));
      return tf.stridedSlice(g, [0, 0, 0, 0], [2 * fh - 1, 2 * fw - 1, c, m], [2, 2, 1, 1]);
    });
    const refInput = tf.tidy(() => grad4((xx) => tf.sum(tf.mul(tf.depthwiseConv2d(xx, dense(w), 1, 'same'), dy)))(x));
    const expected = { filter: await refFilter.data(), input: await refInput.data() };
    await tf.setBackend('wasm');
    const got = {
      filter: await (
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [fh, fw, c, m] }) as tf.Tensor
      ).data(),
      input: await (
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape }) as tf.Tensor
      ).data(),
    };
    for (const k of ['filter', 'input'] as const) {
      expect(got[k].length).toBe(expected[k].length);
      let scale = 0;
      for (const v of expected[k]) scale = Math.max(scale, Math.abs(v));
      got[k].forEach((v, i) => expect(Math.abs(v - expected[k][i])).toBeLessThanOrEqual(1e-5 * scale));
    }
    tf.dispose([x, w, dy, refFilter, refInput]);
  });
});

describe('UnsortedSegmentSum (gradient of gather)', () => {
  it('sums duplicate ids (embedding gradient)', async () => {
    const r = await compare(() => {
      const table = normal([10, 4], 1);
      const ids = tf.tensor1d([1, 3, 3, 0, 9, 1, 1], 'int32');
      return tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, ids))))(table);
    });
    record('UnsortedSegmentSum', r);
    expect(r.maxAbs).toBe(0);
  });
  it('rank-3 data, ids out of range are dropped as on cpu', async () => {
    const r = await compare(() => tf.unsortedSegmentSum(normal([7, 3, 2], 2), tf.tensor1d([1, -1, 3, 12, 4, 1, 1], 'int32'), 5));
    expectClose(r);
  });
  it('gather along axis 1 with a rank-2 index tensor', async () => {
    const r = await compare(() => {
      const p = normal([3, 6, 2], 3);
      const ids = tf.tensor2d(
        [
          [0, 5],
          [5, 2],
        ],
        [2, 2],
        'int32',
      );
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids, 1), normal([3, 2, 2, 2], 4))))(p);
    });
    expectClose(r);
  });
});

describe('MaxPoolGrad (replaces the stock kernel)', () => {
  const cases: [number, number, 'valid' | 'same'][] = [
    [2, 2, 'valid'],
    [2, 2, 'same'],
    [3, 2, 'same'],
    [3, 1, 'same'],
    [3, 2, 'valid'],
  ];
  for (const [size, stride, pad] of cases) {
    for (const input of ['relu (ties at 0)', 'normal (negative windows)'] as const) {
      it(`pool ${size} stride ${stride} ${pad}, ${input}`, async () => {
        const r = await compare(() => {
          const x0 = input.startsWith('relu') ? tf.relu(normal([3, 7, 9, 4], 11)) : normal([3, 7, 9, 4], 12);
          const dy = normal(tf.maxPool(x0 as tf.Tensor4D, size, stride, pad).shape, 13);
          return grad4((x) => tf.sum(tf.mul(tf.maxPool(x, size, stride, pad), dy)))(x0 as tf.Tensor4D);
        });
        record('MaxPoolGrad', r);
        expect(r.rel).toBeLessThanOrEqual(1e-6);
      });
    }
  }
  it('2×2 stride 2 (the unrolled path): −∞, NaN, ties and signed zeros as the cpu backend', async () => {
    const inf = Number.POSITIVE_INFINITY;
    // One image of 2×4 windows, one channel: −∞ only; NaN then numbers; NaN only; a tie at the max;
    // +0 before −0; +∞ twice; a negative window; −∞ beside a number. dy = 1…8 in window order.
    const windows = [
      [-inf, -inf, -inf, -inf],
      [NaN, 1, 3, 3],
      [NaN, NaN, NaN, NaN],
      [2, 5, 5, 1],
      [0, -0, -1, -2],
      [inf, 1, inf, 2],
      [-3, -2, -2.5, -4],
      [-inf, -inf, -7, -inf],
    ];
    // The gradient each window passes, by position within the window: the first strict maximum.
    const expectedByWindow = [
      [0, 0, 0, 0],
      [0, 0, 2, 0],
      [0, 0, 0, 0],
      [0, 4, 0, 0],
      [5, 0, 0, 0],
      [6, 0, 0, 0],
      [0, 7, 0, 0],
      [0, 0, 8, 0],
    ];
    const layout = (perWindow: number[][]) => {
      const out: number[] = [];
      for (let r = 0; r < 4; r++) for (let col = 0; col < 8; col++) out.push(perWindow[(r >> 1) * 4 + (col >> 1)][(r & 1) * 2 + (col & 1)]);
      return out;
    };
    const f = () => {
      const x = tf.tensor4d(layout(windows), [1, 4, 8, 1]);
      const dy = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 4, 1]);
      return grad4((v) => tf.sum(tf.mul(tf.maxPool(v, 2, 2, 'valid'), dy)))(x);
    };
    const expected = layout(expectedByWindow);
    expect(Array.from((await onBackend('cpu', f)).values)).toEqual(expected);
    expect(Array.from((await onBackend('wasm', f)).values)).toEqual(expected);
    // The same windows in 9 channels (each channel's windows rotated by its index), so that the SIMD
    // loop meets them four channels at a time and in its one-channel tail: wasm's SIMD and JS loops
    // agree with cpu exactly.
    const channels = 9;
    const rotated = (c: number) => windows.map((_, k) => windows[(k + c) % windows.length]);
    const g = () => {
      const perChannel = Array.from({ length: channels }, (_, c) => layout(rotated(c)));
      const x = tf.tensor4d(
        perChannel[0].flatMap((_, i) => perChannel.map((v) => v[i])),
        [1, 4, 8, channels],
      );
      const dy = normal([1, 2, 4, channels], 21);
      return grad4((v) => tf.sum(tf.mul(tf.maxPool(v, 2, 2, 'valid'), dy)))(x);
    };
    const want = Array.from((await onBackend('cpu', g)).values);
    for (const loops of ['simd', 'js'] as const) {
      setWasmHeapLoops(loops);
      try {
        expect(Array.from((await onBackend('wasm', g)).values), loops).toEqual(want);
      } finally {
        setWasmHeapLoops('simd');
      }
    }
  });
  it('the stock 4.22 kernel passes no gradient through windows whose max is ≤ 0 (why it is replaced)', async () => {
    const f = () => {
      const x = tf.tensor4d([-1, -2, 1, 2, -3, -4, 3, 4, 0, 0, 0, 0, -5, 0, 0, -1], [1, 4, 4, 1]);
      const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      return grad4((v) => tf.sum(tf.mul(tf.maxPool(v, 2, 2, 'valid'), dy)))(x);
    };
    const expected = [1, 0, 0, 0, 0, 0, 0, 2, 3, 0, 4, 0, 0, 0, 0, 0];
    expect(Array.from((await onBackend('cpu', f)).values)).toEqual(expected);
    expect(Array.from((await onBackend('wasm', f)).values)).toEqual(expected);
    unregisterWasmTrainingKernels();
    try {
      expect(Array.from((await onBackend('wasm', f)).values)).not.toEqual(expected);
    } finally {
      registerWasmTrainingKernels();
    }
  });
});

describe('BatchMatMul / _FusedMatMul on the fast path', () => {
  const flags: [boolean, boolean][] = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];
  for (const layout of ['auto', 'direct', 'swapped'] as const) {
    for (const [tA, tB] of flags) {
      it(`${layout}: transposeA ${tA} transposeB ${tB}, rank 2, batched, broadcast, fused`, async () => {
        setMatMulLayout(layout);
        try {
          const a = (batch: number[]) => normal([...batch, ...(tA ? [70, 50] : [50, 70])], 1);
          const b = (batch: number[]) => normal([...batch, ...(tB ? [30, 70] : [70, 30])], 2);
          for (const [ba, bb] of [
            [[], []],
            [[3], [3]],
            [[2, 3], [1]],
            [[1], [4]],
          ] as number[][][]) {
            const r = await compare(() => tf.matMul(a(ba), b(bb), tA, tB));
            record('BatchMatMul', r);
            expectClose(r);
          }
          for (const activation of ['linear', 'relu', 'elu'] as const) {
            const r = await compare(() =>
              tf.fused.matMul({ a: a([]), b: b([]), transposeA: tA, transposeB: tB, bias: normal([30], 3), activation }),
            );
            record('_FusedMatMul', r);
            expectClose(r);
          }
        } finally {
          setMatMulLayout('auto');
        }
      });
    }
  }
  it('gradients of a dense layer (both backward products)', async () => {
    const r = await compare(() => {
      const x = normal([128, 784], 1);
      const w0 = normal([784, 30], 2);
      return tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.matMul(x, w)))))(w0);
    });
    expectClose(r);
  });
  it('tiny products (and many small batched ones) stay on the stock kernel and agree', async () => {
    expectClose(await compare(() => tf.matMul(normal([3, 4], 1), normal([5, 4], 2), false, true)));
    expectClose(await compare(() => tf.matMul(normal([64, 8, 16], 1), normal([64, 12, 16], 2), false, true)));
  });
});

describe('broadcasting comparisons and Maximum/Minimum', () => {
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['Equal', tf.equal],
    ['NotEqual', tf.notEqual],
    ['Greater', tf.greater],
    ['GreaterEqual', tf.greaterEqual],
    ['Less', tf.less],
    ['LessEqual', tf.lessEqual],
    ['Maximum', tf.maximum],
    ['Minimum', tf.minimum],
  ];
  const shapes: [number[], number[]][] = [
    [
      [1, 30],
      [20, 30],
    ],
    [
      [20, 1],
      [20, 30],
    ],
    [[20, 30], [30]],
    [
      [2, 1, 4, 1],
      [3, 1, 5],
    ],
    [
      [4, 1, 6],
      [4, 5, 1],
    ],
    [
      [20, 30],
      [20, 30],
    ],
    [[], [20, 30]],
    [
      [1, 1],
      [5, 6],
    ],
  ];
  // Rounded values so that equal pairs occur; NaN and ±∞ where the semantics differ most easily.
  const data = (shape: number[], seed: number, dtype: 'float32' | 'int32') =>
    tf.tidy(() => {
      const v = tf.round(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), 2));
      if (dtype === 'int32') return tf.cast(v, 'int32');
      const size = shape.reduce((p, d) => p * d, 1);
      const special = tf.pad(tf.tensor1d([NaN, Infinity, -Infinity, 0].slice(0, size)), [[0, Math.max(0, size - 4)]]);
      return tf.where(tf.less(tf.reshape(tf.range(0, size), shape), 2 + seed), tf.reshape(special, shape), v);
    });
  for (const [name, op] of ops) {
    it(`${name}: float32 (with NaN, ±∞) and int32, several broadcast patterns`, async () => {
      for (const [sa, sb] of shapes) {
        for (const dtype of ['float32', 'int32'] as const) {
          await expectIdentical(() => tf.cast(op(data(sa, 1, dtype), data(sb, 2, dtype)), 'float32'), `${sa} vs ${sb} ${dtype}`);
        }
      }
    });
  }
  it('bool operands', async () => {
    const r = await compare(() => tf.cast(tf.equal(tf.greater(normal([4, 1], 1), 0), tf.greater(normal([1, 5], 2), 0)), 'float32'));
    expect(r.maxAbs).toBe(0);
  });
});

describe('Sign (replaces the stock scalar loop)', () => {
  it('float32: bit-identical to cpu (±0 and NaN to +0; ±∞ and denormals to ±1)', async () => {
    const special = [0, -0, NaN, -NaN, Infinity, -Infinity, 1e-45, -1e-45, 1.2e-38, -3.4e38, 1, -1, 0.5];
    await expectIdentical(() => tf.sign(tf.tensor1d(special)), 'special values');
    const values = Array.from((await onBackend('wasm', () => tf.sign(tf.tensor1d(special)))).values);
    expect(values.map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual([0, 0, 0, 0, 1, -1, 1, -1, 1, -1, 1, -1, 1]);
    await expectIdentical(() => tf.sign(tf.round(tf.mul(normal([37, 41], 3), 2))), 'random with zeros');
  });
  it('int32 and a scalar', async () => {
    await expectIdentical(() => tf.cast(tf.sign(tf.tensor1d([-3, 0, 7], 'int32')), 'float32'), 'int32');
    await expectIdentical(() => tf.sign(tf.scalar(-2.5)), 'scalar');
  });
  it('keeps the gradient of safeAbs-style sign(w)·dy finite and exact at 0', async () => {
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.abs(w), tf.sign(w))));
    expectClose(await compare(() => g(tf.tensor1d([0, -2, 3, -0.5]))));
  });
});

describe('Identity (shares data instead of copying)', () => {
  it('a clone shares its buffer, outlives the original, and frees it with the last reference', async () => {
    await tf.setBackend('wasm');
    const buffers = tf.backend().numDataIds();
    const x = tf.tensor2d([1, -2, 0, 4.5, -0, 6], [2, 3]);
    const copy = tf.clone(x);
    expect(tf.backend().numDataIds()).toBe(buffers + 1); // one buffer, two tensors
    x.dispose();
    expect(Array.from(copy.dataSync()).map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual([1, -2, 0, 4.5, '-0', 6]);
    copy.dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
  });

  it('a variable assigned after a clone keeps the clone unchanged', async () => {
    await tf.setBackend('wasm');
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const before = tf.clone(v);
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(before.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    tf.dispose([v, before]);
  });

  it('strings stay on the stock kernel', async () => {
    await tf.setBackend('wasm');
    const s = tf.tensor1d(['a', 'bc']);
    const c = tf.clone(s);
    expect(c.dataSync()).toEqual(['a', 'bc']);
    tf.dispose([s, c]);
  });
});

describe('Sum over leading axes', () => {
  for (const loops of ['simd', 'js'] as const) {
    for (const axis of [[0], [0, 1], [0, 1, 2], [1], [3], [0, 3], [2, 3]]) {
      it(`axis ${axis} (${loops})`, async () => {
        setWasmHeapLoops(loops);
        try {
          for (const keepDims of [false, true]) {
            const r = await compare(() => tf.sum(normal([5, 6, 7, 8], 14), axis, keepDims));
            record('Sum', r);
            expectClose(r);
          }
          // Rows in several blocks of 256 and a row width that is not a multiple of 4.
          const r = await compare(() => tf.sum(normal([64, 9, 9, 5], 15), [0, 1, 2]));
          record('Sum', r);
          expectClose(r);
        } finally {
          setWasmHeapLoops('simd');
        }
      });
    }
  }
  it('int32 stays on the stock kernel', async () => {
    const r = await compare(() => tf.cast(tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0), 'float32'));
    expect(r.maxAbs).toBe(0);
  });
});
