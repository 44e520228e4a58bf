export * from '../../../tools/testing/penalty-helpers.js';

/** HyperSparse in float64 on the host (README, "The math"), over all tensors as one vector. */
export function hyperSparseRef(tensors: readonly ArrayLike<number>[], kappa: number, alpha = 1, C = 0.6585) {
  const all = tensors.flatMap((w) => Array.from(w));
  const sorted = all.map(Math.abs).sort((a, b) => a - b);
  const t = sorted[Math.floor(kappa * all.length)];
  const s = C / t;
  const A = all.reduce((acc, v) => acc + Math.abs(v), 0);
  const T = all.reduce((acc, v) => acc + Math.tanh(s * Math.abs(v)), 0);
  const c = (s * A) / T;
  const sech2 = (x: number) => {
    const u = Math.exp(-2 * x);
    return (4 * u) / (1 + u) ** 2;
  };
  const grads = tensors.map((w) => Array.from(w, (v) => alpha * Math.sign(v) * c * sech2(s * Math.abs(v))));
  /** The surrogate A·T/sg(T) − A with t, s and sg(T) frozen here, at any point. */
  const surrogate = (xs: readonly ArrayLike<number>[]) => {
    const flat = xs.flatMap((w) => Array.from(w));
    const a = flat.reduce((acc, v) => acc + Math.abs(v), 0);
    const tt = flat.reduce((acc, v) => acc + Math.tanh(s * Math.abs(v)), 0);
    return alpha * ((a * tt) / T - a);
  };
  return { t, s, A, T, c, grads, surrogate };
}
