import { type F64Tensor, f64 } from './core.js';

export const map = (x: F64Tensor, f: (v: number) => number): F64Tensor => f64(x.shape, x.data.map(f));

function bshape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const da = a[a.length - r + i] ?? 1, db = b[b.length - r + i] ?? 1;
    return da === 1 ? db : da;
  });
}

/** Broadcasting binary op by explicit index arithmetic. */
export function binary(a: F64Tensor, b: F64Tensor, f: (x: number, y: number) => number): F64Tensor {
  const shape = bshape(a.shape, b.shape);
  const out = f64(shape);
  const idx = (t: F64Tensor, coords: number[]) => {
    let off = 0;
    const o = shape.length - t.shape.length;
    t.shape.forEach((d, i) => { off = off * d + (d === 1 ? 0 : coords[i + o]); });
    return off;
  };
  const coords = new Array(shape.length).fill(0);
  for (let i = 0; i < out.data.length; i++) {
    let rem = i;
    for (let d = shape.length - 1; d >= 0; d--) { coords[d] = rem % shape[d]; rem = Math.floor(rem / shape[d]); }
    out.data[i] = f(a.data[idx(a, coords)], b.data[idx(b, coords)]);
  }
  return out;
}

/** Σ over axes, keeping the others in order. */
export function sumAxes(x: F64Tensor, axes: number[], scale = 1): F64Tensor {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const out = f64(kept.map((i) => x.shape[i]));
  const coords = new Array(x.shape.length).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let rem = i;
    for (let d = x.shape.length - 1; d >= 0; d--) { coords[d] = rem % x.shape[d]; rem = Math.floor(rem / x.shape[d]); }
    let o = 0;
    for (const k of kept) o = o * x.shape[k] + coords[k];
    out.data[o] += x.data[i] * scale;
  }
  return out;
}
