/**
 * Fuzz cases: what to damage or craft in which base file. Cases are plain JSON (the corpus is a file of
 * them) and independent of the exact bytes of the bases: positions and indices are reduced modulo the
 * length they index when applied, so a case means the same thing against any version of the code.
 */

export type Target = 'sparse' | 'checkpoint' | 'idx' | 'cifar';

/** A JSON value, with the strings "$NaN", "$Infinity", "$-Infinity" standing for those numbers. */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export type Op =
  /** Flip bit `bit` of the byte at `at` (mod length; counted from the end with `fromEnd`) of file `file` (an index into the target's files). */
  | { op: 'flip'; file: number; at: number; bit: number; fromEnd?: boolean }
  | { op: 'byte'; file: number; at: number; value: number }
  /** Keep the first `keep` (a fraction) of the file. */
  | { op: 'truncate'; file: number; keep: number }
  | { op: 'extend'; file: number; bytes: number }
  /** Set or delete a field of the JSON (sparse: model.sparse.json; checkpoint: the decoded value). */
  | { op: 'set'; path: (string | number)[]; value: Value }
  | { op: 'delete'; path: (string | number)[] }
  /** Add `delta` to a numeric field (`count` − 5). */
  | { op: 'add'; path: (string | number)[]; delta: number }
  /** Sparse: the manifest and weights replaced by one consistent, nearly empty csr kernel of rows × cols. */
  | { op: 'huge-csr'; rows: number; cols: number }
  /** Recompute the checksums (a crafted file rather than a damaged one). */
  | { op: 'reseal' }
  /** Sparse topology: remove layer `layer`, point its first input at a missing layer, at node 5, or at itself. */
  | { op: 'topology'; kind: 'remove-layer' | 'missing-ref' | 'node-index' | 'cycle'; layer: number }
  | { op: 'weights'; kind: 'drop' | 'duplicate' | 'swap'; index: number }
  /** Sparse bytes: stored value `k` of weight `weight` := bit pattern `bits` (NaN, ∞, 0…). */
  | { op: 'value'; weight: number; k: number; bits: number }
  /** Sparse csr: column index `k` of weight `weight` := `value`. */
  | { op: 'col-index'; weight: number; k: number; value: number }
  | { op: 'row-ptr'; weight: number; row: number; value: number }
  /** Sparse bitmask: toggle bit `bit` (mod the mask's bits, past the size included) of weight `weight`. */
  | { op: 'mask-bit'; weight: number; bit: number }
  /** Sparse (loaded from a directory): weightsPath out of the directory. */
  | { op: 'escape'; kind: 'parent' | 'absolute' | 'symlink' }
  /** The file becomes a FIFO, or a symbolic link loop. */
  | { op: 'fifo'; file: number }
  | { op: 'link-loop'; file: number }
  /** IDX header: magic, or dimension `index`, := value (big-endian uint32). */
  | { op: 'idx-header'; file: number; index: number; value: number }
  /** A label byte (IDX labels or CIFAR records) := value. */
  | { op: 'label'; file: number; index: number; value: number };

export interface Case {
  /** A name (corpus) or the case's index in a seeded run. */
  name: string;
  target: Target;
  /** Which base of the target (e.g. `csr-float32`). */
  base: string;
  /** Sparse only: `decode` (decodeSparse on bytes) or `load` (loadSparse on a directory: topology built). */
  via?: 'decode' | 'load';
  ops: Op[];
  /** Corpus cases: the outcome the fixed code gives (see outcomes.ts). */
  expected?: string;
}

export const SPARSE_BASES = ['bitmask-float32', 'csr-float32', 'bitmask-float16', 'csr-int8'] as const;
export const IDX_BASES = ['raw', 'gzip'] as const;

/**
 * mulberry32: a small seeded generator, kept here rather than imported from a package under test, so that
 * a seed means the same cases against any version of the packages (the before/after counts).
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE: Value[] = [
  -1,
  0,
  1,
  2,
  7,
  255,
  256,
  65536,
  20000,
  2 ** 31,
  2 ** 32 + 1,
  1e15,
  1.5,
  -0.5,
  '$NaN',
  '$Infinity',
  '$-Infinity',
  null,
  'x',
  '',
  [],
  {},
  true,
  [20000, 20000],
  [0],
  [3, 0],
  [-1, 10],
  'float16',
  'int8',
  'raw',
  'float32',
  'csr',
  'bitmask',
  'dense',
  'uint8',
  'uint32',
  'int32',
  'bool',
];
const SPARSE_FIELDS = [
  'shape',
  'dtype',
  'encoding',
  'values',
  'scale',
  'count',
  'rows',
  'cols',
  'rowPtr',
  'colIndex',
  'byteOffset',
  'byteLength',
  'name',
];
const TOP_FIELDS = ['format', 'formatVersion', 'weightsPath', 'weightsByteLength', 'weights', 'modelTopology', 'artifacts', 'checksum'];
/** Float32 bit patterns: NaN, ∞, −∞, 0, −0, the largest finite, a denormal. */
const BITS = [0x7fc00000, 0x7f800000, 0xff800000, 0, 0x80000000, 0x7f7fffff, 1, 0x7e00, 0x7c00, 0xfc00];
/** Checkpoint fields the loop reads, and a few inside them. */
const CHECKPOINT_PATHS: (string | number)[][] = [
  ['phase'],
  ['epoch'],
  ['phaseEpoch'],
  ['step'],
  ['seed'],
  ['version'],
  ['history'],
  ['progress'],
  ['samples'],
  ['trainSeconds'],
  ['model'],
  ['model', 0],
  ['model', 1],
  ['optimizer'],
  ['optimizer', 'names'],
  ['optimizer', 'shapes'],
  ['optimizer', 'values', 0],
  ['fingerprint'],
  ['fingerprint', 'shapes'],
  ['fingerprint', 'shapes', 0],
  ['penaltyVariables'],
  ['penaltyState'],
  ['masks'],
  ['artSnapshots'],
  ['accuracy'],
];

