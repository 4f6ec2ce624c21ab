import { type F64Tensor, f64 } from './core.js';

export interface ConvRefOpts { stride?: number[]; padding?: number[]; dilation?: number[]; outputPadding?: number[]; groups?: number }

export function conv2dRef(x: F64Tensor, w: F64Tensor, b: F64Tensor | null, o: ConvRefOpts): F64Tensor {
  const [N, , H, W] = x.shape, [K, C, R, S] = w.shape;   // C: input channels per group
  const G = o.groups ?? 1, CX = x.shape[1], KG = K / G;
  const [sh, sw] = o.stride ?? [1, 1], [ph, pw] = o.padding ?? [0, 0], [dh, dw] = o.dilation ?? [1, 1];
  const OH = Math.floor((H + 2 * ph - dh * (R - 1) - 1) / sh) + 1, OW = Math.floor((W + 2 * pw - dw * (S - 1) - 1) / sw) + 1;
  const y = f64([N, K, OH, OW]);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let acc = b ? b.data[k] : 0;
    const c0 = Math.floor(k / KG) * C;             // the group's first input channel
    for (let c = 0; c < C; c++) for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) {
      const iy = oy * sh + r * dh - ph, ix = ox * sw + s * dw - pw;
      if (iy >= 0 && iy < H && ix >= 0 && ix < W) acc += x.data[((n * CX + c0 + c) * H + iy) * W + ix] * w.data[((k * C + c) * R + r) * S + s];
    }
    y.data[((n * K + k) * OH + oy) * OW + ox] = acc;
  }
  return y;
}

/** Scatter form, as PyTorch documents ConvTranspose2d: each input pixel spreads w over the output. */
export function convTranspose2dRef(x: F64Tensor, w: F64Tensor, b: F64Tensor | null, o: ConvRefOpts): F64Tensor {
  const [N, Cin, H, W] = x.shape, [, Cout, R, S] = w.shape;
  const [sh, sw] = o.stride ?? [1, 1], [ph, pw] = o.padding ?? [0, 0], [dh, dw] = o.dilation ?? [1, 1];
  const [oph, opw] = o.outputPadding ?? [0, 0];
  const OH = (H - 1) * sh - 2 * ph + dh * (R - 1) + oph + 1, OW = (W - 1) * sw - 2 * pw + dw * (S - 1) + opw + 1;
  const y = f64([N, Cout, OH, OW]);
  for (let n = 0; n < N; n++) for (let co = 0; co < Cout; co++) {
    for (let i = 0; i < OH * OW; i++) y.data[(n * Cout + co) * OH * OW + i] = b ? b.data[co] : 0;
  }
  for (let n = 0; n < N; n++) for (let ci = 0; ci < Cin; ci++) for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) {
    const v = x.data[((n * Cin + ci) * H + iy) * W + ix];
    for (let co = 0; co < Cout; co++) for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) {
      const oy = iy * sh - ph + r * dh, ox = ix * sw - pw + s * dw;
      if (oy >= 0 && oy < OH && ox >= 0 && ox < OW) y.data[((n * Cout + co) * OH + oy) * OW + ox] += v * w.data[((ci * Cout + co) * R + r) * S + s];
    }
  }
  return y;
}
