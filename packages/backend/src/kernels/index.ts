import * as tf from '@tensorflow/tfjs';
import {
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  depthwiseConv2dNativeBackpropFilter,
  depthwiseConv2dNativeBackpropInput,
  fusedConv2d,
} from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { batchMatMul, fusedMatMul } from './matmul.js';
import { maxPoolGrad } from './pool.js';
import { sum } from './reduce.js';
import { originals } from './scope.js';
import { unsortedSegmentSum } from './segment.js';
import { identity, sign } from './unary.js';

export { setMatMulLayout, type MatMulLayout } from './matmul.js';
export { setConvFilterGradMethod, setConvInputGradMethod, setConvMethod } from './conv.js';
export { setWasmHeapLoops } from './loops.js';

const MARK = Symbol.for('sparsify.wasm.kernel');

type KernelFn = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => tf.TensorInfo;

interface KernelSpec {
  readonly name: string;
  readonly kernelFunc: KernelFn;
  /** `add`: wasm has no such kernel; `replace`: a faster version of a stock one (kept to restore). */
  readonly kind: 'add' | 'replace';
}

/** Training kernels tfjs-backend-wasm 4.22 lacks, then faster replacements for stock ones. */
const SPECS: readonly KernelSpec[] = [
  { name: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilter, kind: 'add' },
  { name: 'DepthwiseConv2dNativeBackpropFilter', kernelFunc: depthwiseConv2dNativeBackpropFilter, kind: 'add' },
  { name: 'DepthwiseConv2dNativeBackpropInput', kernelFunc: depthwiseConv2dNativeBackpropInput, kind: 'add' },
  { name: 'UnsortedSegmentSum', kernelFunc: unsortedSegmentSum, kind: 'add' },
  { name: 'Conv2DBackpropInput', kernelFunc: conv2dBackpropInput, kind: 'replace' },
  { name: 'Conv2D', kernelFunc: conv2d, kind: 'replace' },
  { name: 'FusedConv2D', kernelFunc: fusedConv2d, kind: 'replace' },
  { name: 'BatchMatMul', kernelFunc: batchMatMul, kind: 'replace' },
  { name: '_FusedMatMul', kernelFunc: fusedMatMul, kind: 'replace' },
  { name: 'MaxPoolGrad', kernelFunc: maxPoolGrad, kind: 'replace' },
  { name: 'Sum', kernelFunc: sum, kind: 'replace' },
  { name: 'Sign', kernelFunc: sign, kind: 'replace' },
  { name: 'Identity', kernelFunc: identity, kind: 'replace' },
  ...elementwiseKernels.map((k) => ({ name: k.name, kernelFunc: k.kernelFunc, kind: 'replace' as const })),
];

/** The kernel names `registerWasmTrainingKernels` installs, in order. */
export const WASM_TRAINING_KERNELS: readonly string[] = SPECS.map((s) => s.name);

function isOurs(config: tf.KernelConfig | undefined): boolean {
  return config != null && (config.kernelFunc as unknown as Record<symbol, unknown>)[MARK] === true;
}

function mark(fn: KernelFn): tf.KernelFunc {
  const wrapped = ((args: Parameters<KernelFn>[0]) => fn(args)) as unknown as tf.KernelFunc;
  (wrapped as unknown as Record<symbol, unknown>)[MARK] = true;
  return wrapped;
}

/**
 * Registers, for the `wasm` backend, the training kernels tfjs-backend-wasm 4.22 lacks
 * (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter/Input, UnsortedSegmentSum) and
 * replacements for stock kernels that are slow or wrong in training: BatchMatMul/_FusedMatMul with
 * transposed or batched operands (a scalar loop instead of XNNPACK's path), Conv2DBackpropInput
 * (a scalar loop), MaxPoolGrad (loses the gradient of windows whose max is ≤ 0), Sum over leading axes,
 * Sign (a scalar loop, in every L1-type penalty's gradient), broadcasting comparisons/Maximum/Minimum
 * (a generic index mapping per element) and Identity (a full copy; here shared data, as on cpu).
 * What each costs stock and replaced: docs/performance.md. They are built
 * from stock wasm kernels (XNNPACK conv and matmul, transpose, pad, scatter) or plain loops over the
 * wasm heap, and match the cpu backend.
 *
 * Idempotent; safe before or after `tf.setBackend('wasm')`. Replacements need the stock kernel to be
 * registered, i.e. `@tensorflow/tfjs-backend-wasm` imported; if it is not, they are skipped (call
 * again after importing it). Returns the names of the kernels now provided by sparsify.
 */
export function registerWasmTrainingKernels(): string[] {
  const saved = originals();
  const active: string[] = [];
  for (const spec of SPECS) {
    const current = tf.getKernel(spec.name, 'wasm');
    if (isOurs(current)) {
      active.push(spec.name);
      continue;
    }
    if (spec.kind === 'replace') {
      if (!current) continue; // the wasm package is not loaded yet
      saved.set(spec.name, current);
      tf.unregisterKernel(spec.name, 'wasm');
      tf.registerKernel({
        kernelName: spec.name,
        backendName: 'wasm',
        kernelFunc: mark(spec.kernelFunc),
        // The stock kernel's setup (its cwrap) must still run when the backend initialises.
        setupFunc: current.setupFunc,
        disposeFunc: current.disposeFunc,
      });
    } else {
      if (current) continue; // a later tfjs-backend-wasm has its own: keep it
      tf.registerKernel({ kernelName: spec.name, backendName: 'wasm', kernelFunc: mark(spec.kernelFunc) });
    }
    active.push(spec.name);
  }
  return active;
}

/**
 * Undoes `registerWasmTrainingKernels`: stock kernels are restored, added ones removed. For
 * benchmarks (stock vs. sparsify kernels in one process) and tests.
 */
export function unregisterWasmTrainingKernels(): void {
  const saved = originals();
  for (const spec of SPECS) {
    if (!isOurs(tf.getKernel(spec.name, 'wasm'))) continue;
    tf.unregisterKernel(spec.name, 'wasm');
    const original = saved.get(spec.name);
    if (original) {
      tf.registerKernel(original);
      saved.delete(spec.name);
    }
  }
}
