import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor } from '../src/engine/tensor.js';
import { TurbulenceSimulator, resolveTurbulence } from '../src/sim/turbulence.js';
import { gaussianBlur, variableBlur } from '../src/sim/blur.js';
import { checkForward } from './helpers/check.js';
import { rand, randn } from './reference/core.js';
import { gaussianBlurRef, variableBlurRef } from './reference/blur.js';

const t = suite('turbulence');

/** Mean correlation of a field component at a lag along x (dx) or y (dy), over all fields and positions. */
function corr(f: Float32Array, n: number, H: number, W: number, ch: number, dx: number, dy: number): number {
  let sab = 0, saa = 0, sbb = 0;
  for (let b = 0; b < n; b++) {
    const base = (b * 2 + ch) * H * W;
    for (let y = 0; y + dy < H; y++) for (let x = 0; x + dx < W; x++) {
      const a = f[base + y * W + x], c = f[base + (y + dy) * W + x + dx];
      sab += a * c; saa += a * a; sbb += c * c;
    }
  }
  return sab / Math.sqrt(saa * sbb);
}

t('fields: requested std, anisotropic correlation (longitudinal 0.5 at the correlation length, lateral longer), deterministic', async () => {
  const [H, W, n, L] = [64, 96, 12, 6];
  const sim = new TurbulenceSimulator(H, W, { sigma: 2.5, corrLength: L });
  const f = sim.fields(n, 42);
  const v = await f.readF32();
  for (let b = 0; b < n; b++) for (let ch = 0; ch < 2; ch++) {
    let s = 0, q = 0;
    for (let i = 0; i < H * W; i++) { const x = v[(b * 2 + ch) * H * W + i]; s += x; q += x * x; }
    const sd = Math.sqrt(q / (H * W) - (s / (H * W)) ** 2);
    assert.ok(Math.abs(sd - 2.5) < 1e-3, `field ${b}/${ch}: std ${sd}`);
  }
  // column displacement (channel 1) is longitudinal along x, lateral along y; rows (channel 0) the reverse
  const longX = corr(v, n, H, W, 1, L, 0), latY = corr(v, n, H, W, 1, 0, L);
  const longY = corr(v, n, H, W, 0, 0, L), latX = corr(v, n, H, W, 0, L, 0);
  assert.ok(Math.abs(longX - 0.5) < 0.15 && Math.abs(longY - 0.5) < 0.15, `longitudinal correlation at ${L}px: ${longX}, ${longY}`);
  assert.ok(latY > longX + 0.1 && latX > longY + 0.1, `lateral ${latY}, ${latX} should exceed longitudinal ${longX}, ${longY}`);
  const again = await sim.fields(n, 42).readF32();
  assert.equal(again, v);
  const other = await sim.fields(n, 43).readF32();
  assert.not.equal(other, v);
  f.dispose(); sim.dispose();
});

t('distort warps images, not labels; sizes are checked', async () => {
  const sim = new TurbulenceSimulator(16, 24, { sigma: 1.5, corrLength: 4 });
  const img = tensor(Float32Array.from({ length: 2 * 3 * 16 * 24 }, (_, i) => (i % 24) / 24), [2, 3, 16, 24]);
  const { image, field } = sim.distort(img, 7);
  const [a, b] = [await img.read(), await image.read()];
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3), 'image changed');
  assert.throws(() => sim.distort(tensor(new Float32Array(3 * 8 * 8), [1, 3, 8, 8]), 1), /do not match the simulator's 24x16/);
  for (const x of [img, image, field]) x.dispose();
  sim.dispose();
});

t('physical parameters: reference settings give ≈5.7 px and an 11 px correlation length; bad values are errors', () => {
  const r = resolveTurbulence({ cn2: 1e-12, pathLength: 2000, focalLength: 0.3, pixelPitch: 4e-6 });
  assert.ok(Math.abs(r.sigma - 5.70) < 0.05, `sigma ${r.sigma}`);
  assert.ok(Math.abs(r.corrLength - 11.05) < 0.1, `corr ${r.corrLength}`);
  assert.throws(() => resolveTurbulence({ cn2: -1e-13 }), /Cn² must be ≥ 0, got -1e-13/);
  assert.throws(() => resolveTurbulence({ cn2: 1e-13, aperture: 0 }), /aperture must be a positive number, got 0/);
  assert.throws(() => resolveTurbulence({ sigma: -2 }), /sigma must be ≥ 0 pixels/);
});
t('blur stage: Gaussian blur and the per-pixel blend of blur levels match float64 references', async () => {
  const x = randn([2, 3, 7, 11], 5);
  for (const sigma of [0.4, 1.3]) await checkForward((a: any) => gaussianBlur(a, sigma), (a) => gaussianBlurRef(a, sigma), [x], { rtol: 1e-5, atol: 1e-5 });
  const m = rand([2, 7, 11], 6, -0.2, 1.2);   // clamped to [0, 1], so both ends are hit
  m.data[0] = 0; m.data[1] = 1; m.data[2] = 1 / 3;
  await checkForward((a: any, mm: any) => variableBlur(a, mm, 2), (a, mm) => variableBlurRef(a, mm, 2), [x, m], { rtol: 1e-5, atol: 1e-5 });
  assert.throws(() => gaussianBlur(tensor(new Float32Array(4), [4]), 1), /images must be \[N,C,H,W\]/);
  assert.throws(() => variableBlur(tensor(new Float32Array(12), [1, 1, 3, 4]), tensor(new Float32Array(12), [1, 4, 3]), 1), /map .* should be \[1,3,4\]/);
});

t('simulator blur: off by default, deterministic, smooths detail, keeps flat images flat; negative blur is an error', async () => {
  const [H, W] = [24, 40];
  const checker = new Float32Array(3 * H * W).map((_, i) => ((i % W) + Math.floor(i / W)) % 2);
  const img = tensor(checker, [1, 3, H, W]), flat = tensor(new Float32Array(3 * H * W).fill(0.7), [1, 3, H, W]);
  const plain = new TurbulenceSimulator(H, W, { sigma: 1, corrLength: 4 });
  const blurred = new TurbulenceSimulator(H, W, { sigma: 1, corrLength: 4, blur: 2 });
  assert.is(plain.params.blur, 0);
  const tv = (v: Float32Array) => { let s = 0; for (let i = 1; i < v.length; i++) if (i % W) s += Math.abs(v[i] - v[i - 1]); return s; };
  const a = await plain.distort(img, 7).image.readF32(), b = await blurred.distort(img, 7).image.readF32();
  assert.ok(tv(b) < 0.6 * tv(a), `total variation ${tv(b)} vs ${tv(a)} without blur`);
  assert.equal(await blurred.distort(img, 7).image.readF32(), b);
  assert.not.equal(await blurred.distort(img, 8).image.readF32(), b);
  const f = await blurred.distort(flat, 3).image.readF32();
  assert.ok(f.every((v) => Math.abs(v - 0.7) < 1e-5));
  assert.throws(() => resolveTurbulence({ blur: -1 }), /blur must be ≥ 0 pixels, got -1/);
  for (const s of [plain, blurred]) s.dispose();
  img.dispose(); flat.dispose();
});

t.run();
