// Heat-shimmer ("turbulence") distortion as the paper's data (data-and-simulation.md §C1, §C3):
// a spatially correlated 2-D displacement field with anisotropic longitudinal / lateral correlation
// (Schwartzman et al., ICCP 2017), generated on the GPU by filtering white noise in the Fourier
// domain with a per-frequency 2×2 square-root filter, normalised to unit variance per component,
// scaled to σ pixels, then used for a bilinear backward warp of the image (labels are not warped).
import { noGrad } from '../engine/autograd.js';

import { f32 } from '../engine/params.js';
import { type Tensor, empty, tensor } from '../engine/tensor.js';
import { HASH_U32, MAIN_1D, MAIN_PER_GROUP, TREE_SUM, kernel, run } from '../kernels/wgsl.js';
import { warp } from '../kernels/warp.js';
import { fft2dRealEven } from './cpu-fft.js';
import { variableBlur } from './blur.js';
import { fft2d } from './fft.js';

/**
 * Correlation model. The reference evaluates Belen'kii's edge-waviness integral; the public spec
 * gives four points of it (b_long = 0.5 at 5.5·fθ_D and 0.2 at 21.5·fθ_D; b_lat = 0.5 at 15·fθ_D
 * and 0.2 at 70·fθ_D). We use b(r) = 1/(1 + (r/r½)^p) fitted to them: p_long = 1.02, p_lat = 0.90,
 * r½_lat / r½_long = 2.73. This is an approximation of the integral, not the integral.
 */
export const CORRELATION_MODEL = { halfLong: 5.5, pLong: 1.017, pLat: 0.9, anisotropy: 30 / 11 };

export interface TurbulenceParams {
  /** Displacement std in pixels (direct mode). */
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
}

export interface ResolvedTurbulence { sigma: number; corrLength: number; anisotropy: number; mode: 'direct' | 'physical'; q?: number; blur: number }

/** Turns physical or direct parameters into pixel units; out-of-range values are errors naming the parameter. */
export function resolveTurbulence(p: TurbulenceParams): ResolvedTurbulence {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`turbulence: ${name} must be a positive number, got ${v}`);
  };
  const anisotropy = p.anisotropy ?? CORRELATION_MODEL.anisotropy;
  positive('anisotropy', anisotropy);
  const blur = p.blur ?? 0;
  if (!(Number.isFinite(blur) && blur >= 0)) throw new Error(`turbulence: blur must be ≥ 0 pixels, got ${blur}`);
  if (p.cn2 !== undefined) {
    if (!(Number.isFinite(p.cn2) && p.cn2 >= 0)) throw new Error(`turbulence: Cn² must be ≥ 0, got ${p.cn2}`);
    const L = p.pathLength ?? 2000, f = p.focalLength ?? 0.3, D = p.aperture ?? (p.focalLength ?? 0.3) / 5.6;
    const pitch = p.pixelPitch ?? 4e-6, lambda = p.wavelength ?? 550e-9;
    for (const [k, v] of [['path length', L], ['focal length', f], ['aperture', D], ['pixel pitch', pitch], ['wavelength', lambda]] as const) positive(k, v);
    // angle-of-arrival variance, asymptotic form: σ_A² = c·Cn²·L·D^(−1/3), c = 1.09 spherical, 2.91 plane
    const c = (p.wave ?? 'spherical') === 'spherical' ? 1.09 : 2.91;
    const fpx = f / pitch;
    const sigma = fpx * Math.sqrt(c * p.cn2 * L * D ** (-1 / 3));
    const corrLength = CORRELATION_MODEL.halfLong * fpx * (D / L);   // β = r / (f·θ_D), θ_D = D/L
    return { sigma, corrLength, anisotropy, mode: 'physical', q: D / Math.sqrt(lambda * L), blur };
  }
  const sigma = p.sigma ?? 2, corrLength = p.corrLength ?? 8;
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new Error(`turbulence: sigma must be ≥ 0 pixels, got ${sigma}`);
  positive('correlation length', corrLength);
  return { sigma, corrLength, anisotropy, mode: 'direct', blur };
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

