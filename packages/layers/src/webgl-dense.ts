import * as tf from '@tensorflow/tfjs';

/**
 * A chain of Dense layers at batch 1 on webgl, one WebGL program per layer, run through the webgl
 * backend's `compileAndRun` (tfjs's route for custom WebGL ops).
 *
 * tfjs-backend-webgl stores a matrix packed (WEBGL_PACK, its default): a texel holds a 2×2 block,
 * (r, c) (r, c+1) (r+1, c) (r+1, c+1), and a program writes one texel per fragment. Its matmul writes
 * [1, units] as one row of texels, each with two units (and two padding values for a second row that
 * does not exist): half of every texel and one texel row, while fragments are shaded in 2×2 blocks. On
 * SwiftShader (and any GPU) that is most of a batch-1 Dense layer's time. Here a hidden layer's output
 * is laid out as a [4, columns] matrix instead (`vectorLayout`: unit u at (u / columns, u % columns)),
 * four units in each texel and two texel rows, and the next layer's program reads it so; only the last
 * layer writes [1, units], the result. A softmax after the last layer runs in its program as well (tfjs:
 * five more draws), each texel computing all the row's units, for layers within `WEBGL_SOFTMAX_LIMITS`.
 * Textures whose shape is not the matrix's own (tfjs packs [1, n] as [2, n]) are read with `texelFetch`
 * where tfjs's sampler would compute and divide a flat index on every read (`texelAccess`).
 */

/** The activations the programs apply; `softmax` (last layer only) over the row's units, as tfjs's. */
export type WebglDenseActivation = 'linear' | 'relu' | 'softmax';

/** A Dense layer: x [1, inputs] · kernel [inputs, units] (+ bias [units]), then `activation`. */
export interface WebglDenseShape {
  readonly inputs: number;
  readonly units: number;
  readonly bias: boolean;
  readonly activation: WebglDenseActivation;
}

/** How a [1, n] activation lies in its texture: unit u at (u / columns, u % columns) of [rows, columns]. */
interface VectorLayout {
  readonly rows: number;
  readonly columns: number;
}

/** A hidden layer's output: [4, columns], columns even (a texel never straddles two rows of units). */
const vectorLayout = (units: number): VectorLayout => ({ rows: 4, columns: 2 * Math.ceil(units / 8) });

/**
 * Bounds on a softmax in the layer's program, where every output texel computes all the units (it needs
 * their sum) and so reads the whole kernel: at most `maxUnits` units (a local array each) and
 * `maxWeights` weights. Beyond them the last layer is linear and tfjs's softmax follows.
 */
const WEBGL_SOFTMAX_LIMITS = { maxUnits: 128, maxWeights: 16384 } as const;

export const softmaxFits = (shape: WebglDenseShape): boolean =>
  shape.units <= WEBGL_SOFTMAX_LIMITS.maxUnits && shape.inputs * shape.units <= WEBGL_SOFTMAX_LIMITS.maxWeights;

/** tfjs-backend-webgl's program description (`GPGPUProgram`), the part of it used here. */
export interface WebglProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs: boolean;
  packedOutput: boolean;
}

/** The webgl backend, the part of it used here (`MathBackendWebGL.compileAndRun`). */
export interface WebglBackend {
  compileAndRun(program: WebglProgram, inputs: tf.TensorInfo[]): tf.TensorInfo;
}

/**
 * The active backend when it is tfjs's webgl one with packed textures (its default), else null: the
 * programs' inputs are packed, and on an unpacked backend each would cost a packing draw.
 */
export function activeWebglBackend(): WebglBackend | null {
  if (tf.getBackend() !== 'webgl' || !tf.env().getBool('WEBGL_PACK')) return null;
  const backend = tf.backend() as unknown as Partial<WebglBackend>;
  return typeof backend.compileAndRun === 'function' ? (backend as WebglBackend) : null;
}

/** How a program reads an input: with tfjs's sampler (`getX(row, col)`), or by `texelFetch`. */
type TexelAccess = 'sampler' | 'fetch';

/** Begins the programs' source (the browser test counts them among the backend's draws). */
const WEBGL_DENSE_MARK = '// @sparsify/layers dense';

/**
 * GLSL that runs `body(a, p)` over the inputs of x laid out as `layout`: `a` a vec2 of inputs 2p, 2p + 1,
 * or (`single`) a float, input 2p alone, where the number of inputs is odd.
 */
