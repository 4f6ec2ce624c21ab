import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor } from '../src/engine/tensor.js';
import { TurbulenceSimulator, blackman, describeTurbulence, resolveTurbulence } from '../src/sim/turbulence.js';
import { aaCorrelation } from '../src/sim/aa-correlation.js';
import { besselJ } from '../src/sim/bessel.js';
import { fieldStats } from '../src/sim/field-stats.js';
import { type LoadedModel, evalSimulator } from '../src/train/load.js';
import { gaussianBlur, variableBlur } from '../src/sim/blur.js';
import { checkForward } from './helpers/check.js';
import { type F64Tensor, rand, randn } from './reference/core.js';
import { temporalFuse } from '../src/kernels/temporal.js';
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

/** J_n(x) from its integral form (1/π)∫₀^π cos(nτ − x sin τ) dτ, Simpson on 40000 intervals: independent of bessel.ts. */
function besselRef(n: number, x: number): number {
  const m = 40000;
  let s = 0;
  for (let i = 0; i <= m; i++) {
    const tau = (Math.PI * i) / m;
    s += (i === 0 || i === m ? 1 : i % 2 ? 4 : 2) * Math.cos(n * tau - x * Math.sin(tau));
  }
  return s / (3 * m);
}

t('Bessel J0, J1, J2 against their integral form, on both sides of the series/asymptotic switch at 12', () => {
  for (const n of [0, 1, 2]) for (const x of [0, 0.3, 1, 4.7, 9.99, 11.9, 12, 12.1, 17.3, 48.5, 300.2]) {
    assert.ok(Math.abs(besselJ(n, x) - besselRef(n, x)) < 1e-11, `J${n}(${x}) = ${besselJ(n, x)}, integral form ${besselRef(n, x)}`);
  }
  assert.ok(Math.abs(besselJ(1, -2) + besselJ(1, 2)) < 1e-15 && besselJ(2, -2) === besselJ(2, 2), 'parity');
  assert.throws(() => besselJ(0.5, 1), /order must be a non-negative integer, got 0.5/);
});

t("Belen'kii's integral (γ 30, spherical wave) reproduces the reference's four points; quadratic at 0; plane wave differs", () => {
  const b = aaCorrelation(30, 'spherical', 2048);
  // data-and-simulation.md §C1: b_long 0.5 at β 5.5 and 0.2 at 21.5; b_lat 0.5 at 15 and 0.2 at 70 (reference numerics)
  for (const [which, level, want] of [['long', 0.5, 5.5], ['long', 0.2, 21.5], ['lat', 0.5, 15], ['lat', 0.2, 70]] as const) {
    const got = b.crossing(which, level);
    assert.ok(Math.abs(got / want - 1) < 0.03, `b_${which} = ${level} at β ${got.toFixed(2)}, reference ${want}`);
  }
  // smooth at 0: 1 − b ∝ β² (the fit's cusp had 1 − b ∝ β)
  for (const which of ['long', 'lat'] as const) {
    const f = which === 'long' ? b.long : b.lat, ratio = (1 - f(0.2)) / (1 - f(0.1));
    assert.ok(Math.abs(ratio - 4) < 0.2, `${which}: (1 − b(0.2)) / (1 − b(0.1)) = ${ratio}, want ≈ 4`);
  }
  for (let beta = 0.05; beta < 400; beta *= 1.3) assert.ok(b.lat(beta) > b.long(beta), `lateral above longitudinal at β ${beta}`);
  assert.is(b.long(0), 1);
  const p = aaCorrelation(30, 'plane', 256);
  assert.ok(p.crossing('long', 0.5) < 0.5 * b.crossing('long', 0.5), 'the plane wave decorrelates faster (no path averaging)');
  assert.throws(() => aaCorrelation(0), /γ \(outer scale \/ aperture\) must be > 0, got 0/);
});