/**
 * Case `index` of the seeded run `seed`: half sparse models (a fifth of them loaded from a directory),
 * a quarter checkpoints, an eighth each IDX and CIFAR directories; one to three operations each.
 */
export function makeCase(seed: number, index: number): Case {
  const r = rng((seed * 0x9e3779b1) ^ (index * 0x85ebca77) ^ 0x1234567);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)];
  const u32 = () => Math.floor(r() * 2 ** 32);
  const slot = r();
  const target: Target = slot < 0.5 ? 'sparse' : slot < 0.75 ? 'checkpoint' : slot < 0.875 ? 'idx' : 'cifar';
  const n = 1 + int(3);
  const ops: Op[] = [];
  const damage = (files: number): Op => {
    const kind = int(4);
    const file = int(files);
    if (kind === 0) return { op: 'flip', file, at: u32(), bit: int(8) };
    if (kind === 1) return { op: 'byte', file, at: u32(), value: pick([0, 0xff, 0x7f, 0x80, int(256)]) };
    if (kind === 2) return { op: 'truncate', file, keep: r() };
    return { op: 'extend', file, bytes: 1 + int(64) };
  };
  let crafted = false;
  if (target === 'sparse') {
    const via = r() < 0.2 ? 'load' : 'decode';
    for (let i = 0; i < n; i++) {
      const kind = int(10);
      if (kind <= 1) ops.push(damage(1));
      else if (kind <= 3) ops.push({ op: 'set', path: ['weights', u32(), pick(SPARSE_FIELDS)], value: pick(HOSTILE) });
      else if (kind === 4)
        ops.push(
          r() < 0.5
            ? { op: 'set', path: [pick(TOP_FIELDS)], value: pick(HOSTILE) }
            : { op: 'delete', path: r() < 0.5 ? [pick(TOP_FIELDS)] : ['weights', u32(), pick(SPARSE_FIELDS)] },
        );
      else if (kind === 5)
        ops.push({ op: 'topology', kind: pick(['remove-layer', 'missing-ref', 'node-index', 'cycle'] as const), layer: u32() });
      else if (kind === 6) ops.push({ op: 'weights', kind: pick(['drop', 'duplicate', 'swap'] as const), index: u32() });
      else if (kind === 7) ops.push({ op: 'value', weight: u32(), k: u32(), bits: pick(BITS) }, { op: 'reseal' });
      else if (kind === 8)
        ops.push(
          r() < 0.5
            ? { op: 'col-index', weight: u32(), k: u32(), value: pick([10, 11, 250, 255, 65535, 2 ** 31, u32() % 12]) }
            : { op: 'row-ptr', weight: u32(), row: u32(), value: pick([0, 1, 5, 1000, 65535, u32() % 40]) },
        );
      else ops.push({ op: 'mask-bit', weight: u32(), bit: u32() });
    }
    if (via === 'load' && r() < 0.15) ops.push({ op: 'escape', kind: pick(['parent', 'absolute', 'symlink'] as const) });
    // Half the cases crafted (checksums recomputed), so the checks behind the checksum are reached too.
    crafted = r() < 0.5;
    if (crafted && !ops.some((o) => o.op === 'reseal')) ops.push({ op: 'reseal' });
    return { name: `#${index}`, target, base: pick(SPARSE_BASES), via, ops };
  }
  if (target === 'checkpoint') {
    crafted = r() < 0.5;
    for (let i = 0; i < n; i++) {
      if (crafted) {
        if (r() < 0.8) ops.push({ op: 'set', path: pick(CHECKPOINT_PATHS), value: pick(HOSTILE) });
        else ops.push({ op: 'delete', path: pick(CHECKPOINT_PATHS) });
      } else ops.push(damage(1));
    }
    if (crafted) ops.push({ op: 'reseal' });
    return { name: `#${index}`, target, base: 'tiny', ops };
  }
  const files = 4;
  for (let i = 0; i < n; i++) {
    const kind = int(4);
    if (kind <= 1) ops.push(damage(target === 'idx' ? files : 6));
    else if (kind === 2 && target === 'idx')
      ops.push({
        op: 'idx-header',
        file: int(files),
        index: int(4),
        value: pick([0, 1, 3, 4, 20, 21, 2 ** 31, 0x803, 0x801, 0x80d, u32()]),
      });
    else ops.push({ op: 'label', file: int(target === 'idx' ? files : 6), index: u32(), value: pick([9, 10, 11, 99, 100, 200, 255]) });
  }
  return { name: `#${index}`, target, base: target === 'idx' ? pick(IDX_BASES) : 'cifar10', ops };
}