function forInputPairs(inputs: number, layout: VectorLayout, body: (p: string, single: boolean) => string): string {
  const pairs = Math.floor(inputs / 2);
  const { rows, columns } = layout;
  const loops =
    rows === 1
      ? `for (int p = 0; p < ${pairs}; p++) { vec2 a = xAt(0, p).xy; ${body('p', false)} }`
      : `for (int i = 0; i < ${rows}; i++) { int tr = i / 2; bool odd = i != 2 * tr; ` +
        `for (int cq = 0; cq < ${columns / 2}; cq++) { int p = i * ${columns / 2} + cq; if (p < ${pairs}) { ` +
        `vec4 t = xAt(tr, cq); vec2 a = odd ? t.zw : t.xy; ${body('p', false)} } } }`;
  if (inputs % 2 === 0) return loops;
  const last = inputs - 1;
  const [row, column] = [Math.floor(last / columns), last % columns];
  return `${loops}\n{ vec4 t = xAt(${row >> 1}, ${column >> 1}); float a = t.${row % 2 ? 'z' : 'x'}; ${body(String(pairs), true)} }`;
}

/**
 * The program of `shape` at batch 1: x laid out as `input`, the output as `output` (the last layer's
 * `{ rows: 1, columns: units }` is [1, units] itself). `access` says how x and w are read. Each output
 * texel holds units u0, u0 + 1 and (with two output rows) u0 + columns, u0 + columns + 1; the weight texel
 * (p, q) holds kernel rows 2p, 2p + 1 × columns 2q, 2q + 1, so a · w.xy + a' · w.zw adds two inputs to
 * two units.
 */
function webglDenseProgram(
  shape: WebglDenseShape,
  input: VectorLayout,
  output: VectorLayout,
  access: readonly [TexelAccess, TexelAccess],
): WebglProgram {
  const read = (name: string, how: TexelAccess) =>
    how === 'fetch' ? `texelFetch(${name}, ivec2(pc, pr), 0)` : `get${name.toUpperCase()}(2 * pr, 2 * pc)`;
  const add = (into: string, q: string) => (p: string, single: boolean) =>
    `{ vec4 w = wAt(${p}, ${q}); ${into} += ${single ? 'a * w.xy' : 'a.x * w.xy + a.y * w.zw'}; }`;
  const both = (p: string, single: boolean) => `${add('y0', 'q0')(p, single)} ${add('y1', 'q1')(p, single)}`;
  const bias = (into: string, u: string) => (shape.bias ? `${into} += getB(${u}).xy;` : '');
  const lines = [
    WEBGL_DENSE_MARK,
    `vec4 xAt(int pr, int pc) { return ${read('x', access[0])}; }`,
    `vec4 wAt(int pr, int pc) { return ${read('w', access[1])}; }`,
    // tfjs's relu keeps NaN (x < 0 is false for it).
    'vec2 relu2(vec2 v) { return vec2(v.x < 0.0 ? 0.0 : v.x, v.y < 0.0 ? 0.0 : v.y); }',
    'void main() {',
    'ivec2 rc = getOutputCoords();',
    `int u0 = rc.x * ${output.columns} + rc.y;`,
  ];
  if (shape.activation === 'softmax') {
    // Every unit (the softmax needs them all), then exp(z − max) / Σ exp(z − max), as tfjs.
    const { units } = shape;
    lines.push(
      `vec2 z[${Math.ceil(units / 2)}];`,
      `for (int q = 0; q < ${Math.ceil(units / 2)}; q++) {`,
      'vec2 y = vec2(0.0);',
      forInputPairs(shape.inputs, input, add('y', 'q')),
      bias('y', '2 * q'),
      'z[q] = y;',
      '}',
      'float m = z[0].x;',
      // imod, not %: WebGL 1's GLSL has no %.
      `for (int u = 1; u < ${units}; u++) m = max(m, imod(u, 2) == 0 ? z[u / 2].x : z[u / 2].y);`,
      'float s = 0.0; vec2 e = vec2(0.0);',
      `for (int u = 0; u < ${units}; u++) { float v = exp((imod(u, 2) == 0 ? z[u / 2].x : z[u / 2].y) - m); s += v; ` +
        'if (u == u0) e.x = v; if (u == u0 + 1) e.y = v; }',
      'setOutput(vec4(e / s, 0.0, 0.0));',
    );
  } else {
    const act = shape.activation === 'relu' ? 'relu2' : '';
    const second = output.rows > 1;
    lines.push(
      'int q0 = u0 / 2;',
      second ? `int q1 = q0 + ${output.columns / 2};` : '',
      'vec2 y0 = vec2(0.0); vec2 y1 = vec2(0.0);',
      forInputPairs(shape.inputs, input, second ? both : add('y0', 'q0')),
      bias('y0', 'u0'),
      second ? bias('y1', `u0 + ${output.columns}`) : '',
      `setOutput(vec4(${act}(y0), ${act}(y1)));`,
    );
  }
  lines.push('}');
  return {
    variableNames: shape.bias ? ['x', 'w', 'b'] : ['x', 'w'],
    outputShape: [output.rows, output.columns],
    userCode: lines.filter((l) => l !== '').join('\n'),
    packedInputs: true,
    packedOutput: true,
  };
}