t('fields: the ensemble std and correlation of the integral at several lags (longitudinal 0.5 at the correlation length), zero mean, deterministic', async () => {
  const [H, W, n, L] = [64, 96, 48, 6];
  const kept = new TurbulenceSimulator(H, W, { sigma: 2.5, corrLength: L, keepMean: true });
  const v = await kept.fields(n, 42).readF32();
  // pooled over fields (raw moments: the ensemble has zero mean)
  let q = 0;
  for (const x of v) q += x * x;
  assert.ok(Math.abs(Math.sqrt(q / v.length) / 2.5 - 1) < 0.1, `ensemble std ${Math.sqrt(q / v.length)} vs 2.5`);
  // column displacement (channel 1) is longitudinal along x, lateral along y; rows (channel 0) the reverse
  const longX = corr(v, n, H, W, 1, L, 0), latY = corr(v, n, H, W, 1, 0, L);
  const longY = corr(v, n, H, W, 0, 0, L), latX = corr(v, n, H, W, 0, L, 0);
  assert.ok(Math.abs(longX - 0.5) < 0.08 && Math.abs(longY - 0.5) < 0.08, `longitudinal correlation at ${L}px: ${longX}, ${longY}`);
  assert.ok(latY > longX + 0.1 && latX > longY + 0.1, `lateral ${latY}, ${latX} should exceed longitudinal ${longX}, ${longY}`);
  // the whole curve, not one point: measured (both components) against the integral times the
  // reference's Blackman window on the 2× grid (0.90 at 20 px of a 256 grid)
  const aa = aaCorrelation(kept.params.gamma, 'spherical', 2048), fθ = kept.params.pixelsPerBeta;
  for (const lag of [1, 2, 4, 10, 20]) {
    const long = (corr(v, n, H, W, 1, lag, 0) + corr(v, n, H, W, 0, 0, lag)) / 2;
    const lat = (corr(v, n, H, W, 1, 0, lag) + corr(v, n, H, W, 0, lag, 0)) / 2;
    const w = blackman(lag, kept.grid);
    const [wl, wt] = [w * aa.long(lag / fθ), w * aa.lat(lag / fθ)];
    assert.ok(Math.abs(long - wl) < 0.08 && Math.abs(lat - wt) < 0.08, `lag ${lag}px: long ${long.toFixed(3)} vs ${wl.toFixed(3)}, lat ${lat.toFixed(3)} vs ${wt.toFixed(3)}`);
  }
  // the default removes each field's mean (the whole-image shift), which takes its share of σ²
  const sim = new TurbulenceSimulator(H, W, { sigma: 2.5, corrLength: L });
  const f = sim.fields(n, 42), z = await f.readF32();
  let zq = 0;
  for (let b = 0; b < n; b++) for (let ch = 0; ch < 2; ch++) {
    let s = 0;
    for (let i = 0; i < H * W; i++) { const x = z[(b * 2 + ch) * H * W + i]; s += x; zq += x * x; }
    assert.ok(Math.abs(s / (H * W)) < 1e-4, `field ${b}/${ch}: mean ${s / (H * W)}`);
  }
  const rms = Math.sqrt(zq / z.length);
  assert.ok(rms > 1.5 && rms < 0.95 * 2.5, `RMS ${rms} after removing the shift, σ 2.5`);
  assert.equal(await sim.fields(n, 42).readF32(), z);
  assert.not.equal(await sim.fields(n, 43).readF32(), z);
  // the earlier model scales each field to exactly σ (old checkpoints evaluate unchanged)
  const fit = new TurbulenceSimulator(H, W, { sigma: 2.5, corrLength: L, correlation: 'fit', keepMean: true });
  const w = await fit.fields(4, 42).readF32();
  for (let b = 0; b < 8; b++) {
    let s = 0, qq = 0;
    for (let i = 0; i < H * W; i++) { const x = w[b * H * W + i]; s += x; qq += x * x; }
    const sd = Math.sqrt(qq / (H * W) - (s / (H * W)) ** 2);
    assert.ok(Math.abs(sd - 2.5) < 1e-3, `fit field plane ${b}: std ${sd}`);
  }
  f.dispose(); for (const x of [sim, kept, fit]) x.dispose();
});

