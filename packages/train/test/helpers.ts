import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BasePenalty, safeAbs, safeL1, type Mask, type Param, type TrainingContext, type Penalty } from '@sparsify/core';
import { tensorData, type DataSplit, type PrunerLike } from '../src/index.node.js';
import { magnitudeMasks, disposeMasks, selectParams } from '@sparsify/core';

export function tinyModel(seed = 1): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }) }),
    ],
  });
}

export interface TinyData {
  train: DataSplit;
  test: DataSplit;
  dispose(): void;
}

export function tinyData(n = 192, seed = 3): TinyData {
  const x = tf.randomNormal([n, 8], 0, 1, 'float32', seed);
  const w = tf.randomNormal([8, 3], 0, 1, 'float32', seed + 1);
  const y = tf.tidy(() => tf.argMax(tf.matMul(x, w), 1));
  const xt = tf.randomNormal([64, 8], 0, 1, 'float32', seed + 2);
  const yt = tf.tidy(() => tf.argMax(tf.matMul(xt, w), 1));
  return {
    train: tensorData(x, y),
    test: tensorData(xt, yt),
    dispose: () => [x, w, y, xt, yt].forEach((t) => t.dispose()),
  };
}

export class TestL1 extends BasePenalty {
  readonly name = 'test-l1';
  protected term(): tf.Scalar {
    return this.params.reduce((s, p) => tf.add(s, safeL1(p.variable)), tf.scalar(0)) as tf.Scalar;
  }
}

let scaleCounter = 0;

/** A penalty with one trainable variable per param (HALO-like), to exercise penalty optimizer state. */
export class TestScaled extends BasePenalty {
  readonly name = 'test-scaled';
  private scales: tf.Variable[] = [];
  protected override init(params: readonly Param[]): void {
    this.scales = params.map((p) => this.own(tf.variable(tf.onesLike(p.variable), true, `${p.name}-scale-${++scaleCounter}`)));
  }
  override trainableVariables(): tf.Variable[] {
    return this.scales;
  }
  protected term(): tf.Scalar {
    return this.params.reduce(
      (s, p, i) =>
        tf.add(
          s,
          tf.add(
            tf.sum(tf.mul(safeAbs(this.scales[i]), safeAbs(p.variable))),
            tf.mul(tf.scalar(0.01), tf.sum(tf.square(tf.sub(this.scales[i], 1)))),
          ),
        ),
      tf.scalar(0),
    ) as tf.Scalar;
  }
  diagnostics(): Record<string, number> {
    return { meanScale: tf.tidy(() => tf.mean(tf.stack(this.scales.map((s) => tf.mean(s)))).dataSync()[0]) };
  }
}

/** A GMP-like pruner: layer-wise exact-count masks at a cubic-ramped sparsity every `frequency` steps. */
export class TestPruner implements PrunerLike {
  private current: Mask[] = [];
  private last = 0;
  constructor(
    private readonly params: Param[],
    private readonly target: number,
    private readonly endStep: number,
    private readonly frequency = 2,
  ) {}
  sparsityAt(step: number): number {
    const p = Math.min(1, step / this.endStep);
    return this.target * (1 - (1 - p) ** 3);
  }
  update(ctx: TrainingContext): readonly Mask[] | null {
    if (ctx.step > this.endStep || ctx.step % this.frequency !== 0) return null;
    const s = this.sparsityAt(ctx.step);
    disposeMasks(this.current);
    this.current = magnitudeMasks(this.params, { sparsity: s, scope: 'layer', rule: 'exactCount' }).masks;
    this.last = s;
    return this.current;
  }
  masks(): readonly Mask[] {
    return this.current;
  }
  getState(): unknown {
    return { sparsity: this.last };
  }
  setState(state: unknown, masks: readonly Mask[]): void {
    disposeMasks(this.current);
    this.current = [...masks];
    this.last = (state as { sparsity: number }).sparsity;
  }
  dispose(): void {
    disposeMasks(this.current);
    this.current = [];
  }
}

export function kernelParams(model: tf.LayersModel): Param[] {
  return selectParams(model);
}

export function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

export type { Penalty };

const dirs: string[] = [];
/** A fresh temp directory, removed by `removeTempDirs` (call it in afterEach). */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sparsify-train-'));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * The options of the exact-resume tests (train.test.ts, indexeddb.test.ts): momentum, a penalty with
 * variables, weight decay, one-shot pruning and an Adam fine-tune, 4 epochs in all.
 */
export function resumeTestOptions(model: tf.LayersModel, data: TinyData, penalty: TestScaled) {
  return {
    model,
    data,
    epochs: 2,
    batchSize: 24,
    seed: 4,
    penalties: [penalty],
    weightDecay: 5e-4,
    optimizer: { className: 'Momentum', config: { learningRate: 0.05, momentum: 0.9 } } as const,
    prune: { sparsity: 0.6 },
    finetune: { epochs: 2, optimizer: { className: 'Adam', config: { learningRate: 0.01, epsilon: 1e-8 } } as const },
  };
}