// out[n, c, y, x] = σ · Re F[n, c', y, x] / std; c' swaps so that channel 0 is the row (y) displacement.
const CROP_SCALE = kernel('turb_crop_scale', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, g: u32, h: u32, w: u32, sigma: f32 }
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
  let sd = sqrt(max(stats[2u * src + 1u] / m - mean * mean, 1e-20));
  out[idx] = u.sigma * f[src * u.g * u.g + (p / u.w) * u.g + p % u.w].x / sd;
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
const filterCache = new Map<string, Float32Array>();

/** K11, K22, K21 planes (G×G) of the per-frequency square root of the windowed correlation spectrum. */
export function designFilter(g: number, t: ResolvedTurbulence): Float32Array {
  const key = `${g}:${t.corrLength}:${t.anisotropy}`;
  const hit = filterCache.get(key);
  if (hit) return hit;
  const M = CORRELATION_MODEL;
  const rLong = t.corrLength, rLat = t.corrLength * t.anisotropy;
  const c11 = new Float64Array(g * g), c22 = new Float64Array(g * g), c21 = new Float64Array(g * g);
  const win = (i: number) => 0.42 - 0.5 * Math.cos((2 * Math.PI * (i + g / 2)) / g) + 0.08 * Math.cos((4 * Math.PI * (i + g / 2)) / g);
  for (let yi = 0; yi < g; yi++) for (let xi = 0; xi < g; xi++) {
    const y = yi < g / 2 ? yi : yi - g, x = xi < g / 2 ? xi : xi - g;   // offsets with the origin at index 0
    const r = Math.hypot(x, y), i = yi * g + xi, w = win(y) * win(x);
    if (r === 0) { c11[i] = w; c22[i] = w; continue; }
    const bl = 1 / (1 + (r / rLong) ** M.pLong), bt = 1 / (1 + (r / rLat) ** M.pLat);
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
  constructor(readonly height: number, readonly width: number, p: TurbulenceParams = {}) {
    if (!(Number.isInteger(height) && Number.isInteger(width) && height >= 2 && width >= 2)) {
      throw new Error(`turbulence: invalid image size ${width}x${height}`);
    }
    this.params = resolveTurbulence(p);
    this.grid = Math.max(16, nextPow2(2 * Math.max(height, width)));
    if (this.grid > 2048) throw new Error(`turbulence: ${width}x${height} needs a ${this.grid}² FFT grid; simulate at ≤ 1024 px (resize first)`);
    const g = this.grid;
    this.filter = tensor(designFilter(g, this.params), [3, g, g]);
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
      run(CROP_SCALE, { inputs: [f, stats], outputs: [out], params: [n, g, H, W, f32(scale)], threads: out.size });
      f.dispose(); stats.dispose();
      return out;
    });
  }

  /**
   * Warps images [n, 3, H, W] by fresh fields, then (blur > 0) blurs them by σ(x) = blur·m(x) with
   * an independent smooth map m; returns the distorted images and the fields.
   */
  distort(images: Tensor, seed: number): { image: Tensor; field: Tensor } {
    if (images.rank !== 4 || images.shape[2] !== this.height || images.shape[3] !== this.width) {
      throw new Error(`turbulence: images ${images.describe()} do not match the simulator's ${this.width}x${this.height}`);
    }
    const field = this.fields(images.shape[0], seed);
    const warped = noGrad(() => warp(images, field));
    if (this.params.blur === 0) return { image: warped, field };
    const map = this.blurMap(images.shape[0], (Math.imul(seed, 0x2545f491) ^ 0x6a09e667) >>> 0);
    const image = noGrad(() => variableBlur(warped, map, this.params.blur));
    warped.dispose(); map.dispose();
    return { image, field };
  }

  dispose(): void { this.filter.dispose(); }
}

/** A seed for sample `index` of data set `seed`: distortions repeat exactly across runs. */
export const sampleSeed = (seed: number, index: number): number =>
  (Math.imul(seed ^ 0x51ed27, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;

