// Restoration metrics per image (no gradients): the squared and absolute error of an image against
// its target, and the mean end-point error of a displacement field against another. One workgroup
// per image sums over the image's values; the host turns sums into L1, PSNR and EPE.
import { asF32 } from './cast.js';
import { assertDType, empty, type Tensor } from '../engine/tensor.js';
import { MAIN_PER_GROUP, TREE_SUM, kernel, run } from './wgsl.js';

// out[b] = (Σ (a − t)², Σ |a − t|) over image b's m values
const IMAGE_ERRORS = kernel('image_errors', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, m: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.n) { return; }
  var sq = 0.0;
  var ab = 0.0;
  for (var i = lid; i < u.m; i += WG) {
    let d = a[o * u.m + i] - t[o * u.m + i];
    sq += d * d;
    ab += abs(d);
  }
  part[lid] = sq;
  ${TREE_SUM}
  let total = part[0];
  workgroupBarrier();
  part[lid] = ab;
  ${TREE_SUM}
  if (lid == 0u) { out[2u * o] = total; out[2u * o + 1u] = part[0]; }
}`);

// out[b, k] = Σ_p ‖f[b, 2k:2k+2, p] − g[b, 2k:2k+2, p]‖ over the hw pixels of field pair k
const FLOW_EPE = kernel('flow_epe', /* wgsl */ `
override WG: u32 = 64;
struct P { pairs: u32, hw: u32 }
@group(0) @binding(0) var<storage, read> f: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.pairs) { return; }
  var s = 0.0;
  for (var i = lid; i < u.hw; i += WG) {
    let dy = f[2u * o * u.hw + i] - g[2u * o * u.hw + i];
    let dx = f[(2u * o + 1u) * u.hw + i] - g[(2u * o + 1u) * u.hw + i];
    s += sqrt(dy * dy + dx * dx);
  }
  part[lid] = s;
  ${TREE_SUM}
  if (lid == 0u) { out[o] = part[0]; }
}`);

/** fn on f32 copies of the f16 tensors among ts (the f32 ones as they are), the copies disposed after. */
function widened(ts: Tensor[], fn: (ts: Tensor[]) => Tensor): Tensor {
  const ws = ts.map(asF32);
  try { return fn(ws.map((w) => w.t)); } finally { for (const w of ws) if (w.owned) w.t.dispose(); }
}

/** Per image of a and its target t ([N, …], same shape): [N, 2] = (Σ squared error, Σ absolute error). */
export function imageErrors(a: Tensor, t: Tensor): Tensor {
  if (a.dtype === 'f16' || t.dtype === 'f16') return widened([a, t], ([a32, t32]) => imageErrors(a32, t32));   // f16 activations: metrics in f32
  assertDType('imageErrors', a, 'f32'); assertDType('imageErrors', t, 'f32', 'target');
  if (a.rank < 2 || a.shape.length !== t.shape.length || a.shape.some((d, i) => d !== t.shape[i])) {
    throw new Error(`imageErrors: ${a.describe()} and its target ${t.describe()} must have one shape [N, …]`);
  }
  const n = a.shape[0], m = a.size / n, out = empty([n, 2], 'f32', 'image_errors');
  run(IMAGE_ERRORS, { inputs: [a, t], outputs: [out], params: [n, m], groups: n });
  return out;
}

/** Per image and field pair of f and g ([N, 2K, H, W]): [N, K] = Σ over pixels of the end-point error ‖f − g‖. */
export function flowEpeSum(f: Tensor, g: Tensor): Tensor {
  if (f.dtype === 'f16' || g.dtype === 'f16') return widened([f, g], ([f32, g32]) => flowEpeSum(f32, g32));
  assertDType('flowEpe', f, 'f32'); assertDType('flowEpe', g, 'f32');
  if (f.rank !== 4 || f.shape[1] % 2 || f.shape.some((d, i) => d !== g.shape[i])) {
    throw new Error(`flowEpe: fields ${f.describe()} and ${g.describe()} must be one shape [N, 2K, H, W]`);
  }
  const [n, c, h, w] = f.shape, out = empty([n, c / 2], 'f32', 'flow_epe');
  run(FLOW_EPE, { inputs: [f, g], outputs: [out], params: [n * (c / 2), h * w], groups: n * (c / 2) });
  return out;
}