t('fields: neighbour differences as the integral predicts, few folds, far fewer than the old fit; the mean kept on request', async () => {
  const [H, W, n, sigma, L] = [64, 128, 8, 1.5, 8];
  const stats = async (o: object) => {
    const sim = new TurbulenceSimulator(H, W, { sigma, corrLength: L, ...o });
    const f = sim.fields(n, 9), s = fieldStats(await f.readF32(), n, H, W);
    f.dispose();
    return { s, p: sim.params, sim };
  };
  const integral = await stats({}), fit = await stats({ correlation: 'fit' }), kept = await stats({ keepMean: true });
  // Var(d(p + 1) − d(p)) = 2σ²(1 − C(1)), averaged over components and directions: σ²(2 − b_long − b_lat) at 1 px
  const aa = aaCorrelation(integral.p.gamma, 'spherical', 2048), β1 = 1 / integral.p.pixelsPerBeta;
  const want = sigma * Math.sqrt(2 - aa.long(β1) - aa.lat(β1));
  assert.ok(Math.abs(integral.s.neighbourStd / want - 1) < 0.15, `neighbour std ${integral.s.neighbourStd} vs ${want} from the integral`);
  assert.ok(integral.s.neighbourStd < 0.6 * fit.s.neighbourStd, `integral ${integral.s.neighbourStd} vs fit ${fit.s.neighbourStd}`);
  assert.ok(integral.s.foldFraction < 0.05 && fit.s.foldFraction > 2 * integral.s.foldFraction,
    `folds: integral ${integral.s.foldFraction}, fit ${fit.s.foldFraction}`);
  assert.ok(integral.s.meanShift < 1e-4 && kept.s.meanShift > 0.2, `whole-image shift: removed ${integral.s.meanShift}, kept ${kept.s.meanShift}`);
  for (const x of [integral, fit, kept]) x.sim.dispose();
});

t('fieldStats: a known shear folds everywhere, a gentle one nowhere; neighbour std of a ramp is its slope; sizes checked', () => {
  const [H, W] = [5, 7], ramp = (slope: number) => Float32Array.from({ length: 2 * H * W }, (_, i) => (i < H * W ? 0 : slope * (i % W)));
  const steep = fieldStats(ramp(-1.5), 1, H, W), gentle = fieldStats(ramp(-0.5), 1, H, W);
  assert.is(steep.foldFraction, 1);
  assert.is(gentle.foldFraction, 0);
  // differences: 0 everywhere in channel 0 and vertically; 0.5 horizontally in channel 1 → RMS over all pairs
  const pairs = 2 * (H * (W - 1) + (H - 1) * W);
  assert.ok(Math.abs(gentle.neighbourStd - Math.sqrt((H * (W - 1) * 0.25) / pairs)) < 1e-7, `${gentle.neighbourStd}`);
  assert.throws(() => fieldStats(new Float32Array(10), 1, H, W), /10 values do not make \[1,2,5,7\]/);
});

t('checkpoints evaluate on their own distortion: the run settings, or the meta; older ones on the four-point fit with the mean kept', () => {
  const model = (meta: Record<string, string>) => ({ spec: { distortion: 'always' }, meta }) as unknown as LoadedModel;
  const check = (meta: Record<string, string>, flags: object, want: object) => {
    const ev = evalSimulator(model(meta), flags, 16, 32)!;
    for (const [k, v] of Object.entries(want)) assert.equal((ev.sim.params as any)[k], v, `${JSON.stringify(meta)} ${JSON.stringify(flags)}: ${k}`);
    ev.sim.dispose();
  };
  check({ sigma: '2', corr_length: '6' }, {}, { correlation: 'fit', keepMean: true, sigma: 2, corrLength: 6 });
  check({ sigma: '2', corr_length: '6', correlation: 'integral', keep_mean: 'false' }, {}, { correlation: 'integral', keepMean: false });
  check({ sigma: '2', corr_length: '6', run: JSON.stringify({ distortion: { sigma: 1.5, corrLength: 5, correlation: 'integral', keepMean: true } }) }, {},
    { correlation: 'integral', keepMean: true, sigma: 1.5, corrLength: 5 });
  check({ sigma: '2', corr_length: '6', run: JSON.stringify({ distortion: { corrLength: 5 } }) }, {}, { correlation: 'fit', corrLength: 5, sigma: 2 });
  check({ sigma: '2', corr_length: '6' }, { sigma: 1, corrLength: 3 }, { correlation: 'integral', keepMean: false, sigma: 1, corrLength: 3 });
});

