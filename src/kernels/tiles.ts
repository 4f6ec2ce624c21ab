// Inference-time tiling (sliding-window and multi-scale evaluation, src/train/inference.ts): crop a
// region, mirror along W, add a tile's logits into a full-size accumulator. No autograd: evaluation only.
import { contiguousStrides } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { stridedCopy } from './strided.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

const REGION = /* wgsl */ `struct P { n: u32, h: u32, w: u32, th: u32, tw: u32, y0: u32, x0: u32 }`;

// y[p, ty, tx] (+)= x[p, y0 + ty, x0 + tx] or the reverse; planes p = (n, c)
const ADD_REGION = kernel('add_region', /* wgsl */ `
override WG: u32 = 64;
${REGION}
@group(0) @binding(0) var<storage, read> tile: array<f32>;
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n * u.th * u.tw) { return; }
  let tx = idx % u.tw;
  let ty = (idx / u.tw) % u.th;
  let p = idx / (u.tw * u.th);
  acc[(p * u.h + u.y0 + ty) * u.w + u.x0 + tx] += tile[idx];
}`);

const FLIP_W = kernel('flip_w', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, w: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  let x0 = idx % u.w;
  y[idx - x0 + u.w - 1u - x0] = x[idx];
}`);

function check4(op: string, x: Tensor) {
  assertDType(op, x, 'f32');
  if (x.rank !== 4) throw new Error(`${op}: expected NCHW, got ${x.describe()}`);
}

/** x[:, :, y0 : y0+h, x0 : x0+w]. */
export function cropRegion(x: Tensor, y0: number, x0: number, h: number, w: number): Tensor {
  check4('crop_region', x);
  const [n, c, H, W] = x.shape;
  if (y0 < 0 || x0 < 0 || y0 + h > H || x0 + w > W) throw new Error(`crop_region: ${h}x${w} at (${y0}, ${x0}) is outside ${x.describe()}`);
  const y = empty([n, c, h, w], 'f32', 'crop');
  const s = contiguousStrides(x.shape);
  stridedCopy(x, y, { shape: [n * c, h, w], inStrides: [s[1], s[2], 1], outStrides: [h * w, w, 1], inOffset: y0 * W + x0 });
  return y;
}

/** acc[:, :, y0 : y0+h, x0 : x0+w] += tile (in place). */
export function addRegion(acc: Tensor, tile: Tensor, y0: number, x0: number): void {
  check4('add_region', acc); check4('add_region', tile);
  const [n, c, H, W] = acc.shape, [tn, tc, h, w] = tile.shape;
  if (tn !== n || tc !== c || y0 < 0 || x0 < 0 || y0 + h > H || x0 + w > W) throw new Error(`add_region: ${tile.describe()} at (${y0}, ${x0}) does not fit ${acc.describe()}`);
  run(ADD_REGION, { inputs: [tile], outputs: [acc], params: [n * c, H, W, h, w, y0, x0], threads: tile.size });
}

/** x mirrored along its last axis (W). */
export function flipW(x: Tensor): Tensor {
  check4('flip_w', x);
  const y = empty(x.shape, 'f32', 'flip');
  run(FLIP_W, { inputs: [x], outputs: [y], params: [x.size, x.shape[3]], threads: x.size });
  return y;
}
