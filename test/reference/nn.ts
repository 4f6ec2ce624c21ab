import { type F64Tensor, f64 } from './core.js';

export function batchNormRef(x: F64Tensor, g: F64Tensor, b: F64Tensor, eps: number,
  running?: { mean: F64Tensor; var: F64Tensor }): F64Tensor & { mean: number[]; var: number[] } {
  const [N, C, H, W] = x.shape, M = N * H * W;
  const y = f64(x.shape);
  const means: number[] = [], vars: number[] = [];
  for (let c = 0; c < C; c++) {
    let mean = 0, v = 0;
    if (running) { mean = running.mean.data[c]; v = running.var.data[c]; } else {
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) mean += x.data[(n * C + c) * H * W + i];
      mean /= M;
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) v += (x.data[(n * C + c) * H * W + i] - mean) ** 2;
      v /= M;
    }
    means.push(mean); vars.push(v);
    for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) {
      const j = (n * C + c) * H * W + i;
      y.data[j] = ((x.data[j] - mean) / Math.sqrt(v + eps)) * g.data[c] + b.data[c];
    }
  }
  return Object.assign(y, { mean: means, var: vars });
}

/** PyTorch MaxPool2d; `ceil`: ceil_mode, whose last window may hang over the end (it must start before the right padding). */
export function maxPoolRef(x: F64Tensor, k: number, s: number, p: number, ceil = false): F64Tensor {
  const [N, C, H, W] = x.shape;
  const size = (n: number) => {
    let o = Math.floor((n + 2 * p - k + (ceil ? s - 1 : 0)) / s) + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
  };
  const OH = size(H), OW = size(W);
  const y = f64([N, C, OH, OW]);
  for (let pl = 0; pl < N * C; pl++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let best = -Infinity;
    for (let r = 0; r < k; r++) for (let q = 0; q < k; q++) {
      const iy = oy * s + r - p, ix = ox * s + q - p;
      if (iy >= 0 && iy < H && ix >= 0 && ix < W) best = Math.max(best, x.data[pl * H * W + iy * W + ix]);
    }
    y.data[(pl * OH + oy) * OW + ox] = best;
  }
  return y;
}

export function avgPoolRef(x: F64Tensor, k: number, s: number): F64Tensor {
  const [N, C, H, W] = x.shape;
  const OH = Math.floor((H - k) / s) + 1, OW = Math.floor((W - k) / s) + 1;
  const y = f64([N, C, OH, OW]);
  for (let pl = 0; pl < N * C; pl++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let acc = 0;
    for (let r = 0; r < k; r++) for (let q = 0; q < k; q++) acc += x.data[pl * H * W + (oy * s + r) * W + ox * s + q];
    y.data[(pl * OH + oy) * OW + ox] = acc / (k * k);
  }
  return y;
}

export function concatRef(xs: F64Tensor[]): F64Tensor {
  const [N, , ...rest] = xs[0].shape;
  const inner = rest.reduce((a, b) => a * b, 1);
  const C = xs.reduce((a, x) => a + x.shape[1], 0);
  const y = f64([N, C, ...rest]);
  for (let n = 0; n < N; n++) {
    let off = 0;
    for (const x of xs) {
      const len = x.shape[1] * inner;
      for (let i = 0; i < len; i++) y.data[n * C * inner + off * inner + i] = x.data[n * len + i];
      off += x.shape[1];
    }
  }
  return y;
}

/** torch layer_norm over the trailing w.shape dimensions (biased variance), float64. */
export function layerNormRef(x: F64Tensor, w: F64Tensor, b: F64Tensor, eps: number): F64Tensor {
  const cols = w.data.length, rows = x.data.length / cols, y = f64(x.shape);
  for (let r = 0; r < rows; r++) {
    let m = 0, v = 0;
    for (let j = 0; j < cols; j++) m += x.data[r * cols + j];
    m /= cols;
    for (let j = 0; j < cols; j++) v += (x.data[r * cols + j] - m) ** 2;
    v /= cols;
    for (let j = 0; j < cols; j++) y.data[r * cols + j] = ((x.data[r * cols + j] - m) / Math.sqrt(v + eps)) * w.data[j] + b.data[j];
  }
  return y;
}
