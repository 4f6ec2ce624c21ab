// Float64 references for the restoration metrics and the inverse field.
import { type F64Tensor, f64 } from './core.js';
import { warpRef } from './image.js';

export function imageErrorsRef(a: F64Tensor, t: F64Tensor): F64Tensor {
  const n = a.shape[0], m = a.data.length / n, out = f64([n, 2]);
  for (let b = 0; b < n; b++) for (let i = 0; i < m; i++) {
    const d = a.data[b * m + i] - t.data[b * m + i];
    out.data[2 * b] += d * d; out.data[2 * b + 1] += Math.abs(d);
  }
  return out;
}

export function flowEpeRef(f: F64Tensor, g: F64Tensor): F64Tensor {
  const [n, c, h, w] = f.shape, hw = h * w, out = f64([n, c / 2]);
  for (let p = 0; p < (n * c) / 2; p++) for (let i = 0; i < hw; i++) {
    out.data[p] += Math.hypot(f.data[2 * p * hw + i] - g.data[2 * p * hw + i], f.data[(2 * p + 1) * hw + i] - g.data[(2 * p + 1) * hw + i]);
  }
  return out;
}

/** u ← −d(p + u), from u = −d, per frame pair of channels. */
export function inverseFieldRef(d: F64Tensor, iterations: number): F64Tensor {
  const [n, c, h, w] = d.shape, frames = f64([n * (c / 2), 2, h, w], d.data);
  let u = f64(frames.shape, frames.data.map((v) => -v));
  for (let i = 0; i < iterations; i++) u = f64(u.shape, warpRef(frames, u).data.map((v) => -v));
  return f64([n, c, h, w], u.data);
}
