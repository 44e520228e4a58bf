import * as tf from '@tensorflow/tfjs';
import { TrainStep, disposeOptimizer, type Penalty } from '@sparsify/core';
import { activate, type Config } from './configs.js';
import { timeIt, type Sample } from './measure.js';
import { batchFor, type Workload } from './models.js';

export interface RunnerOptions {
  penalties?: Penalty[];
  /** Another model for the same workload (e.g. an unfused variant). */
  build?: (seed: number) => tf.LayersModel;
  /** Runs before every step, after the configuration is activated (e.g. a kernel strategy switch). */
  beforeStep?: () => void;
  /** A hand-written forward pass instead of `model.apply` (TrainStep's `forward` + `variables`). */
  forward?: (model: tf.LayersModel) => (x: tf.Tensor) => tf.Tensor;
  label?: string;
  /** TrainStep's option (default true). */
  skipInputGradients?: boolean;
}

/** One model + optimizer + batch on one configuration; `step()` runs one TrainStep (forward, backward, update). */
export class Runner {
  readonly model: tf.LayersModel;
  readonly label: string;
  private readonly trainStep: TrainStep;
  private readonly optimizer: tf.Optimizer;
  private readonly x: tf.Tensor;
  private readonly y: tf.Tensor;
  private readonly beforeStep?: () => void;
  readonly samples: Sample[] = [];
  error?: string;

  constructor(
    readonly workload: Workload,
    readonly config: Config,
    options: RunnerOptions = {},
  ) {
    activate(config);
    this.label = options.label ?? config.label;
    this.beforeStep = options.beforeStep;
    this.model = (options.build ?? workload.build)(1);
    const { x, y } = batchFor(workload);
    this.x = x;
    this.y = y;
    this.optimizer = tf.train.momentum(0.01, 0.9);
    this.trainStep = new TrainStep({
      model: this.model,
      optimizer: this.optimizer,
      penalties: options.penalties ?? [],
      skipInputGradients: options.skipInputGradients,
      ...(options.forward
        ? { forward: options.forward(this.model), variables: this.model.trainableWeights.map((w) => w.read() as tf.Variable) }
        : {}),
    });
  }

  /** Runs one step; returns false (and records the error) if the configuration cannot train this model. */
  step(record = true): boolean {
    if (this.error) return false;
    activate(this.config);
    this.beforeStep?.();
    try {
      const s = timeIt(() => this.trainStep.run(this.x, this.y));
      if (record) this.samples.push(s);
      return true;
    } catch (e) {
      this.error = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      return false;
    }
  }

  dispose(): void {
    activate(this.config);
    this.trainStep.dispose();
    for (const p of this.trainStep.penalties) p.dispose();
    disposeOptimizer(this.optimizer);
    tf.dispose([this.x, this.y]);
    this.model.dispose();
  }
}

/**
 * Steps every runner in turn, `warmup` unrecorded rounds then `steps` recorded ones. Each round starts
 * with the next runner, so no runner always follows the same one (order effects: caches, JIT, GC).
 */
export function interleave(runners: Runner[], warmup: number, steps: number, log?: (round: number) => void): void {
  const n = runners.length;
  for (let i = 0; i < warmup; i++) for (const r of runners) r.step(false);
  for (let i = 0; i < steps; i++) {
    for (let j = 0; j < n; j++) runners[(i + j) % n].step();
    log?.(i + 1);
  }
}
