import * as tf from '@tensorflow/tfjs';
import { registerSparsifyKernels, unregisterSparsifyKernels } from '@sparsify/backend/node';
import { setConvInputGradMethod, setMatMulLayout, setWasmHeapLoops } from '../../../packages/backend/src/kernels/index.js';
import { CONFIGS } from './configs.js';
import { summarize, type Timing } from './measure.js';
import { WORKLOADS } from './models.js';
import { interleave, Runner } from './runner.js';

export interface AvenueRow {
  avenue: string;
  variant: string;
  workload: string;
  timing?: Timing;
  samplesPerSecCpu?: number;
  /** Median CPU step time relative to the first variant of the avenue. */
  ratio?: number;
  error?: string;
}

const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotNormal({ seed }) });

/** LeNet-300-100 with the activations as separate layers: plain matMul + bias add + relu (no fused kernel). */
function unfusedMlp(seed: number): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 300, inputShape: [784], ...init(seed) }));
  m.add(tf.layers.activation({ activation: 'relu' }));
  m.add(tf.layers.dense({ units: 100, ...init(seed + 1) }));
  m.add(tf.layers.activation({ activation: 'relu' }));
  m.add(tf.layers.dense({ units: 10, ...init(seed + 2) }));
  return m;
}

/** The same LeNet-300-100 math written with functional ops on the model's variables (no layers machinery). */
function functionalMlp(model: tf.LayersModel): (x: tf.Tensor) => tf.Tensor {
  const [w1, b1, w2, b2, w3, b3] = model.trainableWeights.map((w) => w.read());
  return (x) => {
    const h1 = tf.fused.matMul({ a: x as tf.Tensor2D, b: w1 as tf.Tensor2D, bias: b1, activation: 'relu' });
    const h2 = tf.fused.matMul({ a: h1, b: w2 as tf.Tensor2D, bias: b2, activation: 'relu' });
    return tf.fused.matMul({ a: h2, b: w3 as tf.Tensor2D, bias: b3 });
  };
}

/**
 * Dense + bias + ReLU as one `_FusedMatMul` kernel also while training. tfjs-core only fuses the
 * activation when no gradient is being recorded (`shouldFuse`), so a Dense ReLU layer trains as
 * matMul + add + relu; this wraps the fused kernel in a custom gradient (dx = g·Wᵀ, dW = xᵀ·g,
 * db = Σ g, g = dy ⊙ step(y)).
 */
const denseRelu = tf.customGrad((...args: unknown[]) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  // The kernel takes rank-3 operands (tf.fused.matMul reshapes before calling it; the stock wasm
  // kernel reads shape[2] unchecked).
  const y3 = tf
    .engine()
    .runKernel(
      '_FusedMatMul',
      { a: tf.reshape(x, [1, ...x.shape]), b: tf.reshape(w, [1, ...w.shape]), bias: b },
      { transposeA: false, transposeB: false, activation: 'relu' },
    ) as tf.Tensor3D;
  const y = tf.reshape(y3, [x.shape[0], w.shape[1]]) as tf.Tensor2D;
  save([x, w, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sx, sw, sy] = saved as tf.Tensor2D[];
      const g = tf.mul(dy as tf.Tensor2D, tf.step(sy));
      return [tf.matMul(g, sw, false, true), tf.matMul(sx, g, true, false), tf.sum(g, 0)];
    },
  };
});

function fusedTrainingMlp(model: tf.LayersModel): (x: tf.Tensor) => tf.Tensor {
  const [w1, b1, w2, b2, w3, b3] = model.trainableWeights.map((w) => w.read());
  return (x) => {
    const h1 = denseRelu(x, w1, b1);
    const h2 = denseRelu(h1, w2, b2);
    return tf.fused.matMul({ a: h2 as tf.Tensor2D, b: w3 as tf.Tensor2D, bias: b3 });
  };
}

/** Ops per step: kernels run and tensors created in one training step (tf.profile). */
export async function opsPerStep(runner: Runner): Promise<{ kernels: number; newTensors: number }> {
  const info = await tf.profile(() => {
    runner.step(false);
  });
  return { kernels: info.kernels.length, newTensors: info.newTensors };
}