/** What tfjs-backend-webgl keeps of a tensor's texture (its `texData`), the part used here. */
interface TextureData {
  texture?: unknown;
  slice?: unknown;
  isPacked?: boolean;
  shape?: number[];
  texShape?: [number, number];
}

/** The backend's own texture records and upload (not public API: every use below checks for them). */
interface WebglInternals {
  texData?: { get?(id: unknown): TextureData | undefined };
  uploadToGPU?(id: unknown): void;
}

/**
 * `t`'s texture record, with `t` uploaded first where it has no texture yet, packed and of `t`'s shape:
 * what the backend itself does with a packed program's input (`runWebGLProgram`), done before the program
 * is written, so that `texelAccess` sees the texture a fresh input (values on the CPU) will have.
 */
function uploadedTexture(backend: WebglBackend, t: tf.Tensor): TextureData | undefined {
  const internals = backend as WebglInternals;
  const data = internals.texData?.get?.(t.dataId);
  if (data && data.texture == null && typeof internals.uploadToGPU === 'function') {
    data.isPacked = true;
    data.shape = t.shape.slice();
    internals.uploadToGPU(t.dataId);
  }
  return data;
}

/**
 * `fetch` where matrix `t` [rows, cols] is a packed texture laid out row by row (its texel (row/2, col/2)
 * at those coordinates) but not of the matrix's own shape, so that tfjs's sampler would take its general
 * path (a flat index, divided, per read): tfjs packs [1, n] as [2, n]. Where the shapes agree the sampler
 * is cheap already, and measured faster than `texelFetch` on SwiftShader. Anything else (another
 * layout, a slice of another texture, WebGL 1, a record not as expected) is `sampler`, always right.
 */
function texelAccess(backend: WebglBackend, t: tf.Tensor): TexelAccess {
  if (tf.env().getNumber('WEBGL_VERSION') !== 2) return 'sampler';
  const data = uploadedTexture(backend, t);
  const shape = data?.shape;
  const texShape = data?.texShape;
  if (!data?.texture || data.slice || data.isPacked !== true || !shape || shape.length < 2 || !texShape) return 'sampler';
  const [rows, cols] = t.shape;
  const leading = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const rowByRow = leading === 1 && shape[shape.length - 2] === rows && shape[shape.length - 1] === cols;
  const samplerIsDirect = texShape[0] === rows && texShape[1] === cols;
  return rowByRow && !samplerIsDirect && Math.ceil(texShape[1] / 2) === Math.ceil(cols / 2) ? 'fetch' : 'sampler';
}

/** One layer of a chain: its shape and its weights, read at each call. */
export interface WebglDenseLayer {
  readonly shape: WebglDenseShape;
  readonly kernel: tf.LayerVariable;
  readonly bias: tf.LayerVariable | null;
}

/**
 * A chain of Dense layers (each reading the one before) at batch 1 on webgl, one draw per layer. Its
 * programs are written once for each way of reading their inputs (`texelAccess`) and kept.
 */
export class WebglDenseChain {
  private readonly programs = new Map<string, WebglProgram>();

  constructor(private readonly layers: readonly WebglDenseLayer[]) {}

  /** The chain on x [1, inputs]: [1, units of the last layer], a new tensor (the hidden ones in the caller's tidy). */
  run(backend: WebglBackend, x: tf.Tensor): tf.Tensor {
    let h = x;
    this.layers.forEach(({ kernel, bias }, k) => {
      const w = kernel.read();
      const b = bias?.read();
      const program = this.program(k, texelAccess(backend, h), texelAccess(backend, w));
      h = tf.engine().makeTensorFromTensorInfo(backend.compileAndRun(program, b ? [h, w, b] : [h, w]));
    });
    return h;
  }

  /** Layer k's program: its input laid out as the layer before left it, its output [1, units] if last. */
  private program(k: number, xAccess: TexelAccess, wAccess: TexelAccess): WebglProgram {
    const key = `${k} ${xAccess} ${wAccess}`;
    let program = this.programs.get(key);
    if (!program) {
      const { shape } = this.layers[k];
      const input = k === 0 ? { rows: 1, columns: shape.inputs } : vectorLayout(shape.inputs);
      const output = k === this.layers.length - 1 ? { rows: 1, columns: shape.units } : vectorLayout(shape.units);
      program = webglDenseProgram(shape, input, output, [xAccess, wAccess]);
      this.programs.set(key, program);
    }
    return program;
  }
}
