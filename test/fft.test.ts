import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { fft2d } from '../src/sim/fft.js';
import { close } from './helpers/check.js';
import { randn } from './reference/core.js';

const t = suite('fft');

/** Direct 2-D DFT in float64 (the definition, O(n²)). */
function dft2(x: Float64Array, B: number, R: number, C: number, inverse: boolean): Float64Array {
  const out = new Float64Array(x.length), s = inverse ? 1 : -1;
  for (let b = 0; b < B; b++) for (let u = 0; u < R; u++) for (let v = 0; v < C; v++) {
    let re = 0, im = 0;
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
      const a = s * 2 * Math.PI * (u * r / R + v * c / C), i = 2 * ((b * R + r) * C + c);
      re += x[i] * Math.cos(a) - x[i + 1] * Math.sin(a);
      im += x[i] * Math.sin(a) + x[i + 1] * Math.cos(a);
    }
    const o = 2 * ((b * R + u) * C + v);
    out[o] = inverse ? re / (R * C) : re;
    out[o + 1] = inverse ? im / (R * C) : im;
  }
  return out;
}

for (const [B, R, C] of [[3, 8, 16], [1, 32, 4], [2, 1, 8], [1, 16, 64]]) {
  t(`fft2d ${B}x${R}x${C} forward and inverse vs the float64 DFT; round trip`, async () => {
    const x = randn([B, R, C, 2], R * 7 + C);
    const xt = tensor(Float32Array.from(x.data), x.shape);
    const [f, back] = scope(() => { const y = fft2d(xt); return [y, fft2d(y, true)]; });
    const tol = { rtol: 1e-4, atol: 2e-5 * Math.sqrt(R * C) * Math.log2(R * C + 1) };
    close(await f.read(), dft2(x.data, B, R, C, false), tol, 'forward');
    close(await back.read(), x.data, { rtol: 1e-4, atol: 1e-5 }, 'round trip');
    const inv = scope(() => fft2d(xt, true));
    close(await inv.read(), dft2(x.data, B, R, C, true), { rtol: 1e-4, atol: 1e-5 }, 'inverse');
    for (const v of [xt, f, back, inv]) v.dispose();
  });
}
t('fft2d rejects sizes that are not powers of two', () => {
  const x = tensor(new Float32Array(2 * 6 * 8), [1, 6, 8, 2]);
  assert.throws(() => fft2d(x), /fft2d: expected \[batch, rows, cols, 2\] with power-of-two rows and cols/);
  x.dispose();
});
t.run();
