// Heat-shimmer ("turbulence") distortion as the paper's data (data-and-simulation.md §C1, §C3):
// a spatially correlated 2-D displacement field with anisotropic longitudinal / lateral correlation
// (Schwartzman et al., ICCP 2017), generated on the GPU by filtering white noise in the Fourier
// domain with a per-frequency 2×2 square-root filter, scaled so that the ensemble std is σ pixels
// (the filter's own variance), each field's mean removed by default, then used for a bilinear
// backward warp of the image (labels are not warped). The correlation is Belen'kii's integral (aa-correlation.ts).
import { noGrad } from '../engine/autograd.js';

import { f32 } from '../engine/params.js';
import { type Tensor, empty, tensor } from '../engine/tensor.js';
import { HASH_U32, MAIN_1D, MAIN_PER_GROUP, TREE_SUM, kernel, run } from '../kernels/wgsl.js';
import { warp } from '../kernels/warp.js';
import { add, scale } from '../kernels/elementwise.js';
import { concat } from '../kernels/concat.js';
import { type Fusion, MAX_FRAMES, temporalFuse } from '../kernels/temporal.js';
import { aaCorrelation } from './aa-correlation.js';
import { fft2dRealEven } from './cpu-fft.js';
import { variableBlur } from './blur.js';
import { type FieldStats, fieldStats } from './field-stats.js';
import { fft2d } from './fft.js';

/**
 * The earlier correlation model (`correlation: 'fit'`, runs before 2026-12-03): b(r) = 1/(1 + (r/r½)^p)
 * fitted to four points of Belen'kii's integral (b_long = 0.5 at 5.5·fθ_D and 0.2 at 21.5·fθ_D;
 * b_lat = 0.5 at 15·fθ_D and 0.2 at 70·fθ_D): p_long = 1.02, p_lat = 0.90, r½_lat / r½_long = 2.73.
 * Its cusp at r = 0 (p ≈ 1) makes fields rough at the pixel scale, which the integral is not (it
 * is quadratic at 0: the aperture averages the tilt). Kept so that old checkpoints evaluate on the
 * distortions they were trained on.
 */
export const CORRELATION_MODEL = { halfLong: 5.5, pLong: 1.017, pLat: 0.9, anisotropy: 30 / 11 };

/**
 * Settings stored by a run (checkpoint meta or run config): those written before the integral came
 * in (2026-12-03) name no correlation and meant the four-point fit with each field's mean kept.
 */
export function storedTurbulence(p: TurbulenceParams): TurbulenceParams {
  return p.correlation === undefined ? { ...p, correlation: 'fit', keepMean: true } : p;
}

/** Frames per sample a model receives under these settings: all of them, or one when they are fused. */
export function modelFrames(p: TurbulenceParams | null | undefined): number {
  return p && (p.fusion ?? 'none') === 'none' ? p.frames ?? 1 : 1;
}

/** The resolved settings as checkpoint metadata (what storedTurbulence and `mirage eval` read back). */
export function turbulenceMeta(p: ResolvedTurbulence): Record<string, string> {
  return { sigma: String(p.sigma), corr_length: String(p.corrLength), anisotropy: String(p.anisotropy), blur: String(p.blur),
    correlation: p.correlation, keep_mean: String(p.keepMean), frames: String(p.frames), frame_correlation: String(p.frameCorrelation), fusion: p.fusion,
    ego_motion: String(p.egoMotion) };
}

/** Outer scale over aperture in the reference (L0 = 0.4·4 m, D = 300 mm / 5.6): AA_gamma30. */
export const REFERENCE_GAMMA = 30;
/** β beyond which the integral's table holds its last value (b_long ≈ 0, b_lat ≈ 0.01 there at γ 30). */
const BETA_CAP = 2048;

