import { check, checkFinite, checkInteger, checkSparsity, SparsifyConfigError } from '@sparsify/core';

/** What a pruning schedule answers for a step (tfmot's `(should_prune, sparsity)`). */
export interface PruningDecision {
  /** Recompute the masks at this step. */
  readonly shouldPrune: boolean;
  /** The target sparsity at this step, in [0, 1). */
  readonly sparsity: number;
}

/** JSON description of a pruning schedule; `pruningScheduleFromConfig` rebuilds it. */
export type PruningScheduleConfig =
  | { kind: 'oneShot'; sparsity: number; atStep: number }
  | { kind: 'oneShot'; sparsity: number; atEnd: true }
  | { kind: 'constantSparsity'; targetSparsity: number; beginStep: number; endStep: number; frequency: number }
  | {
      kind: 'polynomialDecay';
      initialSparsity: number;
      finalSparsity: number;
      beginStep: number;
      endStep: number;
      power: number;
      frequency: number;
    };

/**
 * A pruning schedule: a pure function of the optimizer step (0 before the first update), plus its
 * config. `atEnd` schedules never fire on a step: the driver prunes once when training ends
 * (`Pruner.finish()`, the pruning callback's `onTrainEnd`).
 */
export interface PruningSchedule {
  (step: number): PruningDecision;
  getConfig(): PruningScheduleConfig;
  /** True only for `oneShot({ atEnd: true })`. */
  readonly atEnd: boolean;
}

function make(config: PruningScheduleConfig, atEnd: boolean, fn: (step: number) => PruningDecision): PruningSchedule {
  const frozen = Object.freeze({ ...config });
  const schedule = (step: number): PruningDecision => {
    checkInteger('pruning schedule step', step, 0);
    return fn(step);
  };
  return Object.assign(schedule, { getConfig: () => ({ ...frozen }) as PruningScheduleConfig, atEnd });
}

/**
 * tfmot `_validate_step`: beginStep ≥ 0; endStep ≥ beginStep, or −1 ("forever") only where allowed;
 * frequency > 0. Steps and frequency are integers.
 */
function validateSteps(name: string, beginStep: unknown, endStep: unknown, frequency: unknown, allowForever: boolean): void {
  checkInteger(`${name} beginStep`, beginStep, 0);
  if (allowForever) {
    check(
      endStep === -1 || (Number.isInteger(endStep) && (endStep as number) >= (beginStep as number)),
      `${name} endStep`,
      endStep,
      `-1 (prune forever) or an integer ≥ beginStep (${beginStep as number})`,
    );
  } else {
    checkInteger(`${name} endStep`, endStep, 0);
  }
  checkInteger(`${name} frequency`, frequency, 1);
}

/** tfmot `_should_prune_in_step`: begin ≤ step ≤ end (or end = −1) and (step − begin) % frequency == 0. */
function shouldPruneInStep(step: number, beginStep: number, endStep: number, frequency: number): boolean {
  const inRange = step >= beginStep && (endStep < 0 || step <= endStep);
  return inRange && (step - beginStep) % frequency === 0;
}

/** Prune once to `sparsity`: at step `atStep`, or when training ends (`atEnd: true`). */
export function oneShot(options: { sparsity: number; atStep: number } | { sparsity: number; atEnd: true }): PruningSchedule {
  check(typeof options === 'object' && options !== null, 'oneShot options', options, '{ sparsity, atStep } or { sparsity, atEnd: true }');
  const { sparsity } = options;
  checkSparsity('oneShot sparsity', sparsity);
  const atStep = (options as { atStep?: unknown }).atStep;
  const atEnd = (options as { atEnd?: unknown }).atEnd;
  if (atEnd !== undefined) {
    check(atEnd === true, 'oneShot atEnd', atEnd, 'true (or leave it out and give atStep)');
    check(atStep === undefined, 'oneShot atStep', atStep, 'left out when atEnd is true');
    return make({ kind: 'oneShot', sparsity, atEnd: true }, true, () => ({ shouldPrune: false, sparsity }));
  }
  checkInteger('oneShot atStep', atStep, 0);
  const at = atStep as number;
  return make({ kind: 'oneShot', sparsity, atStep: at }, false, (step) => ({ shouldPrune: step === at, sparsity }));
}

/**
 * tfmot `ConstantSparsity`: the same target at every pruning step; prunes when
 * `beginStep ≤ step ≤ endStep` (endStep −1: forever) and `(step − beginStep) % frequency == 0`.
 */