t('temporalFuse: per-pixel mean and median of K frames match float64 (odd and even K, ties), errors name the shape', async () => {
  const fuseRef = (x: F64Tensor, k: number, how: string): F64Tensor => {
    const [n, , h, w] = x.shape, chw = 3 * h * w, out = { shape: [n, 3, h, w], data: new Float64Array(n * chw) };
    for (let b = 0; b < n; b++) for (let i = 0; i < chw; i++) {
      const v = Array.from({ length: k }, (_, f) => x.data[(b * k + f) * chw + i]).sort((p, q) => p - q);
      out.data[b * chw + i] = how === 'mean' ? v.reduce((p, q) => p + q, 0) / k : k % 2 ? v[(k - 1) / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    }
    return out;
  };
  for (const k of [1, 2, 5, 8]) {
    const x = randn([2, 3 * k, 5, 7], k);
    x.data[0] = x.data[35];   // a tie
    for (const how of ['mean', 'median'] as const) await checkForward((a: any) => temporalFuse(a, k, how), (a) => fuseRef(a, k, how), [x], { rtol: 1e-6, atol: 1e-6 });
  }
  const z = tensor(new Float32Array(2 * 6 * 4), [2, 6, 2, 2]);
  assert.throws(() => temporalFuse(z, 3, 'median'), /expected \[N, 9, H, W\] for 3 RGB frames, got/);
  assert.throws(() => temporalFuse(z, 2, 'max' as any), /fusion must be mean or median, got 'max'/);
  z.dispose();
});

t('sequences: frame 0 is the single-frame distortion, fields correlate with the previous frame by ρ, fused frames are one image', async () => {
  const [H, W] = [32, 48];
  const img = tensor(Float32Array.from({ length: 2 * 3 * H * W }, (_, i) => 0.5 + 0.4 * Math.sin(0.3 * (i % W) + 0.2 * Math.floor(i / W))), [2, 3, H, W]);
  const one = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 6 });
  const seq = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 6, frames: 4, frameCorrelation: 0.8 });
  const a = one.distort(img, 5), b = seq.distort(img, 5);
  assert.equal(b.image.shape, [2, 12, H, W]);
  assert.equal(b.field.shape, [2, 8, H, W]);
  const [ai, bi, af, bf] = [await a.image.readF32(), await b.image.readF32(), await a.field.readF32(), await b.field.readF32()];
  const hw = H * W;
  for (let n = 0; n < 2; n++) {
    assert.equal(bi.slice(n * 12 * hw, n * 12 * hw + 3 * hw), ai.slice(n * 3 * hw, (n + 1) * 3 * hw), 'frame 0 = the single-frame distortion');
    assert.equal(bf.slice(n * 8 * hw, n * 8 * hw + 2 * hw), af.slice(n * 2 * hw, (n + 1) * 2 * hw), 'field 0 = the single-frame field');
  }
  // correlation of consecutive frames' fields (pooled over images, components and pairs): ρ
  let sab = 0, saa = 0, sbb = 0;
  for (let n = 0; n < 2; n++) for (let f = 1; f < 4; f++) for (let i = 0; i < 2 * hw; i++) {
    const p = bf[(n * 8 + 2 * (f - 1)) * hw + i], q = bf[(n * 8 + 2 * f) * hw + i];
    sab += p * q; saa += p * p; sbb += q * q;
  }
  const rho = sab / Math.sqrt(saa * sbb);
  assert.ok(Math.abs(rho - 0.8) < 0.1, `frame-to-frame field correlation ${rho}, want 0.8`);
  const fused = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 6, frames: 4, fusion: 'mean' });
  const c = fused.distort(img, 5);
  assert.equal(c.image.shape, [2, 3, H, W]);
  assert.equal(c.field.shape, [2, 8, H, W]);
  assert.throws(() => resolveTurbulence({ frames: 0 }), /frames must be an integer from 1 to 16, got 0/);
  assert.throws(() => resolveTurbulence({ frameCorrelation: 1 }), /frame correlation must be in \[0, 1\), got 1/);
  for (const x of [img, a.image, a.field, b.image, b.field, c.image, c.field]) x.dispose();
  for (const x of [one, seq, fused]) x.dispose();
});