/**
 * Variants measured side by side on wasm with the sparsify kernels: each avenue's first variant is
 * the shipped default.
 */
export async function measureAvenues(
  warmup: number,
  steps: number,
  convSteps: number,
  log: (s: string) => void,
): Promise<{ rows: AvenueRow[]; ops: Record<string, { kernels: number; newTensors: number }> }> {
  const mlp = WORKLOADS['lenet-300-100'];
  const lenet5 = WORKLOADS['lenet-5-caffe'];
  const wasm = CONFIGS.wasm;
  const groups: { avenue: string; runners: Runner[]; convs?: boolean }[] = [
    {
      avenue: 'transposed matMul rewrite layout',
      runners: (['auto', 'direct', 'swapped'] as const).map(
        (layout) => new Runner(mlp, wasm, { label: layout, beforeStep: () => setMatMulLayout(layout) }),
      ),
    },
    {
      avenue: 'forward: fused matMul+bias+relu',
      runners: [
        new Runner(mlp, wasm, { label: 'Dense(relu): unfused while training' }),
        new Runner(mlp, wasm, { label: 'Activation layers (unfused)', build: unfusedMlp }),
        new Runner(mlp, wasm, { label: '_FusedMatMul+relu in training (customGrad)', forward: fusedTrainingMlp }),
      ],
    },
    {
      avenue: 'fewer tensors per step: layers apply vs functional forward',
      runners: [
        new Runner(mlp, wasm, { label: 'model.apply' }),
        new Runner(mlp, wasm, { label: 'functional ops', forward: functionalMlp }),
      ],
    },
    {
      avenue: 'optimizer update: the momentum kernel (one pass per variable) vs tfjs ops',
      runners: [
        new Runner(mlp, wasm, { label: 'fused (one pass per variable)', beforeStep: registerSparsifyKernels }),
        new Runner(mlp, wasm, { label: "tfjs's MomentumOptimizer ops", beforeStep: unregisterSparsifyKernels }),
      ],
    },
    {
      avenue: 'TrainStep skipInputGradients: first conv as conv2d + bias (no gradient for the input batch) vs model.apply as is',
      convs: true,
      runners: [
        new Runner(lenet5, wasm, { label: 'skip (default)' }),
        new Runner(lenet5, wasm, { label: 'model.apply as is', skipInputGradients: false }),
      ],
    },
    {
      avenue: "wasm kernels' heap loops (im2col, col2im, Sum, MaxPoolGrad): WebAssembly SIMD vs JS",
      convs: true,
      runners: (['simd', 'js'] as const).map(
        (loops) => new Runner(lenet5, wasm, { label: loops, beforeStep: () => setWasmHeapLoops(loops) }),
      ),
    },
    {
      avenue: 'Conv2DBackpropInput: auto (col2im unless the padded-dy conv wastes no work) vs GEMM + col2im vs conv of padded dy',
      convs: true,
      runners: (['auto', 'col2im', 'conv'] as const).map(
        (method) => new Runner(lenet5, wasm, { label: method, beforeStep: () => setConvInputGradMethod(method) }),
      ),
    },
  ];
  const rows: AvenueRow[] = [];
  const ops: Record<string, { kernels: number; newTensors: number }> = {};
  for (const group of groups) {
    log(`  ${group.avenue}`);
    interleave(group.runners, warmup, group.convs ? convSteps : steps);
    if (group.avenue.startsWith('fewer tensors')) {
      for (const r of group.runners) ops[r.label] = await opsPerStep(r);
    }
    const base = group.runners[0].samples.length ? summarize(group.runners[0].samples).cpu.median : NaN;
    for (const r of group.runners) {
      const row: AvenueRow = { avenue: group.avenue, variant: r.label, workload: r.workload.name };
      if (r.error) row.error = r.error;
      else {
        row.timing = summarize(r.samples);
        row.samplesPerSecCpu = (r.workload.batch / row.timing.cpu.median) * 1000;
        row.ratio = row.timing.cpu.median / base;
      }
      rows.push(row);
      r.dispose();
    }
  }
  setMatMulLayout('auto');
  setConvInputGradMethod('auto');
  setWasmHeapLoops('simd');
  registerSparsifyKernels();
  return { rows, ops };
}
