import * as tf from '@tensorflow/tfjs';
import { hasKernel, runOp } from './passes.js';

/** The kernel name of one variable's momentum step (see `momentumUpdate`). */
export const MOMENTUM_UPDATE_KERNEL = 'SparsifyMomentumUpdate';

/**
 * tfjs's momentum step for one variable (momentum_optimizer.ts) as one op: acc' = m·acc + g;
 * value' = c·acc' + value, or c·(g + m·acc') + value with Nesterov (c = −learning rate). Inputs
 * [value, acc, g, m, c], or with the gradient in two parts g = g₁ + g₂ (the task's and a penalty's)
 * [value, acc, g₁, m, c, g₂]; with `decay`, g + decay·value (coupled weight decay). Outputs
 * [value', acc']. A kernel does it in one pass, rounding every product and sum to float32 as these ops do.
 */
export function momentumUpdate(inputs: readonly tf.Tensor[], nesterov: boolean, decay = 0): [value: tf.Tensor, accumulation: tf.Tensor] {
  const [value, accumulation] = runOp(MOMENTUM_UPDATE_KERNEL, inputs, { nesterov, decay }, ([v, acc, g1, m, c, g2], attrs) => {
    let g = g2 ? tf.add(g1, g2) : g1;
    if (attrs.decay !== 0) g = tf.add(g, tf.mul(v, tf.scalar(attrs.decay)));
    const a = tf.add(tf.mul(m, acc), g);
    return [tf.add(tf.mul(c, attrs.nesterov ? tf.add(g, tf.mul(a, m)) : a), v), a];
  });
  return [value, accumulation];
}

/** What `tf.MomentumOptimizer.applyGradients` reads and writes (tfjs 4.22). */
interface MomentumInternals {
  accumulations: ({ originalName: string; variable: tf.Variable } | undefined)[];
  m: tf.Tensor;
  c: tf.Tensor;
  useNesterov: boolean;
  incrementIterations(): void;
}

/** tfjs's own MomentumOptimizer (not a subclass, which may override the update), when its step has a kernel. */
function momentumWithKernel(optimizer: tf.Optimizer): MomentumInternals | null {
  if (Object.getPrototypeOf(optimizer) !== tf.MomentumOptimizer.prototype || !hasKernel(MOMENTUM_UPDATE_KERNEL)) return null;
  const o = optimizer as unknown as Partial<MomentumInternals>;
  const ok =
    Array.isArray(o.accumulations) && o.m instanceof tf.Tensor && o.c instanceof tf.Tensor && typeof o.incrementIterations === 'function';
  return ok ? (o as MomentumInternals) : null;
}

/** The parts of each variable's gradient beyond `gradients[name]`, added in this order. */
export interface GradientParts {
  /** A second part of some gradients (a penalty's); one without a gradient is ignored. */
  readonly addends?: tf.NamedTensorMap;
  /** Coupled weight decay per variable: + decay·value. */
  readonly decay?: Readonly<Record<string, number>>;
}

/**
 * `optimizer.applyGradients` of `gradients[name] + addends[name] + decay[name]·value`. Where tfjs's
 * `MomentumOptimizer` (`tf.train.momentum`) meets a `momentumUpdate` kernel, each variable takes one
 * pass that adds the parts and updates it, with the same state (accumulations, iterations,
 * `getWeights()`) and float32 results as the optimizer's own ops after the Adds. Any other optimizer
 * runs its own `applyGradients` of the sums.
 */
export function applyGradients(optimizer: tf.Optimizer, gradients: tf.NamedTensorMap, parts: GradientParts = {}): void {
  const { addends = {}, decay = {} } = parts;
  const momentum = momentumWithKernel(optimizer);
  if (!momentum) {
    tf.tidy(() => {
      const sums: tf.NamedTensorMap = {};
      for (const [name, g] of Object.entries(gradients)) {
        let sum = addends[name] ? tf.add(g, addends[name]) : g;
        if (decay[name]) sum = tf.add(sum, tf.mul(tf.engine().registeredVariables[name], tf.scalar(decay[name])));
        sums[name] = sum;
      }
      optimizer.applyGradients(sums);
    });
    return;
  }
  Object.keys(gradients).forEach((name, i) => {
    const value = tf.engine().registeredVariables[name];
    // Slots are positional and created on first use, as tfjs does.
    momentum.accumulations[i] ??= {
      originalName: `${name}/momentum`,
      variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
    };
    const accumulation = momentum.accumulations[i]!.variable;
    const gradient = gradients[name];
    if (gradient == null) return;
    tf.tidy(() => {
      const addend = addends[name];
      const inputs = [value, accumulation, gradient, momentum.m, momentum.c, ...(addend ? [addend] : [])];
      const [newValue, newAccumulation] = momentumUpdate(inputs, momentum.useNesterov, decay[name] ?? 0);
      accumulation.assign(newAccumulation);
      value.assign(newValue);
    });
  });
  momentum.incrementIterations();
}
