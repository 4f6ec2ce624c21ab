// max_pool2d / avg_pool2d over NCHW, window k×k, stride s (default k), max pool padding p.
// Max pool stores the argmax (flat index iy·W+ix in the plane) for backward; both backwards
// are gathers over the windows covering each input pixel (deterministic, no atomics).
import { defineOp } from '../engine/autograd.js';
import { fmt } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { MAIN_1D, kernel, run, storage, storeIdx } from './wgsl.js';

const POOL = /* wgsl */ `
struct Pool { n: u32, c: u32, h: u32, w: u32, oh: u32, ow: u32, k: u32, s: u32, p: u32 }`;

// (f32, or f16 activations: max of f16 values is one of them, so the store is exact)
const maxpoolFwd = (half: boolean) => { const h = storage('f32', half); return kernel(`maxpool_fwd${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
${POOL}
@group(0) @binding(0) var<storage, read> x: array<${h.S}>;
@group(0) @binding(1) var<storage, read_write> y: array<${h.S}>;
@group(0) @binding(2) var<storage, read_write> arg: array<u32>;
@group(0) @binding(3) var<uniform> u: Pool;
${MAIN_1D}
  if (idx >= u.n * u.c * u.oh * u.ow) { return; }
  let ox = idx % u.ow;                             // idx = (plane·OH + oy)·OW + ox
  let oy = (idx / u.ow) % u.oh;
  let plane = idx / (u.ow * u.oh);
  var best = 0.0;                                  // replaced by the first in-bounds value (besti sentinel)
  var besti = 0xffffffffu;
  for (var r = 0u; r < u.k; r++) {
    let iy = i32(oy * u.s + r) - i32(u.p);
    if (iy < 0 || iy >= i32(u.h)) { continue; }
    for (var q = 0u; q < u.k; q++) {
      let ix = i32(ox * u.s + q) - i32(u.p);
      if (ix < 0 || ix >= i32(u.w)) { continue; }
      let j = u32(iy) * u.w + u32(ix);
      let v = ${h.ld('x[plane * u.h * u.w + j]')};
      if (v > best || besti == 0xffffffffu || v != v) { best = v; besti = j; }
    }
  }
  y[idx] = ${h.st('best')};
  arg[idx] = besti;
}`); };
const MAXPOOL_FWD = [maxpoolFwd(false), maxpoolFwd(true)];

// First and last output index whose window covers input index i along one axis.
const COVER = /* wgsl */ `
fn cover(i: u32, k: u32, s: u32, p: u32, n: u32) -> vec2i {
  let lo = (i32(i + p) - i32(k) + i32(s)) / i32(s);   // ceil((i + p − k + 1) / s) for i + p − k + 1 ≥ 0
  let first = select(0, lo, i32(i + p) + 1 >= i32(k));
  let last = min(i32(i + p) / i32(s), i32(n) - 1);
  return vec2i(first, last);
}`;

const maxpoolBwd = (half: boolean) => { const h = storage('f32', half); return kernel(`maxpool_bwd${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
${POOL}
@group(0) @binding(0) var<storage, read> dy: array<${h.S}>;
@group(0) @binding(1) var<storage, read> arg: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<${h.S}>;
@group(0) @binding(3) var<uniform> u: Pool;
${COVER}
${MAIN_1D}
  if (idx >= u.n * u.c * u.h * u.w) { return; }
  let j = idx % (u.h * u.w);
  let plane = idx / (u.h * u.w);
  let ry = cover(j / u.w, u.k, u.s, u.p, u.oh);
  let rx = cover(j % u.w, u.k, u.s, u.p, u.ow);
  var acc = 0.0;
  for (var oy = ry.x; oy <= ry.y; oy++) {
    for (var ox = rx.x; ox <= rx.y; ox++) {
      let o = (plane * u.oh + u32(oy)) * u.ow + u32(ox);
      if (arg[o] == j) { acc += ${h.ld('dy[o]')}; }
    }
  }
  dx[idx] = ${h.st('acc')};
}`); };
const MAXPOOL_BWD = [maxpoolBwd(false), maxpoolBwd(true)];

const AVGPOOL_FWD = kernel('avgpool_fwd', /* wgsl */ `
override WG: u32 = 64;
${POOL}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: Pool;
${MAIN_1D}
  if (idx >= u.n * u.c * u.oh * u.ow) { return; }
  let ox = idx % u.ow;
  let oy = (idx / u.ow) % u.oh;
  let base = (idx / (u.ow * u.oh)) * u.h * u.w;
  var acc = 0.0;
  for (var r = 0u; r < u.k; r++) {
    for (var q = 0u; q < u.k; q++) { acc += x[base + (oy * u.s + r) * u.w + ox * u.s + q]; }
  }
  y[idx] = acc / f32(u.k * u.k);
}`);

