// The simulator's optional blur stage (data-and-simulation.md §C3 step 7, QuickTurbSim style):
// a few Gaussian-blurred copies of the warped image, and per pixel a blend of the two copies
// around σ(x) = blur · m(x), where m ∈ [0, 1] is a smooth random map. No gradients: data only.
import { f32 } from '../engine/params.js';
import { type Tensor, empty } from '../engine/tensor.js';
import { MAIN_1D, kernel, run } from '../kernels/wgsl.js';

/** Number of blur levels: σ_k = blur · k / (LEVELS − 1), k = 0 … LEVELS − 1 (level 0 is the input). */
export const BLUR_LEVELS = 4;

// One axis of a separable Gaussian (radius ⌈3σ⌉, weights normalised, edges clamped).
const GAUSS_1D = kernel('gauss_blur_1d', /* wgsl */ `
override WG: u32 = 64;
struct P { total: u32, h: u32, w: u32, vertical: u32, sigma: f32, radius: i32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.total) { return; }
  let col = idx % u.w;
  let row = (idx / u.w) % u.h;
  let base = idx - row * u.w - col;
  var acc = 0.0;
  var norm = 0.0;
  for (var t = -u.radius; t <= u.radius; t++) {
    let k = exp(-0.5 * f32(t * t) / (u.sigma * u.sigma));
    var src: u32;
    if (u.vertical != 0u) { src = base + u32(clamp(i32(row) + t, 0, i32(u.h) - 1)) * u.w + col; }
    else { src = base + row * u.w + u32(clamp(i32(col) + t, 0, i32(u.w) - 1)); }
    acc += k * x[src];
    norm += k;
  }
  y[idx] = acc / norm;
}`);

// out = lerp(level_i, level_{i+1}, f) with t = m·(LEVELS − 1), i = ⌊t⌋, f = t − i; the map is per
// image and pixel ([n, H, W]) and shared by the colour channels.
const BLUR_SELECT = kernel('blur_select', /* wgsl */ `
override WG: u32 = 64;
struct P { total: u32, c: u32, hw: u32 }
@group(0) @binding(0) var<storage, read> l0: array<f32>;
@group(0) @binding(1) var<storage, read> l1: array<f32>;
@group(0) @binding(2) var<storage, read> l2: array<f32>;
@group(0) @binding(3) var<storage, read> l3: array<f32>;
@group(0) @binding(4) var<storage, read> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.total) { return; }
  let p = idx % u.hw;
  let b = idx / (u.hw * u.c);
  let t = clamp(m[b * u.hw + p], 0.0, 1.0) * ${BLUR_LEVELS - 1}.0;
  let i = min(u32(floor(t)), ${BLUR_LEVELS - 2}u);
  let f = t - f32(i);
  var a: f32;
  var c: f32;
  switch i {
    case 0u: { a = l0[idx]; c = l1[idx]; }
    case 1u: { a = l1[idx]; c = l2[idx]; }
    default: { a = l2[idx]; c = l3[idx]; }
  }
  y[idx] = a + f * (c - a);
}`);

/** Separable Gaussian blur of [n, c, H, W] images with clamped edges (σ > 0 pixels). */
export function gaussianBlur(x: Tensor, sigma: number): Tensor {
  if (x.rank !== 4) throw new Error(`gaussianBlur: images must be [N,C,H,W], got ${x.describe()}`);
  if (!(sigma > 0 && Number.isFinite(sigma))) throw new Error(`gaussianBlur: sigma must be > 0 pixels, got ${sigma}`);
  const [, , h, w] = x.shape, radius = Math.ceil(3 * sigma);
  const tmp = empty(x.shape, 'f32', 'blur_rows'), y = empty(x.shape, 'f32', 'blur');
  run(GAUSS_1D, { inputs: [x], outputs: [tmp], params: [x.size, h, w, 0, f32(sigma), radius], threads: x.size });
  run(GAUSS_1D, { inputs: [tmp], outputs: [y], params: [x.size, h, w, 1, f32(sigma), radius], threads: x.size });
  tmp.dispose();
  return y;
}

/** Spatially varying blur: σ(x) = blur · map(x), map [n, H, W] in [0, 1] (clamped). */
export function variableBlur(x: Tensor, map: Tensor, blur: number): Tensor {
  const [n, c, h, w] = x.shape;
  if (map.rank !== 3 || map.shape[0] !== n || map.shape[1] !== h || map.shape[2] !== w) {
    throw new Error(`variableBlur: map ${map.describe()} should be [${n},${h},${w}] for images ${x.describe()}`);
  }
  const levels = [x, ...Array.from({ length: BLUR_LEVELS - 1 }, (_, k) => gaussianBlur(x, (blur * (k + 1)) / (BLUR_LEVELS - 1)))];
  const y = empty(x.shape, 'f32', 'blurred');
  run(BLUR_SELECT, { inputs: [...levels, map], outputs: [y], params: [x.size, c, h * w], threads: x.size });
  levels.slice(1).forEach((t) => t.dispose());
  return y;
}
