// In-place radix-2 complex FFT in float64 on the host, used once per simulator configuration to
// design the correlation filter (the per-sample FFTs run on the GPU, src/sim/fft.ts).
export function fft1d(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {                 // bit-reversal permutation
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len, wr = Math.cos(ang), wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1, ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k, b = a + len / 2;
        const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr; im[b] = im[a] - ti;
        re[a] += tr; im[a] += ti;
        [cr, ci] = [cr * wr - ci * wi, cr * wi + ci * wr];
      }
    }
  }
  if (inverse) for (let i = 0; i < n; i++) { re[i] /= n; im[i] /= n; }
}

/** 2-D FFT of an n×n real array; returns the real part (inputs here are even, so the result is real). */
export function fft2dRealEven(a: Float64Array, n: number): Float64Array {
  const re = Float64Array.from(a), im = new Float64Array(n * n);
  const rr = new Float64Array(n), ri = new Float64Array(n);
  for (let pass = 0; pass < 2; pass++) {
    for (let l = 0; l < n; l++) {
      for (let k = 0; k < n; k++) { const i = pass ? k * n + l : l * n + k; rr[k] = re[i]; ri[k] = im[i]; }
      fft1d(rr, ri);
      for (let k = 0; k < n; k++) { const i = pass ? k * n + l : l * n + k; re[i] = rr[k]; im[i] = ri[k]; }
    }
  }
  return re;
}
