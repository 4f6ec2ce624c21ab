// Statistics of displacement fields [n, 2, H, W] (channel 0 rows, 1 columns, pixels), host side:
// what the simulator's tests check and `mirage simulate --stats` / the hot-weather experiment report.
export interface FieldStats {
  /** Root mean square displacement over all pixels and both components (σ when the mean is removed). */
  rms: number;
  /** Root mean square of the per-field, per-component means: the whole-image shift. */
  meanShift: number;
  /** Std of the difference between horizontally and vertically adjacent displacements (both components). */
  neighbourStd: number;
  /** Fraction of interior pixels where the sampling map p → p + d(p) folds: det(I + ∇d) ≤ 0 (central differences). */
  foldFraction: number;
}

export function fieldStats(f: ArrayLike<number>, n: number, H: number, W: number): FieldStats {
  if (f.length !== n * 2 * H * W) throw new Error(`fieldStats: ${f.length} values do not make [${n},2,${H},${W}]`);
  if (H < 3 || W < 3) throw new Error(`fieldStats: fields of ${W}x${H} are too small (at least 3x3)`);
  const hw = H * W;
  let sq = 0, meanSq = 0, dsq = 0, dn = 0, folds = 0, interior = 0;
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < 2; c++) {
      const o = (b * 2 + c) * hw;
      let s = 0;
      for (let i = 0; i < hw; i++) { s += f[o + i]; sq += f[o + i] ** 2; }
      meanSq += (s / hw) ** 2;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const v = f[o + y * W + x];
        if (x + 1 < W) { dsq += (f[o + y * W + x + 1] - v) ** 2; dn++; }
        if (y + 1 < H) { dsq += (f[o + (y + 1) * W + x] - v) ** 2; dn++; }
      }
    }
    const r = b * 2 * hw, c = r + hw;
    for (let y = 1; y < H - 1; y++) for (let x = 1; x < W - 1; x++) {
      const i = y * W + x;
      const ryy = (f[r + i + W] - f[r + i - W]) / 2, ryx = (f[r + i + 1] - f[r + i - 1]) / 2;
      const cxy = (f[c + i + W] - f[c + i - W]) / 2, cxx = (f[c + i + 1] - f[c + i - 1]) / 2;
      if ((1 + ryy) * (1 + cxx) - ryx * cxy <= 0) folds++;
      interior++;
    }
  }
  return { rms: Math.sqrt(sq / (n * 2 * hw)), meanShift: Math.sqrt(meanSq / (2 * n)), neighbourStd: Math.sqrt(dsq / dn), foldFraction: folds / interior };
}