export interface TurbulenceParams {
  /**
   * Displacement std in pixels (direct mode): the ensemble std of the tilt. With the whole-image
   * shift removed (the default) a field's own RMS is lower by that shift's share; the 'fit' model
   * scales each field to exactly σ instead.
   */
  sigma?: number;
  /** Distance in pixels where the longitudinal correlation falls to 0.5 (direct mode). */
  corrLength?: number;
  /** Lateral / longitudinal half-correlation distance (default from the model, 2.73; 1 = isotropic). */
  anisotropy?: number;
  /** Physical mode: refractive-index structure constant Cn² (m^-2/3), e.g. 1e-12 on a hot day. */
  cn2?: number;
  /** Path length in metres (reference: 2000). */
  pathLength?: number;
  /** Focal length in metres (reference: 0.3). */
  focalLength?: number;
  /** Aperture diameter in metres (reference: focal / 5.6). */
  aperture?: number;
  /** Pixel pitch in metres at the simulated resolution (reference: 4e-6 at 1024 px). */
  pixelPitch?: number;
  /** Wavelength in metres (reference: 550e-9); reported as q = D/√(λL). */
  wavelength?: number;
  wave?: 'spherical' | 'plane';
  /** Optional blur stage: largest Gaussian σ in pixels, varying smoothly over the image (0 = off). */
  blur?: number;
  /** Tilt correlation: Belen'kii's integral (default) or the earlier four-point fit (old checkpoints). */
  correlation?: 'integral' | 'fit';
  /** Outer scale L0 in metres (physical mode; reference 1.6 = 0.4 × 4 m height): γ = L0 / D. */
  outerScale?: number;
  /** Keep each field's mean (a whole-image shift) as the reference does; default: removed. */
  keepMean?: boolean;
  /** Frames per sample (a static scene filmed through changing shimmer; default 1). */
  frames?: number;
  /** Correlation ρ of each frame's field with the previous frame's (default 0: independent). */
  frameCorrelation?: number;
  /** Fuse the frames into one image before the model: 'mean' or 'median' per pixel (default 'none': the model gets all frames). */
  fusion?: 'none' | Fusion;
  /**
   * Slow ego-motion: the scene moves this many pixels per frame horizontally (frame j sees it
   * shifted by j·v, the image edge repeated), as a panning or turning camera does; the shift is part
   * of frame j's field, so its exact inverse undoes both. Frame 0 (the labels' frame) does not move.
   * Default 0: a static scene. Needs several frames.
   */
  egoMotion?: number;
}

export interface ResolvedTurbulence {
  sigma: number;
  /** Pixels at which the longitudinal correlation is 0.5. */
  corrLength: number;
  /** Lateral / longitudinal half-correlation distance. */
  anisotropy: number;
  mode: 'direct' | 'physical';
  q?: number;
  blur: number;
  correlation: 'integral' | 'fit';
  /** γ = L0 / D of the integral. */
  gamma: number;
  /** f·θ_D: pixels per unit β of the integral (reference 2 px at 1024 px). */
  pixelsPerBeta: number;
  keepMean: boolean;
  wave: 'spherical' | 'plane';
  frames: number;
  frameCorrelation: number;
  fusion: 'none' | Fusion;
  /** Pixels per frame the scene moves horizontally (0: static). */
  egoMotion: number;
}