t('ego-motion: frame j sees the scene shifted by j·v pixels (edge repeated), the shift part of its field; frame 0 does not move', async () => {
  const [H, W] = [12, 40], hw = H * W;
  const src = Float32Array.from({ length: 2 * 3 * hw }, (_, i) => Math.sin(0.7 * i) * 0.5 + 0.5);
  const img = tensor(src, [2, 3, H, W]);
  // no shimmer (σ 0): exactly the shifted scene, for a whole and a half pixel per frame (bilinear between neighbours)
  for (const v of [2, -1.5]) {
    const sim = new TurbulenceSimulator(H, W, { sigma: 0, corrLength: 6, frames: 3, egoMotion: v });
    const d = sim.distort(img, 3);
    const got = await d.image.readF32(), f = await d.field.readF32();
    for (let n = 0; n < 2; n++) for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const at = (xx: number) => src[((n * 3 + c) * H + y) * W + Math.min(W - 1, Math.max(0, xx))];
      const sx = Math.min(W - 1, Math.max(0, x + j * v)), x0 = Math.floor(sx), t = sx - x0;
      const want = (1 - t) * at(x0) + t * at(x0 + 1);
      const g = got[((n * 9 + 3 * j + c) * H + y) * W + x];
      assert.ok(Math.abs(g - want) < 1e-5, `v ${v}, image ${n} frame ${j} channel ${c} at (${y}, ${x}): ${g} vs ${want}`);
    }
    for (let n = 0; n < 2; n++) for (let j = 0; j < 3; j++) {
      assert.ok(f.slice((n * 6 + 2 * j) * hw, (n * 6 + 2 * j + 1) * hw).every((x) => x === 0), 'no vertical motion');
      assert.ok(f.slice((n * 6 + 2 * j + 1) * hw, (n * 6 + 2 * j + 2) * hw).every((x) => x === j * v), `frame ${j}: horizontal ${j * v}`);
    }
    for (const x of [d.image, d.field, sim]) x.dispose();
  }
  // with shimmer: frame 0 as without motion; frame j's field is the static run's plus j·v
  const still = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 6, frames: 3 });
  const moving = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 6, frames: 3, egoMotion: 0.75 });
  const a = still.distort(img, 9), b = moving.distort(img, 9);
  const [ai, bi, af, bf] = [await a.image.readF32(), await b.image.readF32(), await a.field.readF32(), await b.field.readF32()];
  assert.equal(bi.slice(0, 3 * hw), ai.slice(0, 3 * hw), 'frame 0 unmoved');
  for (let i = 0; i < bf.length; i++) {
    const j = Math.floor(i / (2 * hw)) % 3, horizontal = Math.floor(i / hw) % 2 === 1;
    assert.ok(Math.abs(bf[i] - af[i] - (horizontal ? 0.75 * j : 0)) < 1e-5, `field element ${i}`);
  }
  assert.match(describeTurbulence(resolveTurbulence({ frames: 3, egoMotion: 0.75 })), /3 frames \(field correlation 0 between frames, scene moving 0.75 px per frame\)/);
  assert.throws(() => resolveTurbulence({ egoMotion: 1 }), /ego-motion 1 px per frame needs several frames/);
  for (const x of [img, a.image, a.field, b.image, b.field, still, moving]) x.dispose();
});

t('distort warps images, not labels; sizes are checked', async () => {
  const sim = new TurbulenceSimulator(16, 24, { sigma: 1.5, corrLength: 4 });
  const img = tensor(Float32Array.from({ length: 2 * 3 * 16 * 24 }, (_, i) => (i % 24) / 24), [2, 3, 16, 24]);
  const { image, field } = sim.distort(img, 7);
  const [a, b] = [await img.read(), await image.read()];
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3), 'image changed');
  assert.throws(() => sim.distort(tensor(new Float32Array(3 * 8 * 8), [1, 3, 8, 8]), 1), /do not match the simulator's \[N,3,16,24\]/);
  for (const x of [img, image, field]) x.dispose();
  sim.dispose();
});

t('physical parameters: reference settings give ≈5.7 px and an 11 px correlation length; bad values are errors', () => {
  const r = resolveTurbulence({ cn2: 1e-12, pathLength: 2000, focalLength: 0.3, pixelPitch: 4e-6 });
  assert.ok(Math.abs(r.sigma - 5.70) < 0.05, `sigma ${r.sigma}`);
  assert.ok(Math.abs(r.corrLength - 11.1) < 0.15, `corr ${r.corrLength}`);
  assert.ok(Math.abs(r.pixelsPerBeta - 2.0) < 0.01 && Math.abs(r.gamma - 29.9) < 0.1, `fθ_D ${r.pixelsPerBeta}, γ ${r.gamma}`);
  assert.throws(() => resolveTurbulence({ sigma: 1, outerScale: 2 }), /outer scale is a physical-mode setting/);
  assert.throws(() => resolveTurbulence({ correlation: 'gauss' as any }), /correlation must be 'integral' or 'fit', got 'gauss'/);
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