export function constantSparsity(options: {
  targetSparsity: number;
  beginStep: number;
  endStep?: number;
  frequency?: number;
}): PruningSchedule {
  check(
    typeof options === 'object' && options !== null,
    'constantSparsity options',
    options,
    '{ targetSparsity, beginStep, endStep?, frequency? }',
  );
  const { targetSparsity, beginStep, endStep = -1, frequency = 100 } = options;
  checkSparsity('constantSparsity targetSparsity', targetSparsity);
  validateSteps('constantSparsity', beginStep, endStep, frequency, true);
  return make({ kind: 'constantSparsity', targetSparsity, beginStep, endStep, frequency }, false, (step) => ({
    shouldPrune: shouldPruneInStep(step, beginStep, endStep, frequency),
    sparsity: targetSparsity,
  }));
}

/**
 * tfmot `PolynomialDecay` (Zhu & Gupta's gradual magnitude pruning; docs/conventions.md, "Gradual magnitude pruning"):
 * `p = clamp((step − beginStep)/(endStep − beginStep), 0, 1)`,
 * `sparsity = finalSparsity + (initialSparsity − finalSparsity)·(1 − p)^power`; prunes when
 * `beginStep ≤ step ≤ endStep` and `(step − beginStep) % frequency == 0`. Unlike tfmot, endStep must
 * be > beginStep (tfmot divides by zero). As in tfmot, `finalSparsity` is reached only if a pruning step
 * falls on endStep: make `endStep − beginStep` a multiple of `frequency`.
 */
export function polynomialDecay(options: {
  initialSparsity: number;
  finalSparsity: number;
  beginStep: number;
  endStep: number;
  power?: number;
  frequency?: number;
}): PruningSchedule {
  check(
    typeof options === 'object' && options !== null,
    'polynomialDecay options',
    options,
    '{ initialSparsity, finalSparsity, beginStep, endStep, power?, frequency? }',
  );
  const { initialSparsity, finalSparsity, beginStep, endStep, power = 3, frequency = 100 } = options;
  checkSparsity('polynomialDecay initialSparsity', initialSparsity);
  checkSparsity('polynomialDecay finalSparsity', finalSparsity);
  validateSteps('polynomialDecay', beginStep, endStep, frequency, false);
  check(endStep > beginStep, 'polynomialDecay endStep', endStep, `> beginStep (${beginStep})`);
  checkFinite('polynomialDecay power', power);
  check(power > 0, 'polynomialDecay power', power, 'a finite number > 0');
  const config = { kind: 'polynomialDecay' as const, initialSparsity, finalSparsity, beginStep, endStep, power, frequency };
  return make(config, false, (step) => {
    const p = Math.min(1, Math.max(0, (step - beginStep) / (endStep - beginStep)));
    return {
      shouldPrune: shouldPruneInStep(step, beginStep, endStep, frequency),
      sparsity: finalSparsity + (initialSparsity - finalSparsity) * (1 - p) ** power,
    };
  });
}

/** tfmot's `get_config()` shape, accepted by `pruningScheduleFromConfig` for configs written in Python. */
export interface TfmotScheduleConfig {
  class_name: 'ConstantSparsity' | 'PolynomialDecay';
  config: Record<string, number>;
}

function fromTfmot(config: TfmotScheduleConfig): PruningSchedule {
  const c = config.config ?? {};
  if (config.class_name === 'ConstantSparsity') {
    return constantSparsity({ targetSparsity: c.target_sparsity, beginStep: c.begin_step, endStep: c.end_step, frequency: c.frequency });
  }
  return polynomialDecay({
    initialSparsity: c.initial_sparsity,
    finalSparsity: c.final_sparsity,
    beginStep: c.begin_step,
    endStep: c.end_step,
    power: c.power,
    frequency: c.frequency,
  });
}

/** Rebuilds a schedule from `getConfig()` output (or a tfmot `get_config()` dict). */
export function pruningScheduleFromConfig(config: PruningScheduleConfig | TfmotScheduleConfig): PruningSchedule {
  const c = config as Record<string, unknown> | null;
  if (c && (c.class_name === 'ConstantSparsity' || c.class_name === 'PolynomialDecay')) return fromTfmot(config as TfmotScheduleConfig);
  switch (c?.kind) {
    case 'oneShot':
      return oneShot(config as never);
    case 'constantSparsity':
      return constantSparsity(config as never);
    case 'polynomialDecay':
      return polynomialDecay(config as never);
    default:
      throw new SparsifyConfigError(
        `pruning schedule config kind must be one of "oneShot", "constantSparsity", "polynomialDecay" (or a tfmot ConstantSparsity/PolynomialDecay config); got ${JSON.stringify(config)}`,
      );
  }
}

/** A schedule, or its config. */
export type PruningScheduleLike = PruningSchedule | PruningScheduleConfig | TfmotScheduleConfig;

export function resolvePruningSchedule(schedule: PruningScheduleLike): PruningSchedule {
  if (typeof schedule === 'function') {
    check(
      typeof schedule.getConfig === 'function',
      'pruning schedule',
      'a function without getConfig',
      'a schedule from oneShot, constantSparsity or polynomialDecay, or a config',
    );
    return schedule;
  }
  return pruningScheduleFromConfig(schedule);
}