/** Turns physical or direct parameters into pixel units; out-of-range values are errors naming the parameter. */
export function resolveTurbulence(p: TurbulenceParams): ResolvedTurbulence {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`turbulence: ${name} must be a positive number, got ${v}`);
  };
  const correlation = p.correlation ?? 'integral';
  if (correlation !== 'integral' && correlation !== 'fit') throw new Error(`turbulence: correlation must be 'integral' or 'fit', got '${correlation}'`);
  if (p.wave !== undefined && p.wave !== 'spherical' && p.wave !== 'plane') throw new Error(`turbulence: wave must be 'spherical' or 'plane', got '${p.wave}'`);
  positive('anisotropy', p.anisotropy);
  positive('outer scale', p.outerScale);
  const blur = p.blur ?? 0, keepMean = p.keepMean ?? false;
  if (!(Number.isFinite(blur) && blur >= 0)) throw new Error(`turbulence: blur must be ≥ 0 pixels, got ${blur}`);
  const seq = { frames: p.frames ?? 1, frameCorrelation: p.frameCorrelation ?? 0, fusion: p.fusion ?? 'none', egoMotion: p.egoMotion ?? 0 };
  if (!Number.isFinite(seq.egoMotion)) throw new Error(`turbulence: ego-motion must be a number of pixels per frame, got ${seq.egoMotion}`);
  if (seq.egoMotion !== 0 && seq.frames < 2) throw new Error(`turbulence: ego-motion ${seq.egoMotion} px per frame needs several frames (frames ≥ 2)`);
  if (!(Number.isInteger(seq.frames) && seq.frames >= 1 && seq.frames <= MAX_FRAMES)) throw new Error(`turbulence: frames must be an integer from 1 to ${MAX_FRAMES}, got ${seq.frames}`);
  if (!(seq.frameCorrelation >= 0 && seq.frameCorrelation < 1)) throw new Error(`turbulence: frame correlation must be in [0, 1), got ${seq.frameCorrelation}`);
  if (!['none', 'mean', 'median'].includes(seq.fusion)) throw new Error(`turbulence: fusion must be none, mean or median, got '${seq.fusion}'`);
  // the integral's half-correlation points for γ, in units of β
  const halves = (gamma: number) => {
    if (correlation === 'fit') return { long: CORRELATION_MODEL.halfLong, ratio: CORRELATION_MODEL.anisotropy };
    const b = aaCorrelation(gamma, p.wave ?? 'spherical', BETA_CAP);
    const long = b.crossing('long', 0.5);
    return { long, ratio: b.crossing('lat', 0.5) / long };
  };
  if (p.cn2 !== undefined) {
    if (!(Number.isFinite(p.cn2) && p.cn2 >= 0)) throw new Error(`turbulence: Cn² must be ≥ 0, got ${p.cn2}`);
    const L = p.pathLength ?? 2000, f = p.focalLength ?? 0.3, D = p.aperture ?? (p.focalLength ?? 0.3) / 5.6;
    const pitch = p.pixelPitch ?? 4e-6, lambda = p.wavelength ?? 550e-9;
    for (const [k, v] of [['path length', L], ['focal length', f], ['aperture', D], ['pixel pitch', pitch], ['wavelength', lambda]] as const) positive(k, v);
    // angle-of-arrival variance, asymptotic form: σ_A² = c·Cn²·L·D^(−1/3), c = 1.09 spherical, 2.91 plane
    const c = (p.wave ?? 'spherical') === 'spherical' ? 1.09 : 2.91;
    const fpx = f / pitch;
    const sigma = fpx * Math.sqrt(c * p.cn2 * L * D ** (-1 / 3));
    const gamma = (p.outerScale ?? 1.6) / D, h = halves(gamma);
    const pixelsPerBeta = fpx * (D / L);   // β = r / (f·θ_D), θ_D = D/L
    return { sigma, corrLength: h.long * pixelsPerBeta, anisotropy: p.anisotropy ?? h.ratio, mode: 'physical', q: D / Math.sqrt(lambda * L), blur,
      correlation, gamma, pixelsPerBeta, keepMean, wave: p.wave ?? 'spherical', ...seq };
  }
  if (p.outerScale !== undefined) throw new Error('turbulence: the outer scale is a physical-mode setting (give Cn² too)');
  const sigma = p.sigma ?? 2, corrLength = p.corrLength ?? 8;
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new Error(`turbulence: sigma must be ≥ 0 pixels, got ${sigma}`);
  positive('correlation length', corrLength);
  const h = halves(REFERENCE_GAMMA);
  return { sigma, corrLength, anisotropy: p.anisotropy ?? h.ratio, mode: 'direct', blur, correlation, gamma: REFERENCE_GAMMA,
    pixelsPerBeta: corrLength / h.long, keepMean, wave: p.wave ?? 'spherical', ...seq };
}

