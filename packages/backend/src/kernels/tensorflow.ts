import * as tf from '@tensorflow/tfjs';

/**
 * tfjs-node 4.22's conv gradient kernels accept only 'valid' and 'same' padding, while its Conv2D takes
 * explicit padding too: training a `tf.conv2d(x, f, s, [[0, 0], [t, b], [l, r], [0, 0]])` fails in the
 * backward pass. Explicit padding is the same conv as 'valid' on the padded input, so these kernels pad
 * (and for the input gradient crop) around tfjs-node's own kernels; every other call goes straight to them.
 */

type Pads = [number, number][];
type Kernel = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => tf.TensorInfo;

const BACKEND = 'tensorflow';
const MARK = Symbol.for('sparsify.tensorflow.kernel');
const ORIGINALS_KEY = Symbol.for('sparsify.tensorflow.originalKernels');

/** tfjs-node's kernels that were replaced, on `globalThis` so the ESM and CJS builds share them. */
function originals(): Map<string, tf.KernelConfig> {
  const g = globalThis as unknown as Record<symbol, Map<string, tf.KernelConfig> | undefined>;
  return (g[ORIGINALS_KEY] ??= new Map());
}

function stock(name: string): Kernel {
  const kernel = originals().get(name) ?? tf.getKernel(name, BACKEND);
  if (!kernel) throw new Error(`sparsify: the tensorflow backend has no '${name}' kernel (is @tensorflow/tfjs-node 4.22.0 loaded?)`);
  return kernel.kernelFunc as unknown as Kernel;
}

const explicitPads = (pad: unknown): Pads | undefined => (Array.isArray(pad) ? (pad as Pads) : undefined);

/** `use(temp)`, then frees the intermediate `temp` (a kernel output no tensor owns). */
function using(backend: tf.KernelBackend, temp: tf.TensorInfo, use: (temp: tf.TensorInfo) => tf.TensorInfo): tf.TensorInfo {
  try {
    return use(temp);
  } finally {
    backend.disposeData(temp.dataId);
  }
}

const conv2dBackpropFilter: Kernel = (args) => {
  const pads = explicitPads(args.attrs?.pad);
  if (!pads) return stock('Conv2DBackpropFilter')(args);
  const { inputs, backend } = args;
  const padded = stock('PadV2')({ inputs: { x: inputs.x }, backend, attrs: { paddings: pads, constantValue: 0 } });
  return using(backend, padded, (x) =>
    stock('Conv2DBackpropFilter')({ inputs: { x, dy: inputs.dy }, backend, attrs: { ...args.attrs, pad: 'valid' } }),
  );
};

const conv2dBackpropInput: Kernel = (args) => {
  const pads = explicitPads(args.attrs?.pad);
  if (!pads) return stock('Conv2DBackpropInput')(args);
  const { inputs, backend } = args;
  const inputShape = args.attrs!.inputShape as number[];
  const paddedShape = inputShape.map((d, i) => d + pads[i][0] + pads[i][1]);
  const padded = stock('Conv2DBackpropInput')({ inputs, backend, attrs: { ...args.attrs, pad: 'valid', inputShape: paddedShape } });
  return using(backend, padded, (x) =>
    stock('Slice')({ inputs: { x }, backend, attrs: { begin: pads.map((p) => p[0]), size: inputShape } }),
  );
};

const KERNELS: readonly [string, Kernel][] = [
  ['Conv2DBackpropFilter', conv2dBackpropFilter],
  ['Conv2DBackpropInput', conv2dBackpropInput],
];

/** The kernel names `registerTensorflowTrainingKernels` replaces. */
export const TENSORFLOW_TRAINING_KERNELS: readonly string[] = KERNELS.map(([name]) => name);

/**
 * Replaces tfjs-node's conv gradient kernels with ones that also take explicit padding. Idempotent;
 * `selectBackend` calls it when it activates tensorflow.
 */
export function registerTensorflowTrainingKernels(): void {
  for (const [kernelName, fn] of KERNELS) {
    const current = tf.getKernel(kernelName, BACKEND);
    if (current && (current.kernelFunc as unknown as Record<symbol, unknown>)[MARK]) continue;
    if (current) {
      originals().set(kernelName, current);
      tf.unregisterKernel(kernelName, BACKEND);
    }
    const kernelFunc = ((a: Parameters<Kernel>[0]) => fn(a)) as unknown as tf.KernelFunc;
    (kernelFunc as unknown as Record<symbol, unknown>)[MARK] = true;
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
  }
}
