// Float64 tensors and helpers for reference implementations (never imports src/kernels).
export interface F64Tensor { shape: number[]; data: Float64Array }

export const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export const f64 = (shape: number[], data?: ArrayLike<number>): F64Tensor =>
  ({ shape, data: data ? Float64Array.from(data) : new Float64Array(numel(shape)) });

/** Seeded normal samples (mulberry32 + Box–Muller). */
export function randn(shape: number[], seed: number, scale = 1): F64Tensor {
  const r = rng(seed);
  const t = f64(shape);
  for (let i = 0; i < t.data.length; i++) {
    const u = Math.max(r(), 1e-12), v = r();
    t.data[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return t;
}

export function rand(shape: number[], seed: number, lo = 0, hi = 1): F64Tensor {
  const r = rng(seed);
  const t = f64(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = lo + (hi - lo) * r();
  return t;
}

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

export interface Tol { rtol: number; atol: number }

/** Returns null when |got − want| ≤ atol + rtol·|want| everywhere, else a description of the worst element. */
export function mismatch(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol): string | null {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  let worst = -1, worstExcess = 0, bad = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const lim = tol.atol + tol.rtol * Math.abs(want[i]);
    if (!(err <= lim)) {
      bad++;
      const excess = Number.isFinite(err) ? err - lim : Infinity;
      if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
    }
  }
  return bad ? `${bad}/${want.length} elements off; worst [${worst}]: got ${got[worst]} want ${want[worst]}` : null;
}

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