// white complex noise: re ~ N(0,1) (Box–Muller of two counter-hashed uniforms), im = 0
const NOISE = kernel('turb_noise', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, seed: u32 }
@group(0) @binding(0) var<storage, read_write> z: array<vec2f>;
@group(0) @binding(1) var<uniform> u: P;
${HASH_U32}
${MAIN_1D}
  if (idx >= u.n) { return; }
  let s = mix(u.seed);
  let u1 = (f32(mix(s ^ (2u * idx)) >> 8u) + 0.5) / 16777216.0;
  let u2 = f32(mix(s ^ (2u * idx + 1u)) >> 8u) / 16777216.0;
  z[idx] = vec2f(sqrt(-2.0 * log(u1)) * cos(6.28318530718 * u2), 0.0);
}`);

// F = K·Z per frequency: (Fx, Fy) = (K11 Zx + K21 Zy, K21 Zx + K22 Zy); planes are [n, {x,y}, G, G].
const APPLY_K = kernel('turb_apply_filter', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, gg: u32 }
@group(0) @binding(0) var<storage, read> z: array<vec2f>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read_write> f: array<vec2f>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n * u.gg) { return; }
  let p = idx % u.gg;
  let b = idx / u.gg;
  let zx = z[(2u * b) * u.gg + p];
  let zy = z[(2u * b + 1u) * u.gg + p];
  f[(2u * b) * u.gg + p] = k[p] * zx + k[2u * u.gg + p] * zy;
  f[(2u * b + 1u) * u.gg + p] = k[2u * u.gg + p] * zx + k[u.gg + p] * zy;
}`);

// Per field (n, component): sum and sum of squares of the real part over the H×W crop.
const CROP_STATS = kernel('turb_crop_stats', /* wgsl */ `
override WG: u32 = 64;
struct P { fields: u32, g: u32, h: u32, w: u32 }
@group(0) @binding(0) var<storage, read> f: array<vec2f>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.fields) { return; }
  var s = 0.0;
  var q = 0.0;
  for (var i = lid; i < u.h * u.w; i += WG) {
    let v = f[o * u.g * u.g + (i / u.w) * u.g + i % u.w].x;
    s += v;
    q += v * v;
  }
  part[lid] = s;
  ${TREE_SUM}
  let total = part[0];
  workgroupBarrier();
  part[lid] = q;
  ${TREE_SUM}
  if (lid == 0u) { stats[2u * o] = total; stats[2u * o + 1u] = part[0]; }
}`);

