import { type F64Tensor, f64 } from './core.js';

/** PyTorch upsample_bilinear2d, written from its documented source-index formula. */
export function resizeRef(x: F64Tensor, oh: number, ow: number, align: boolean): F64Tensor {
  const [N, C, H, W] = x.shape;
  const y = f64([N, C, oh, ow]);
  const src = (o: number, inp: number, out: number) => {
    if (align) return out > 1 ? (o * (inp - 1)) / (out - 1) : 0;
    return Math.max(((o + 0.5) * inp) / out - 0.5, 0);
  };
  for (let p = 0; p < N * C; p++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    const sy = src(oy, H, oh), sx = src(ox, W, ow);
    const y0 = Math.floor(sy), x0 = Math.floor(sx);
    const y1 = y0 + (y0 < H - 1 ? 1 : 0), x1 = x0 + (x0 < W - 1 ? 1 : 0);
    const ly = sy - y0, lx = sx - x0;
    const at = (i: number, j: number) => x.data[p * H * W + i * W + j];
    y.data[(p * oh + oy) * ow + ox] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
  }
  return y;
}

/** The SFL Interp.warp: clamp absolute coordinates, bilinear interpolation (seed-specs §1.3). */
export function warpRef(im: F64Tensor, flow: F64Tensor): F64Tensor {
  const [N, C, H, W] = im.shape;
  const y = f64(im.shape);
  for (let n = 0; n < N; n++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    const si = Math.min(Math.max(i + flow.data[((n * 2) * H + i) * W + j], 0), H - 1);
    const sj = Math.min(Math.max(j + flow.data[((n * 2 + 1) * H + i) * W + j], 0), W - 1);
    const i0 = Math.floor(si), j0 = Math.floor(sj), i1 = Math.min(i0 + 1, H - 1), j1 = Math.min(j0 + 1, W - 1);
    const fi = si - i0, fj = sj - j0;
    for (let c = 0; c < C; c++) {
      const at = (a: number, b: number) => im.data[((n * C + c) * H + a) * W + b];
      y.data[((n * C + c) * H + i) * W + j] = (1 - fi) * ((1 - fj) * at(i0, j0) + fj * at(i0, j1)) + fi * ((1 - fj) * at(i1, j0) + fj * at(i1, j1));
    }
  }
  return y;
}

export function softmaxRef(x: F64Tensor, log: boolean): F64Tensor {
  const [N, C] = x.shape, inner = x.data.length / (N * C);
  const y = f64(x.shape);
  for (let n = 0; n < N; n++) for (let p = 0; p < inner; p++) {
    const at = (c: number) => (n * C + c) * inner + p;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, x.data[at(c)]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x.data[at(c)] - m);
    for (let c = 0; c < C; c++) y.data[at(c)] = log ? x.data[at(c)] - m - Math.log(s) : Math.exp(x.data[at(c)] - m) / s;
  }
  return y;
}

/** Weighted CE (mode 'ce') or CB-iFL focal (mode 'focal') as in seed-specs §1.6; returns a scalar. */
export function xentRef(x: F64Tensor, target: Int32Array, weight: number[] | null, ignore: number,
  mode: 'ce' | 'focal', gamma = 0, alpha = 1, frozen?: F64Tensor): F64Tensor {
  const [N, C] = x.shape, inner = x.data.length / (N * C);
  const lsm = softmaxRef(x, true);
  const lsmFrozen = frozen ? softmaxRef(frozen, true) : lsm;   // the detached (1 − p)^γ uses these
  let sn = 0, sd = 0, focal = 0;
  for (let n = 0; n < N; n++) {
    let num = 0, den = 0;
    for (let p = 0; p < inner; p++) {
      const t = target[n * inner + p];
      if (t === ignore || t < 0 || t >= C) continue;
      const w = weight ? weight[t] : 1;
      const logp = lsm.data[(n * C + t) * inner + p];
      const pf = Math.exp(lsmFrozen.data[(n * C + t) * inner + p]);
      const mod = gamma === 0 ? 1 : Math.pow(1 - pf, gamma);
      num += -w * mod * logp; den += w;
    }
    sn += num; sd += den;
    if (den > 0) focal += (alpha * num) / den / N;
  }
  return f64([], [mode === 'ce' ? (sd > 0 ? sn / sd : 0) : focal]);
}