const AVGPOOL_BWD = kernel('avgpool_bwd', /* wgsl */ `
override WG: u32 = 64;
${POOL}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> u: Pool;
${COVER}
${MAIN_1D}
  if (idx >= u.n * u.c * u.h * u.w) { return; }
  let j = idx % (u.h * u.w);
  let plane = idx / (u.h * u.w);
  let ry = cover(j / u.w, u.k, u.s, 0u, u.oh);
  let rx = cover(j % u.w, u.k, u.s, 0u, u.ow);
  var acc = 0.0;
  for (var oy = ry.x; oy <= ry.y; oy++) {
    for (var ox = rx.x; ox <= rx.y; ox++) { acc += dy[(plane * u.oh + u32(oy)) * u.ow + u32(ox)]; }
  }
  dx[idx] = acc / f32(u.k * u.k);
}`);

interface PoolGeom { n: number; c: number; h: number; w: number; oh: number; ow: number; k: number; s: number; p: number }
const geomParams = (g: PoolGeom) => [g.n, g.c, g.h, g.w, g.oh, g.ow, g.k, g.s, g.p];

function poolGeometry(op: string, x: Tensor, k: number, s: number, p: number, ceil = false): PoolGeom {
  if (x.dtype !== 'f16' || op !== 'max_pool2d') assertDType(op, x, 'f32', 'x');
  if (x.rank !== 4) throw new Error(`${op}: x must be NCHW (rank 4), got ${x.describe()}`);
  if (![k, s].every((v) => Number.isInteger(v) && v >= 1) || !Number.isInteger(p) || p < 0 || 2 * p > k) {
    throw new Error(`${op}: invalid kernel ${k}, stride ${s}, padding ${p}`);
  }
  const [n, c, h, w] = x.shape;
  // ceil_mode (PyTorch): one more window where a partial one remains, if it starts inside the input or left padding
  const size = (n: number) => {
    const o = (ceil ? Math.ceil : Math.floor)((n + 2 * p - k) / s) + 1;
    return ceil && (o - 1) * s >= n + p ? o - 1 : o;
  };
  const oh = size(h), ow = size(w);
  if (oh <= 0 || ow <= 0) throw new Error(`${op}: input ${fmt(x.shape)} is smaller than the ${k}x${k} window`);
  return { n, c, h, w, oh, ow, k, s, p };
}

const maxPoolOp = defineOp<[Tensor, number, number, number, boolean], PoolGeom>('maxPool2d', {
  half: 'same',
  forward(ctx, x, k, s, p, ceil) {
    const g = poolGeometry('max_pool2d', x, k, s, p, ceil);
    const y = empty([g.n, g.c, g.oh, g.ow], x.dtype, 'maxpool');
    const arg = empty(y.shape, 'u32', 'maxpool_argmax');
    run(MAXPOOL_FWD[storeIdx('max_pool2d', x)], { inputs: [x], outputs: [y, arg], params: geomParams(g), threads: y.size });
    ctx.state = g;
    ctx.save(arg);
    arg.dispose();
    return y;
  },
  backward(ctx, dy) {
    const g = ctx.state;
    const dx = empty([g.n, g.c, g.h, g.w], dy.dtype, 'maxpool_grad');
    run(MAXPOOL_BWD[storeIdx('max_pool2d', dy)], { inputs: [dy, ctx.saved[0]], outputs: [dx], params: geomParams(g), threads: dx.size });
    return [dx];
  },
});

const avgPoolOp = defineOp<[Tensor, number, number], PoolGeom>('avgPool2d', {
  forward(ctx, x, k, s) {
    const g = poolGeometry('avg_pool2d', x, k, s, 0);
    const y = empty([g.n, g.c, g.oh, g.ow], 'f32', 'avgpool');
    run(AVGPOOL_FWD, { inputs: [x], outputs: [y], params: geomParams(g), threads: y.size });
    ctx.state = g;
    return y;
  },
  backward(ctx, dy) {
    const g = ctx.state;
    const dx = empty([g.n, g.c, g.h, g.w], 'f32', 'avgpool_grad');
    run(AVGPOOL_BWD, { inputs: [dy], outputs: [dx], params: geomParams(g), threads: dx.size });
    return [dx];
  },
});

/** Max pooling (PyTorch MaxPool2d: kernel k, stride defaults to k, padding ≤ k/2, ceil_mode: partial windows at the end). */
export const maxPool2d = (x: Tensor, k = 2, stride = k, padding = 0, ceilMode = false): Tensor => maxPoolOp(x, k, stride, padding, ceilMode);
/** Average pooling without padding (PyTorch AvgPool2d(k, stride)). */
export const avgPool2d = (x: Tensor, k: number, stride = k): Tensor => avgPoolOp(x, k, stride);