// out[n, c, y, x] = σ · (Re F[n, c', y, x] − mean) / sd; c' swaps so that channel 0 is the row (y)
// displacement. sd is the ensemble std the filter gives (integral) or each field's own std over the
// crop (fit, the earlier simulator); the mean is subtracted unless keep_mean.
const CROP_SCALE = kernel('turb_crop_scale', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, g: u32, h: u32, w: u32, sigma: f32, keep_mean: u32, per_field: u32, sd_x: f32, sd_y: f32 }
@group(0) @binding(0) var<storage, read> f: array<vec2f>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_1D}
  let hw = u.h * u.w;
  if (idx >= u.n * 2u * hw) { return; }
  let p = idx % hw;
  let c = (idx / hw) % 2u;
  let b = idx / (2u * hw);
  let src = 2u * b + (1u - c);                      // F planes are (x, y); output channels are (row = y, col = x)
  let m = f32(hw);
  let mean = stats[2u * src] / m;
  var sd = select(u.sd_y, u.sd_x, c == 1u);
  if (u.per_field != 0u) { sd = sqrt(max(stats[2u * src + 1u] / m - mean * mean, 1e-20)); }
  let shift = select(mean, 0.0, u.keep_mean != 0u);
  out[idx] = u.sigma * (f[src * u.g * u.g + (p / u.w) * u.g + p % u.w].x - shift) / sd;
}`);

// blur map from channel 0 of a unit-variance field: Φ(v) ≈ 1 / (1 + e^(−1.702 v))
const BLUR_MAP = kernel('turb_blur_map', /* wgsl */ `
override WG: u32 = 64;
struct P { total: u32, hw: u32 }
@group(0) @binding(0) var<storage, read> f: array<f32>;
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.total) { return; }
  let b = idx / u.hw;
  m[idx] = 1.0 / (1.0 + exp(-1.702 * f[2u * b * u.hw + idx % u.hw]));
}`);

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(n));

/** The Blackman window the reference applies to the correlation before its FFT, at offset i of a G grid (1 at 0). */
export const blackman = (i: number, g: number): number =>
  0.42 - 0.5 * Math.cos((2 * Math.PI * (i + g / 2)) / g) + 0.08 * Math.cos((4 * Math.PI * (i + g / 2)) / g);

/** The ensemble std of the x and y planes that filter k (designFilter's layout) gives unit white noise. */
export function filterStd(k: Float32Array, g: number): { x: number; y: number } {
  let x = 0, y = 0;
  for (let i = 0; i < g * g; i++) {
    const [a, d, b] = [k[i], k[g * g + i], k[2 * g * g + i]];
    x += a * a + b * b; y += d * d + b * b;
  }
  return { x: Math.sqrt(x) / g, y: Math.sqrt(y) / g };
}
const filterCache = new Map<string, Float32Array>();

/**
 * K11, K22, K21 planes (G×G) of the per-frequency square root of the windowed correlation spectrum.
 * The filtered unit white noise F = IFFT(K·FFT(Z)) then has per-pixel variance Σ(K11² + K21²)/G²
 * (x) and Σ(K22² + K21²)/G² (y): filterStd.
 */
export function designFilter(g: number, t: ResolvedTurbulence): Float32Array {
  const key = `${g}:${t.corrLength}:${t.anisotropy}:${t.correlation}:${t.gamma}:${t.pixelsPerBeta}:${t.wave}`;
  const hit = filterCache.get(key);
  if (hit) return hit;
  const M = CORRELATION_MODEL;
  const rLong = t.corrLength, rLat = t.corrLength * t.anisotropy;
  // the integral: b_long(r / fθ_D); b_lat with its own anisotropy replaced by the requested one
  const aa = t.correlation === 'integral' ? aaCorrelation(t.gamma, t.wave, BETA_CAP) : null;
  const latScale = aa ? aa.crossing('lat', 0.5) / aa.crossing('long', 0.5) / t.anisotropy : 1;
  const c11 = new Float64Array(g * g), c22 = new Float64Array(g * g), c21 = new Float64Array(g * g);
  const win = (i: number) => blackman(i, g);
  for (let yi = 0; yi < g; yi++) for (let xi = 0; xi < g; xi++) {
    const y = yi < g / 2 ? yi : yi - g, x = xi < g / 2 ? xi : xi - g;   // offsets with the origin at index 0
    const r = Math.hypot(x, y), i = yi * g + xi, w = win(y) * win(x);
    if (r === 0) { c11[i] = w; c22[i] = w; continue; }
    const beta = r / t.pixelsPerBeta;
    const bl = aa ? aa.long(beta) : 1 / (1 + (r / rLong) ** M.pLong), bt = aa ? aa.lat(beta * latScale) : 1 / (1 + (r / rLat) ** M.pLat);
    c11[i] = w * (bt - ((bt - bl) * x * x) / (r * r));
    c22[i] = w * (bt - ((bt - bl) * y * y) / (r * r));
    c21[i] = w * (-(bt - bl) * x * y) / (r * r);
  }
  const [s11, s22, s21] = [fft2dRealEven(c11, g), fft2dRealEven(c22, g), fft2dRealEven(c21, g)];
  const k = new Float32Array(3 * g * g);
  for (let i = 0; i < g * g; i++) {
    const a = Math.max(s11[i], 0), d = Math.max(s22[i], 0), b = s21[i];
    const s = Math.sqrt(Math.abs(a * d - b * b)), tt = Math.sqrt(a + d + 2 * s);
    if (tt > 0) { k[i] = (a + s) / tt; k[g * g + i] = (d + s) / tt; k[2 * g * g + i] = b / tt; }
  }
  filterCache.set(key, k);
  return k;
}

/** Generates displacement fields and distorts images at a fixed size, deterministically by seed. */
export class TurbulenceSimulator {
  readonly params: ResolvedTurbulence;
  readonly grid: number;
  private readonly filter: Tensor;
  private readonly filterSd: { x: number; y: number };
  constructor(readonly height: number, readonly width: number, p: TurbulenceParams = {}) {
    if (!(Number.isInteger(height) && Number.isInteger(width) && height >= 2 && width >= 2)) {
      throw new Error(`turbulence: invalid image size ${width}x${height}`);
    }
    this.params = resolveTurbulence(p);
    this.grid = Math.max(16, nextPow2(2 * Math.max(height, width)));
    if (this.grid > 2048) throw new Error(`turbulence: ${width}x${height} needs a ${this.grid}² FFT grid; simulate at ≤ 1024 px (resize first)`);
    const g = this.grid;
    const k = designFilter(g, this.params);
    this.filterSd = filterStd(k, g);
    this.filter = tensor(k, [3, g, g]);
    this.filter.requiresGrad = false;
  }

  /** Displacement fields [n, 2, H, W] (channel 0 rows, 1 columns, pixels), the same for the same seed. */
  fields(n: number, seed: number): Tensor { return this.field(n, seed, this.params.sigma); }

  /** Blur map [n, H, W] in (0, 1): a unit-variance field (same correlation) through a logistic CDF approximation. */
  blurMap(n: number, seed: number): Tensor {
    return noGrad(() => {
      const f = this.field(n, seed, 1), m = empty([n, this.height, this.width], 'f32', 'blur_map');
      run(BLUR_MAP, { inputs: [f], outputs: [m], params: [m.size, this.height * this.width], threads: m.size });
      f.dispose();
      return m;
    });
  }

  private field(n: number, seed: number, scale: number): Tensor {
    return noGrad(() => {
      const g = this.grid, [H, W] = [this.height, this.width];
      const z = empty([2 * n, g, g, 2], 'f32', 'turb_noise');
      run(NOISE, { outputs: [z], params: [2 * n * g * g, seed >>> 0], threads: 2 * n * g * g });
      const zf = fft2d(z);
      z.dispose();
      const ff = empty([2 * n, g, g, 2], 'f32', 'turb_spectrum');
      run(APPLY_K, { inputs: [zf, this.filter], outputs: [ff], params: [n, g * g], threads: n * g * g });
      zf.dispose();
      const f = fft2d(ff, true);
      ff.dispose();
      const stats = empty([2 * n, 2], 'f32', 'turb_stats');
      run(CROP_STATS, { inputs: [f], outputs: [stats], params: [2 * n, g, H, W], groups: 2 * n });
      const out = empty([n, 2, H, W], 'f32', 'turbulence');
      run(CROP_SCALE, { inputs: [f, stats], outputs: [out], params: [n, g, H, W, f32(scale), this.params.keepMean ? 1 : 0,
        this.params.correlation === 'fit' ? 1 : 0, f32(this.filterSd.x), f32(this.filterSd.y)], threads: out.size });
      f.dispose(); stats.dispose();
      return out;
    });
  }

  /**
   * What a camera sees of images [n, 3, H, W] (a static scene): `frames` frames, each warped by its
   * own field and then (blur > 0) blurred by σ(x) = blur·m(x) with an independent smooth map m.
   * Returns the frames [n, 3·frames, H, W] (fused to [n, 3, H, W] with `fusion`) and every frame's
   * field [n, 2·frames, H, W]. Frame 0 is the single-frame distortion of `seed`; frame j's field
   * is ρ·field(j − 1) + √(1 − ρ²)·fresh (ρ = frameCorrelation), so each keeps the ensemble statistics.
   */
  distort(images: Tensor, seed: number): { image: Tensor; field: Tensor } {
    if (images.rank !== 4 || images.shape[1] !== 3 || images.shape[2] !== this.height || images.shape[3] !== this.width) {
      throw new Error(`turbulence: images ${images.describe()} do not match the simulator's [N,3,${this.height},${this.width}]`);
    }
    const { frames: k, frameCorrelation: rho, fusion } = this.params, n = images.shape[0];
    if (k === 1) {
      const field = this.fields(n, seed);
      return { image: this.apply(images, field, seed), field };
    }
    return noGrad(() => {
      const fields: Tensor[] = [], views: Tensor[] = [];
      for (let j = 0; j < k; j++) {
        const fresh = this.fields(n, j === 0 ? seed : sampleSeed(seed, j));
        if (j === 0 || rho === 0) { fields.push(fresh); continue; }
        const a = scale(fields[j - 1], rho), b = scale(fresh, Math.sqrt(1 - rho * rho));
        fields.push(add(a, b));
        for (const t of [a, b, fresh]) t.dispose();
      }
      // ego-motion: frame j's field also shifts the scene by j·v pixels (channel 1 is the horizontal displacement)
      const v = this.params.egoMotion, hw = this.height * this.width;
      for (let j = 1; j < k && v !== 0; j++) {
        const shift = new Float32Array(n * 2 * hw);
        for (let b = 0; b < n; b++) shift.fill(j * v, (2 * b + 1) * hw, (2 * b + 2) * hw);
        const s = tensor(shift, [n, 2, this.height, this.width]), moved = add(fields[j], s);
        s.dispose(); fields[j].dispose(); fields[j] = moved;
      }
      for (let j = 0; j < k; j++) views.push(this.apply(images, fields[j], j === 0 ? seed : sampleSeed(seed, j)));
      const all = concat(views), field = concat(fields);
      for (const t of [...views, ...fields]) t.dispose();
      if (fusion === 'none') return { image: all, field };
      const image = temporalFuse(all, k, fusion);
      all.dispose();
      return { image, field };
    });
  }

  /** One frame: images warped by `field` (kept), blurred when the settings say so. */
  private apply(images: Tensor, field: Tensor, seed: number): Tensor {
    const warped = noGrad(() => warp(images, field));
    if (this.params.blur === 0) return warped;
    const map = this.blurMap(images.shape[0], (Math.imul(seed, 0x2545f491) ^ 0x6a09e667) >>> 0);
    const image = noGrad(() => variableBlur(warped, map, this.params.blur));
    warped.dispose(); map.dispose();
    return image;
  }

  /** Statistics of n fields from `seed` (RMS, whole-image shift, neighbour differences, folds): what `mirage simulate` prints. */
  async statistics(n = 8, seed = 1): Promise<FieldStats> {
    const f = this.fields(n, seed);
    try { return fieldStats(await f.readF32(), n, this.height, this.width); } finally { f.dispose(); }
  }

  dispose(): void { this.filter.dispose(); }
}

