import * as tf from '@tensorflow/tfjs';
import {
  createTrainStep,
  disposeOptimizer,
  INITIAL_CONTEXT,
  penaltyFromConfig,
  registerPlugin,
  type Param,
  type Penalty,
  type SparsifyPlugin,
  type TrainingContext,
} from '@sparsify/core';
import { disposeParams, fixtureKernels, fixtureModel, fixtureParams } from './fixtures.js';

export interface ConformanceOptions {
  /** Display name. */
  name: string;
  /** A fresh, unbound penalty each call. */
  create: () => Penalty;
  /** The plugin that registers the penalty's name, for the getConfig round trip. */
  plugin: SparsifyPlugin;
  /** Which fixture params to bind: kernels only (default) or kernels and a bias. */
  bindTo?: 'kernels' | 'all';
  /**
   * For penalties whose value carries no gradient (HyperSparse: value ≡ 0 with a custom gradient):
   * a differentiable surrogate built at the base point, whose finite differences the penalty's gradient
   * must match. Default: finite differences of `loss` itself.
   */
  surrogate?: (base: readonly tf.Tensor[], ctx: TrainingContext) => (weights: readonly tf.Tensor[]) => tf.Scalar;
  /** Relative error bound of the gradient check (default 2e-2: float32 central differences). */
  gradientTolerance?: number;
  /** Context for the checks (default step 0, epoch 0). Use one where the strength is non-zero. */
  context?: TrainingContext;
  /**
   * Backends to compare; the first is the reference. Default: cpu, wasm and the backend active when the
   * check runs (e.g. `tensorflow`, which must then be loaded already).
   */
  backends?: readonly string[];
  /**
   * Fast kernels for the penalty's ops (e.g. `@sparsify/backend`'s `registerSparsifyKernels` and
   * `unregisterSparsifyKernels`): every backend is then checked with them and without (the ops' plain
   * tfjs versions), and the two must agree.
   */
  kernels?: { register(): unknown; unregister(): void };
  /**
   * `gradients()` computes the very tensors the tape's backward pass computes, so training with it must
   * give the tape's weights bit for bit (default: within relative 1e-5).
   */
  bitIdentical?: boolean;
}

export interface ConformanceCheck {
  readonly name: string;
  readonly run: () => Promise<void>;
}

export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
}

function fail(options: ConformanceOptions, message: string): never {
  throw new ConformanceError(`${options.name}: ${message}`);
}

function bindFixture(options: ConformanceOptions, penalty: Penalty, seed = 1): Param[] {
  const params = options.bindTo === 'all' ? fixtureParams(seed) : fixtureKernels(seed);
  penalty.bind(params);
  return params;
}

/** Gradient of the penalty's loss with respect to its bound variables and its own variables. */
function penaltyGradients(penalty: Penalty, ctx: TrainingContext): { value: number; grads: Float32Array[]; variables: tf.Variable[] } {
  const variables = [...penalty.params.map((p) => p.variable), ...penalty.trainableVariables()];
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => penalty.loss(ctx), variables);
    return {
      value: value.dataSync()[0],
      grads: variables.map((v) => (grads[v.name] ? Float32Array.from(grads[v.name].dataSync()) : new Float32Array(v.size))),
      variables,
    };
  });
}

function relativeError(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0;
  let norm = 0;
  a.forEach((x, i) =>
    x.forEach((v, j) => {
      diff += (v - b[i][j]) ** 2;
      norm += b[i][j] ** 2;
    }),
  );
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
}

async function gradientCheck(options: ConformanceOptions): Promise<void> {
  const ctx = options.context ?? INITIAL_CONTEXT;
  const penalty = options.create();
  const params = bindFixture(options, penalty);
  try {
    const { grads, variables } = penaltyGradients(penalty, ctx);
    const base = variables.map((v) => tf.keep(tf.clone(v)));
    const objective = options.surrogate
      ? (() => {
          const f = options.surrogate(base.slice(0, params.length), ctx);
          return () => f(variables.slice(0, params.length));
        })()
      : () => penalty.loss(ctx);
    const evaluate = () => tf.tidy(() => objective().dataSync()[0]);
    const numeric: Float32Array[] = [];
    for (const [i, variable] of variables.entries()) {
      const values = base[i].dataSync();
      const g = new Float32Array(values.length);
      for (let j = 0; j < values.length; j++) {
        const h = 1e-3 * Math.max(1, Math.abs(values[j]));
        const at = (delta: number) => {
          const copy = values.slice();
          copy[j] = values[j] + delta;
          tf.tidy(() => variable.assign(tf.tensor(copy, variable.shape)));
          return evaluate();
        };
        g[j] = (at(h) - at(-h)) / (2 * h);
        tf.tidy(() => variable.assign(base[i]));
      }
      numeric.push(g);
    }
    base.forEach((t) => t.dispose());
    const tolerance = options.gradientTolerance ?? 2e-2;
    const error = relativeError(grads, numeric);
    if (!(error <= tolerance)) {
      fail(options, `gradient differs from finite differences: relative error ${error.toExponential(3)} > ${tolerance}`);
    }
    if (grads.every((g) => g.every((v) => v === 0))) fail(options, 'gradient is identically zero on the fixture');
  } finally {
    penalty.dispose();
    disposeParams(params);
  }
}

