import * as tf from '@tensorflow/tfjs';
import { hasKernel, runOp } from './passes.js';

/** The kernel name of one variable's momentum step (see `momentumUpdate`). */
export const MOMENTUM_UPDATE_KERNEL = 'SparsifyMomentumUpdate';

/**
 * tfjs's momentum step for one variable (momentum_optimizer.ts) as one op: acc' = m·acc + g;
 * value' = c·acc' + value, or c·(g + m·acc') + value with Nesterov (c = −learning rate). Inputs
 * [value, acc, g, m, c], or with the gradient in two parts g = g₁ + g₂ (the task's and a penalty's)
 * [value, acc, g₁, m, c, g₂], added as a tfjs Add would. Outputs [value', acc']. A kernel does it in
 * one pass, rounding every product and sum to float32 as these ops do.
 */
export function momentumUpdate(inputs: readonly tf.Tensor[], nesterov: boolean): [value: tf.Tensor, accumulation: tf.Tensor] {
  const [value, accumulation] = runOp(MOMENTUM_UPDATE_KERNEL, inputs, { nesterov }, ([v, acc, g1, m, c, g2]) => {
    const g = g2 ? tf.add(g1, g2) : g1;
    const a = tf.add(tf.mul(m, acc), g);
    return [tf.add(tf.mul(c, nesterov ? tf.add(g, tf.mul(a, m)) : a), v), a];
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
  const ok = Array.isArray(o.accumulations) && o.m instanceof tf.Tensor && o.c instanceof tf.Tensor && typeof o.incrementIterations === 'function';
  return ok ? (o as MomentumInternals) : null;
}

/**
 * `optimizer.applyGradients` of `gradients[name] + addends[name]` (an addend is a second part of a
 * gradient, e.g. a penalty's; one without a gradient is ignored). Where tfjs's `MomentumOptimizer`
 * (`tf.train.momentum`) meets a `momentumUpdate` kernel, each variable takes one pass that adds the parts
 * and updates it, with the same state (accumulations, iterations, `getWeights()`) and float32 results
 * as the optimizer's own four ops after an Add. Any other optimizer runs its own `applyGradients`.
 */
export function applyGradients(optimizer: tf.Optimizer, gradients: tf.NamedTensorMap, addends: tf.NamedTensorMap = {}): void {
  const momentum = momentumWithKernel(optimizer);
  if (!momentum) {
    tf.tidy(() => {
      const sums: tf.NamedTensorMap = { ...gradients };
      for (const [name, addend] of Object.entries(addends)) if (sums[name]) sums[name] = tf.add(sums[name], addend);
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
      const [newValue, newAccumulation] = momentumUpdate(inputs, momentum.useNesterov);
      accumulation.assign(newAccumulation);
      value.assign(newValue);
    });
  });
  momentum.incrementIterations();
}