/** One line describing resolved settings and their fields' statistics. */
export function describeTurbulence(p: ResolvedTurbulence, s?: FieldStats): string {
  return `σ ${p.sigma.toFixed(2)} px, longitudinal correlation 0.5 at ${p.corrLength.toFixed(1)} px, lateral/longitudinal ${p.anisotropy.toFixed(2)} ` +
    `(${p.mode}${p.q ? `, q = ${p.q.toFixed(2)}` : ''}, ${p.correlation === 'integral' ? `Belen'kii's integral, γ ${p.gamma.toFixed(0)}` : 'four-point fit'}` +
    `${p.keepMean ? ', whole-image shift kept' : ''})${p.blur ? `, blur up to σ ${p.blur} px` : ''}` +
    (p.frames > 1 ? `, ${p.frames} frames (field correlation ${p.frameCorrelation} between frames${p.egoMotion ? `, scene moving ${p.egoMotion} px per frame` : ''})` +
      `${p.fusion !== 'none' ? ` fused by the per-pixel ${p.fusion}` : ''}` : '') +
    (s ? `; fields: RMS ${s.rms.toFixed(2)} px, shift ${s.meanShift.toFixed(2)} px, neighbour difference ${s.neighbourStd.toFixed(2)} px, ` +
      `folds at ${(100 * s.foldFraction).toFixed(1)}% of pixels` : '');
}

/** A seed for sample `index` of data set `seed`: distortions repeat exactly across runs. */
export const sampleSeed = (seed: number, index: number): number =>
  (Math.imul(seed ^ 0x51ed27, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;

