import type { TrainingContext } from './context.js';
import { check, checkFinite, checkInteger, checkNonNegative, checkPositive, SparsifyConfigError } from './errors.js';

/** Serializable description of a strength schedule. */
export type StrengthConfig =
  | { kind: 'constant'; value: number }
  | { kind: 'linearWarmup'; value: number; warmupSteps: number; beginStep?: number }
  | { kind: 'exponentialWarmup'; value: number; initial: number; warmupSteps: number }
  | { kind: 'exponentialGrowth'; initial: number; rate: number; beginEpoch?: number; max?: number }
  | { kind: 'step'; initial: number; factor: number; everyEpochs: number };

/** A penalty coefficient as a pure function of where training is. */
export interface StrengthSchedule {
  (ctx: TrainingContext): number;
  readonly config: StrengthConfig;
}

function schedule(config: StrengthConfig, fn: (ctx: TrainingContext) => number): StrengthSchedule {
  return Object.assign((ctx: TrainingContext) => fn(ctx), { config: Object.freeze({ ...config }) });
}

export function constantStrength(value: number): StrengthSchedule {
  checkNonNegative('constantStrength value', value);
  return schedule({ kind: 'constant', value }, () => value);
}

/** 0 before `beginStep`, then rising linearly to `value` over `warmupSteps` steps. */
export function linearWarmup(options: { value: number; warmupSteps: number; beginStep?: number }): StrengthSchedule {
  const { value, warmupSteps, beginStep = 0 } = options;
  checkNonNegative('linearWarmup value', value);
  checkInteger('linearWarmup warmupSteps', warmupSteps, 1);
  checkInteger('linearWarmup beginStep', beginStep, 0);
  return schedule({ kind: 'linearWarmup', value, warmupSteps, beginStep }, ({ step }) =>
    step < beginStep ? 0 : value * Math.min(1, (step - beginStep + 1) / warmupSteps),
  );
}

/** Geometric ramp from `initial` to `value` over `warmupSteps` steps, then constant. */
export function exponentialWarmup(options: { value: number; initial: number; warmupSteps: number }): StrengthSchedule {
  const { value, initial, warmupSteps } = options;
  checkPositive('exponentialWarmup value', value);
  checkPositive('exponentialWarmup initial', initial);
  check(initial <= value, 'exponentialWarmup initial', initial, `≤ value (${value})`);
  checkInteger('exponentialWarmup warmupSteps', warmupSteps, 1);
  return schedule({ kind: 'exponentialWarmup', value, initial, warmupSteps }, ({ step }) =>
    step >= warmupSteps ? value : initial * (value / initial) ** (step / warmupSteps),
  );
}

/**
 * `initial · rate^(epoch − beginEpoch)` from `beginEpoch` on, 0 before it: the ART schedule
 * α_k = λ_init·η^k (see packages/hypersparse/README.md, "ART"). `max` caps it when given.
 */
export function exponentialGrowth(options: { initial: number; rate: number; beginEpoch?: number; max?: number }): StrengthSchedule {
  const { initial, rate, beginEpoch = 0, max } = options;
  checkNonNegative('exponentialGrowth initial', initial);
  checkPositive('exponentialGrowth rate', rate);
  checkInteger('exponentialGrowth beginEpoch', beginEpoch, 0);
  if (max !== undefined) checkNonNegative('exponentialGrowth max', max);
  const config: StrengthConfig = { kind: 'exponentialGrowth', initial, rate, beginEpoch };
  if (max !== undefined) config.max = max;
  return schedule(config, ({ epoch }) => {
    if (epoch < beginEpoch) return 0;
    const v = initial * rate ** (epoch - beginEpoch);
    return max === undefined ? v : Math.min(v, max);
  });
}

/** `initial · factor^⌊epoch / everyEpochs⌋`. */
export function stepStrength(options: { initial: number; factor: number; everyEpochs: number }): StrengthSchedule {
  const { initial, factor, everyEpochs } = options;
  checkNonNegative('stepStrength initial', initial);
  checkPositive('stepStrength factor', factor);
  checkInteger('stepStrength everyEpochs', everyEpochs, 1);
  return schedule({ kind: 'step', initial, factor, everyEpochs }, ({ epoch }) => initial * factor ** Math.floor(epoch / everyEpochs));
}

/** Rebuilds a schedule from its config. */
export function strengthFromConfig(config: StrengthConfig): StrengthSchedule {
  switch (config?.kind) {
    case 'constant':
      return constantStrength(config.value);
    case 'linearWarmup':
      return linearWarmup(config);
    case 'exponentialWarmup':
      return exponentialWarmup(config);
    case 'exponentialGrowth':
      return exponentialGrowth(config);
    case 'step':
      return stepStrength(config);
    default:
      throw new SparsifyConfigError(
        `strength config kind must be one of "constant", "linearWarmup", "exponentialWarmup", "exponentialGrowth", "step"; got ${JSON.stringify(config)}`,
      );
  }
}

/** What penalty options accept for a strength: a number, a schedule, or a schedule's config. */
export type StrengthLike = number | StrengthSchedule | StrengthConfig;

export function resolveStrength(strength: StrengthLike, what = 'strength'): StrengthSchedule {
  if (typeof strength === 'number') {
    checkFinite(what, strength);
    checkNonNegative(what, strength);
    return constantStrength(strength);
  }
  if (typeof strength === 'function') return strength;
  if (strength && typeof strength === 'object') return strengthFromConfig(strength);
  throw new SparsifyConfigError(`${what} must be a number ≥ 0, a strength schedule or its config; got ${String(strength)}`);
}
