// Float64 transcription of NVIDIA's label relaxation (sdcnet branch): the targets of
// transforms.RelaxedBoundaryLossToTensor (shifted one-hots summed and clipped, strict classes,
// find_boundaries 'thick' doubling after rlx_off_epoch) and loss.ImgWtLossSoftNLL (customsoftmax,
// per-image class weights, the 1/border_weights factor taken from the whole batch, as the
// reference does, when `batchBug`), and ImageBasedCrossEntropyLoss2d. Written from the reference's
// formulas step by step, sharing nothing with the kernels.
import { type F64Tensor, f64 } from './core.js';

export interface RelaxRefOptions { ignore: number; border: number; strict: number[]; bound: number; off: boolean; batchBug: boolean }

/** Multi-hot targets [N][C+1][H][W] (channel C: ignore / off-image). */
export function relaxedTargetsRef(labels: Int32Array, N: number, C: number, H: number, W: number, o: RelaxRefOptions): Float64Array {
  const M = new Float64Array(N * (C + 1) * H * W);
  const B = o.off ? Math.floor(o.border / 2) : o.border;
  for (let n = 0; n < N; n++) {
    const img = (y: number, x: number) => {
      const v = labels[(n * H + y) * W + x];
      return v === o.ignore || v < 0 || v >= C ? C : v;
    };
    const at = (c: number, y: number, x: number) => ((n * (C + 1) + c) * H + y) * W + x;
    for (let i = -B; i <= B; i++) for (let j = -B; j <= B; j++) {          // shift(img, (i, j), cval = C)
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const sy = y - i, sx = x - j;
        const v = sy >= 0 && sy < H && sx >= 0 && sx < W ? img(sy, sx) : C;
        M[at(v, y, x)] += 1;
      }
    }
    for (let c = 0; c <= C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) M[at(c, y, x)] = Math.min(M[at(c, y, x)], 1);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      if (!o.strict.includes(img(y, x))) continue;                            // one_hot_orig
      for (let c = 0; c <= C; c++) M[at(c, y, x)] = c === img(y, x) ? 1 : 0;
    }
    if (o.off) {                                                             // find_boundaries(mode='thick'), connectivity 1, reflect
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const nb = [[Math.max(y - 1, 0), x], [Math.min(y + 1, H - 1), x], [y, Math.max(x - 1, 0)], [y, Math.min(x + 1, W - 1)], [y, x]].map(([a, b]) => img(a, b));
        if (Math.max(...nb) !== Math.min(...nb)) for (let c = 0; c <= C; c++) M[at(c, y, x)] *= 2;
      }
    }
  }
  return M;
}

export function relaxedLossRef(logits: F64Tensor, labels: Int32Array, o: RelaxRefOptions): F64Tensor {
  const [N, C, H, W] = logits.shape, HW = H * W;
  const M = relaxedTargetsRef(labels, N, C, H, W, o);
  const m = (n: number, c: number, p: number) => M[(n * (C + 1) + c) * HW + p];
  // weights = target[:, :-1].sum(1); ignore_mask = weights == 0; weights[ignore_mask] = 1
  const bw = new Float64Array(N * HW), mask = new Uint8Array(N * HW);
  for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += m(n, c, p);
    mask[n * HW + p] = s === 0 ? 1 : 0;
    bw[n * HW + p] = s === 0 ? 1 : s;
  }
  let loss = 0;
  for (let i = 0; i < N; i++) {
    let tot = 0;                                                             // calculate_weights(target_cpu[i])
    const hist = new Float64Array(C + 1);
    for (let c = 0; c <= C; c++) for (let p = 0; p < HW; p++) { hist[c] += m(i, c, p); tot += m(i, c, p); }
    const w = Array.from({ length: C }, (_, c) => (hist[c] / tot !== 0 ? 1 + o.bound * (1 - hist[c] / tot) : 1));
    let sum = 0, masked = 0;
    for (let p = 0; p < HW; p++) {
      masked += mask[i * HW + p];
      const z = Array.from({ length: C }, (_, c) => logits.data[(i * C + c) * HW + p]);
      const mx = Math.max(...z), e = z.map((v) => Math.exp(v - mx)), se = e.reduce((a, b) => a + b, 0);
      const prob = e.map((v) => v / se);
      const t = Array.from({ length: C }, (_, c) => (o.off ? Math.min(m(i, c, p), 1) : m(i, c, p)));
      const ps = t.reduce((a, tc, c) => a + tc * prob[c], 0);
      let inner = 0;                                                         // Σ_c t_c·w_c·log max(p_c, t_c·Σ t p)
      for (let c = 0; c < C; c++) if (t[c]) inner += t[c] * w[c] * Math.log(Math.max(prob[c], t[c] * ps));
      const images = o.batchBug ? Array.from({ length: N }, (_, n) => n) : [i];
      for (const n of images) {
        const b = o.off ? 1 / bw[n * HW + p] : bw[n * HW + p];
        sum += (-1 / b) * inner * (1 - mask[i * HW + p]);
      }
    }
    loss += sum / (HW - masked + 1);
  }
  return f64([], [loss]);
}

export function imageWeightedLossRef(logits: F64Tensor, labels: Int32Array, ignore: number, bound: number): F64Tensor {
  const [N, C, H, W] = logits.shape, HW = H * W;
  let loss = 0;
  for (let i = 0; i < N; i++) {
    const y = (p: number) => labels[i * HW + p];
    const valid = (p: number) => y(p) !== ignore && y(p) >= 0 && y(p) < C;
    const hist = new Float64Array(C);
    let tot = 0;
    for (let p = 0; p < HW; p++) if (valid(p)) { hist[y(p)]++; tot++; }
    const w = Array.from(hist, (h) => (tot && h / tot !== 0 ? 1 + bound * (1 - h / tot) : 1));
    let num = 0, den = 0;
    for (let p = 0; p < HW; p++) {
      if (!valid(p)) continue;
      const z = Array.from({ length: C }, (_, c) => logits.data[(i * C + c) * HW + p]);
      const mx = Math.max(...z), lse = mx + Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
      num += w[y(p)] * (lse - z[y(p)]);
      den += w[y(p)];
    }
    if (den > 0) loss += num / den;
  }
  return f64([], [loss]);
}
