// Temporal fusion of K frames of a static scene, x [N, 3K, H, W] (frame k in channels 3k…3k+2) →
// [N, 3, H, W]: the per-pixel mean or median over the frames (the median of an even count is the
// mean of its two middle values). The no-learning baseline of multi-frame turbulence mitigation;
// data only, no gradients.
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

/** Largest frame count the median sorts in registers. */
export const MAX_FRAMES = 16;

const FUSE = kernel('temporal_fuse', /* wgsl */ `
override WG: u32 = 64;
struct P { total: u32, k: u32, chw: u32, median: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.total) { return; }
  let b = idx / u.chw;
  let base = b * u.k * u.chw + idx % u.chw;          // frame f at base + f·chw
  if (u.median == 0u) {
    var s = 0.0;
    for (var f = 0u; f < u.k; f++) { s += x[base + f * u.chw]; }
    y[idx] = s / f32(u.k);
    return;
  }
  var v: array<f32, ${MAX_FRAMES}>;
  for (var f = 0u; f < u.k; f++) {                   // insertion sort
    let a = x[base + f * u.chw];
    var j = f;
    while (j > 0u && v[j - 1u] > a) { v[j] = v[j - 1u]; j--; }
    v[j] = a;
  }
  let m = u.k / 2u;
  y[idx] = select(v[m], 0.5 * (v[m - 1u] + v[m]), u.k % 2u == 0u);
}`);

export type Fusion = 'mean' | 'median';

/** Per-pixel mean or median of the k frames of x [N, 3k, H, W] → [N, 3, H, W]. */
export function temporalFuse(x: Tensor, k: number, how: Fusion): Tensor {
  assertDType('temporalFuse', x, 'f32');
  if (!(Number.isInteger(k) && k >= 1 && k <= MAX_FRAMES)) throw new Error(`temporalFuse: frames must be an integer from 1 to ${MAX_FRAMES}, got ${k}`);
  if (x.rank !== 4 || x.shape[1] !== 3 * k) throw new Error(`temporalFuse: expected [N, ${3 * k}, H, W] for ${k} RGB frames, got ${x.describe()}`);
  if (how !== 'mean' && how !== 'median') throw new Error(`temporalFuse: fusion must be mean or median, got '${how}'`);
  const [n, , h, w] = x.shape, y = empty([n, 3, h, w], 'f32', `temporal_${how}`);
  run(FUSE, { inputs: [x], outputs: [y], params: [y.size, k, 3 * h * w, how === 'median' ? 1 : 0], threads: y.size });
  return y;
}
