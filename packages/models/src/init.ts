import * as tf from '@tensorflow/tfjs';

/**
 * `pytorch`: the initialisation of the PyTorch reference code (see the README, "Initialisation", and
 * docs/conventions.md, "Numerical pitfalls", initialisers and BatchNorm). `tfjs`: TF.js layer
 * defaults (glorotNormal kernels, zero biases, BatchNorm momentum 0.99 / ε 1e-3), seeded.
 */
export type InitScheme = 'pytorch' | 'tfjs';

export interface BatchNormSettings {
  momentum: number;
  epsilon: number;
}

/** PyTorch `BatchNorm2d` defaults: momentum 0.1 (TF.js 0.9: moving = 0.9·moving + 0.1·batch), ε 1e-5. */
export const PYTORCH_BATCH_NORM: BatchNormSettings = Object.freeze({ momentum: 0.9, epsilon: 1e-5 });
/** TF.js `batchNormalization` defaults. */
export const TFJS_BATCH_NORM: BatchNormSettings = Object.freeze({ momentum: 0.99, epsilon: 1e-3 });

type Init = ReturnType<typeof tf.initializers.zeros>;
export interface WeightInit {
  kernelInitializer: Init;
  biasInitializer: Init;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hands out initialisers with a distinct seed each (derived from the model seed and a counter, in
 * construction order), so a model built twice with the same seed has identical weights and no two
 * layers share a random stream.
 */
export class Initializers {
  private counter = 0;

  constructor(
    readonly scheme: InitScheme,
    readonly seed: number,
  ) {}

  /** The next derived seed (a 32-bit integer). */
  nextSeed(): number {
    const base = fmix32((this.seed >>> 0) ^ fmix32(Math.floor(this.seed / 4294967296) >>> 0) ^ 0x5eed5eed);
    return fmix32(base ^ fmix32(++this.counter + 0x9e3779b9));
  }

  private tfjsDefault(): WeightInit {
    return { kernelInitializer: tf.initializers.glorotNormal({ seed: this.nextSeed() }), biasInitializer: tf.initializers.zeros() };
  }

  /**
   * PyTorch's default `nn.Linear`/`nn.Conv2d` init, used by the MNIST references: U(±1/√fan_in) for
   * the weights (kaiming_uniform with a = √5, i.e. varianceScaling scale 1/3, fan-in, uniform) and the
   * same bound for the biases.
   */
  torchDefault(fanIn: number): WeightInit {
    if (this.scheme === 'tfjs') return this.tfjsDefault();
    const bound = 1 / Math.sqrt(fanIn);
    return {
      kernelInitializer: tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: this.nextSeed() }),
      biasInitializer: tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: this.nextSeed() }),
    };
  }

  /**
   * The CIFAR references' conv init: an untruncated N(0, √(2/(k²·C))) with C = C_in (`fanIn`, VGG) or
   * C_out (`fanOut`, ResNet); biases 0. (TF.js `heNormal` is truncated at 2σ, so it is not used.)
   */
  heNormalConv(kernelSize: number, channels: number): WeightInit {
    if (this.scheme === 'tfjs') return this.tfjsDefault();
    return {
      kernelInitializer: tf.initializers.randomNormal({
        mean: 0,
        stddev: Math.sqrt(2 / (kernelSize * kernelSize * channels)),
        seed: this.nextSeed(),
      }),
      biasInitializer: tf.initializers.zeros(),
    };
  }

  /** The CIFAR references' classifier: N(0, 0.01) weights, zero bias. */
  smallNormalLinear(): WeightInit {
    if (this.scheme === 'tfjs') return this.tfjsDefault();
    return {
      kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: this.nextSeed() }),
      biasInitializer: tf.initializers.zeros(),
    };
  }

  batchNorm(override?: Partial<BatchNormSettings>): BatchNormSettings {
    return { ...(this.scheme === 'pytorch' ? PYTORCH_BATCH_NORM : TFJS_BATCH_NORM), ...override };
  }
}
