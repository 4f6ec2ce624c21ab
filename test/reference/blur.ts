// float64 references for the simulator's blur stage (src/sim/blur.ts).
import { type F64Tensor, f64 } from './core.js';

export function gaussianBlurRef(x: F64Tensor, sigma: number): F64Tensor {
  const [n, c, h, w] = x.shape, R = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * R + 1 }, (_, i) => Math.exp(-0.5 * ((i - R) / sigma) ** 2));
  const norm = k.reduce((a, b) => a + b, 0);
  const pass = (src: Float64Array, vertical: boolean) => {
    const out = new Float64Array(src.length);
    for (let p = 0; p < n * c; p++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      let acc = 0;
      for (let t = -R; t <= R; t++) {
        const ii = vertical ? Math.min(Math.max(i + t, 0), h - 1) : i, jj = vertical ? j : Math.min(Math.max(j + t, 0), w - 1);
        acc += k[t + R] * src[(p * h + ii) * w + jj];
      }
      out[(p * h + i) * w + j] = acc / norm;
    }
    return out;
  };
  return f64(x.shape, pass(pass(x.data, false), true));
}

/** Blend of blur levels σ_k = blur·k/3 (k = 0…3) at t = 3·clamp(m, 0, 1), as BLUR_SELECT. */
export function variableBlurRef(x: F64Tensor, map: F64Tensor, blur: number): F64Tensor {
  const [n, c, h, w] = x.shape, hw = h * w;
  const levels = [x.data, ...[1, 2, 3].map((k) => gaussianBlurRef(x, (blur * k) / 3).data)];
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < hw; p++) {
    const t = Math.min(Math.max(map.data[b * hw + p], 0), 1) * 3, i = Math.min(Math.floor(t), 2), f = t - i;
    const idx = (b * c + ch) * hw + p;
    out[idx] = levels[i][idx] + f * (levels[i + 1][idx] - levels[i][idx]);
  }
  return f64(x.shape, out);
}