async function noTensorGrowth(options: ConformanceOptions): Promise<void> {
  const { model, x, y } = fixtureModel(3);
  const penalty = options.create();
  const optimizer = tf.train.momentum(0.01, 0.9);
  const step = createTrainStep({ model, optimizer, weightDecay: 1e-4, penalties: [penalty], context: options.context });
  try {
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        step.run(x, y);
        if ((i + 1) % 50 === 0) step.endEpoch();
      }
    };
    run(10); // optimizer slots and lazily created state
    const before = tf.memory().numTensors;
    run(500);
    const after = tf.memory().numTensors;
    if (after !== before) fail(options, `tf.memory().numTensors grew from ${before} to ${after} over 500 training steps`);
  } finally {
    step.dispose();
    disposeOptimizer(optimizer);
    penalty.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  }
}

async function configRoundTrip(options: ConformanceOptions): Promise<void> {
  const ctx = options.context ?? INITIAL_CONTEXT;
  registerPlugin(options.plugin);
  const original = options.create();
  const config = original.getConfig();
  const json = JSON.parse(JSON.stringify(config));
  if (JSON.stringify(json) !== JSON.stringify(config)) fail(options, 'getConfig() is not JSON-serializable without loss');
  const rebuilt = penaltyFromConfig(json);
  try {
    if (JSON.stringify(rebuilt.getConfig()) !== JSON.stringify(config)) {
      fail(options, `config round trip changed the config:\n  ${JSON.stringify(config)}\n  ${JSON.stringify(rebuilt.getConfig())}`);
    }
    const a = bindFixture(options, original, 5);
    const b = bindFixture(options, rebuilt, 5);
    const ga = penaltyGradients(original, ctx);
    const gb = penaltyGradients(rebuilt, ctx);
    if (Math.abs(ga.value - gb.value) > 1e-6 * Math.max(1, Math.abs(ga.value))) {
      fail(options, `rebuilt penalty's value ${gb.value} differs from the original's ${ga.value}`);
    }
    const error = relativeError(gb.grads, ga.grads);
    if (error > 1e-6) fail(options, `rebuilt penalty's gradient differs (relative error ${error})`);
    disposeParams(a);
    disposeParams(b);
  } finally {
    original.dispose();
    rebuilt.dispose();
  }
}

async function disposeFrees(options: ConformanceOptions): Promise<void> {
  const ctx = options.context ?? INITIAL_CONTEXT;
  const params = options.bindTo === 'all' ? fixtureParams(7) : fixtureKernels(7);
  const before = tf.memory().numTensors;
  const penalty = options.create();
  penalty.bind(params);
  penalty.loss(ctx).dispose();
  tf.dispose(penalty.gradients?.(ctx) as tf.TensorContainer);
  penalty.onStepEnd?.(ctx);
  penalty.onEpochEnd?.(ctx);
  penalty.diagnostics?.(ctx);
  penalty.dispose();
  penalty.dispose(); // idempotent
  const after = tf.memory().numTensors;
  disposeParams(params);
  if (after !== before) fail(options, `dispose() left ${after - before} tensors (numTensors ${before} → ${after})`);
}

async function backendsAgree(options: ConformanceOptions): Promise<void> {
  const ctx = options.context ?? INITIAL_CONTEXT;
  const previous = tf.getBackend();
  const backends = options.backends ?? [...new Set(['cpu', 'wasm', previous])];
  const results: { backend: string; value: number; grads: Float32Array[] }[] = [];
  try {
    for (const backend of backends) {
      if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend(backend))) fail(options, `backend ${backend} failed to initialise`);
      await tf.ready();
      // With the fast kernels (where given) and with the ops' plain tfjs versions.
      for (const fast of options.kernels ? [true, false] : [false]) {
        if (fast) options.kernels!.register();
        else options.kernels?.unregister();
        const penalty = options.create();
        const params = bindFixture(options, penalty, 11);
        try {
          const { value, grads } = penaltyGradients(penalty, ctx);
          results.push({ backend: fast ? `${backend} (fast kernels)` : backend, value, grads });
        } finally {
          penalty.dispose();
          disposeParams(params);
        }
      }
    }
  } finally {
    options.kernels?.register();
    await tf.setBackend(previous);
  }
  const [reference, ...others] = results;
  for (const other of others) {
    if (Math.abs(other.value - reference.value) > 1e-4 * Math.max(1, Math.abs(reference.value))) {
      fail(options, `value on ${other.backend} (${other.value}) differs from ${reference.backend} (${reference.value})`);
    }
    const error = relativeError(other.grads, reference.grads);
    if (error > 1e-4) fail(options, `gradient on ${other.backend} differs from ${reference.backend}: relative error ${error}`);
  }
}

/**
 * `penalty` as the training step sees a penalty without `gradients`: differentiated on the tape.
 * Methods run on the penalty itself, so classes with #private fields work.
 */
function onTheTape(penalty: Penalty): Penalty {
  return new Proxy(penalty, {
    get: (target, key) => {
      if (key === 'gradients') return undefined;
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Where the penalty offers `gradients`: its value and gradients equal the tape's, and training with it
 * gives the weights that training on the tape gives (20 momentum steps, with and without decay).
 */
async function closedFormAgrees(options: ConformanceOptions): Promise<void> {
  const ctx = options.context ?? INITIAL_CONTEXT;
  const [closed, taped] = [options.create(), options.create()];
  const [closedParams, tapedParams] = [bindFixture(options, closed, 13), bindFixture(options, taped, 13)];
  try {
    const result = tf.tidy(() => {
      const got = closed.gradients?.(ctx);
      if (!got) return undefined;
      const variables = [...closed.params.map((q) => q.variable), ...closed.trainableVariables()];
      return {
        value: got.value.dataSync()[0],
        grads: variables.map((v) => (got.grads[v.name] ? Float32Array.from(got.grads[v.name].dataSync()) : new Float32Array(v.size))),
      };
    });
    // Not offered: nothing to check.
    if (!result) return;
    const reference = penaltyGradients(taped, ctx);
    if (Math.abs(result.value - reference.value) > 1e-6 * Math.max(1, Math.abs(reference.value))) {
      fail(options, `gradients()' value ${result.value} differs from loss()'s ${reference.value}`);
    }
    const error = relativeError(result.grads, reference.grads);
    if (error > 1e-6) fail(options, `gradients() differ from the tape's (relative error ${error})`);
  } finally {
    [closed, taped].forEach((p) => p.dispose());
    [closedParams, tapedParams].forEach(disposeParams);
  }
  for (const weightDecay of [0, 1e-3]) {
    const runs = [false, true].map((tape) => {
      const { model, x, y } = fixtureModel(17);
      const penalty = options.create();
      const optimizer = tf.train.momentum(0.05, 0.9);
      const step = createTrainStep({
        model,
        optimizer,
        weightDecay,
        penalties: [tape ? onTheTape(penalty) : penalty],
        context: options.context,
      });
      for (let i = 0; i < 20; i++) step.run(x, y);
      const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
      step.dispose();
      disposeOptimizer(optimizer);
      penalty.dispose();
      model.dispose();
      tf.dispose([x, y]);
      return weights;
    });
    const error = relativeError(runs[0], runs[1]);
    const tolerance = options.bitIdentical ? 0 : 1e-5;
    if (error > tolerance)
      fail(options, `training with gradients() differs from training on the tape (weight decay ${weightDecay}): relative error ${error}`);
  }
}

/** The shared battery every penalty must pass. */
export function conformanceChecks(options: ConformanceOptions): ConformanceCheck[] {
  return [
    { name: 'gradient matches finite differences', run: () => gradientCheck(options) },
    { name: 'no tensor growth over 500 training steps', run: () => noTensorGrowth(options) },
    { name: 'getConfig round trip through the registry', run: () => configRoundTrip(options) },
    { name: 'dispose frees everything it created', run: () => disposeFrees(options) },
    {
      name: `same value and gradient on ${options.backends?.join(' and ') ?? 'cpu, wasm and the active backend'}${options.kernels ? ', with the fast kernels and without' : ''}`,
      run: () => backendsAgree(options),
    },
    { name: 'gradients(), where offered, agrees with the tape', run: () => closedFormAgrees(options) },
  ];
}

/** Runs every check; throws the first failure. */
export async function runConformance(options: ConformanceOptions): Promise<void> {
  for (const check of conformanceChecks(options)) await check.run();
}

/** Minimal test-runner surface (vitest, jest, node:test all fit). */
export interface TestApi {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void>) => void;
}

/**
 * Registers the battery with your test runner:
 * `describeConformance({ describe, it }, { name: 'my-penalty', create, plugin })`.
 */
export function describeConformance(api: TestApi, options: ConformanceOptions): void {
  api.describe(`${options.name} conformance`, () => {
    for (const check of conformanceChecks(options)) api.it(check.name, check.run);
  });
}
