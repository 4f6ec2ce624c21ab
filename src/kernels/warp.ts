// warp (the feedback network's Interp layer): out[b,c,i,j] = bilinear sample of im[b,c] at
// (clamp(i + di, 0, H−1), clamp(j + dj, 0, W−1)), di = flow[b,0,i,j], dj = flow[b,1,i,j],
// absolute pixel coordinates with border clamping (seed-specs §1.3).
// Backward: image gradient is a scatter (f32 atomic CAS); flow gradient is a gather.
import { defineOp } from '../engine/autograd.js';
import { fmt } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { ATOMIC_ADD_F32, MAIN_1D, kernel, run } from './wgsl.js';

const WARP_COMMON = /* wgsl */ `
struct P { n: u32, c: u32, h: u32, w: u32 }
struct Sample { i0: u32, i1: u32, fi: f32, inside: f32 }
// Clamped coordinate along one axis; inside = 1 where the clamp passes the gradient (torch.clamp).
fn sample(p: f32, size: u32) -> Sample {
  let hi = f32(size - 1u);
  let s = clamp(p, 0.0, hi);
  let i0 = min(u32(floor(s)), size - 1u);
  return Sample(i0, min(i0 + 1u, size - 1u), s - f32(i0), select(0.0, 1.0, p >= 0.0 && p <= hi));
}`;

const WARP_FWD = kernel('warp_fwd', /* wgsl */ `
override WG: u32 = 64;
${WARP_COMMON}
@group(0) @binding(0) var<storage, read> im: array<f32>;
@group(0) @binding(1) var<storage, read> flow: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_1D}
  let hw = u.h * u.w;
  if (idx >= u.n * u.c * hw) { return; }
  let p = idx % hw;                                 // idx = (b·C + c)·HW + i·W + j
  let b = idx / (hw * u.c);
  let si = sample(f32(p / u.w) + flow[(b * 2u) * hw + p], u.h);
  let sj = sample(f32(p % u.w) + flow[(b * 2u + 1u) * hw + p], u.w);
  let base = (idx / hw) * hw;
  let top = (1.0 - sj.fi) * im[base + si.i0 * u.w + sj.i0] + sj.fi * im[base + si.i0 * u.w + sj.i1];
  let bot = (1.0 - sj.fi) * im[base + si.i1 * u.w + sj.i0] + sj.fi * im[base + si.i1 * u.w + sj.i1];
  y[idx] = (1.0 - si.fi) * top + si.fi * bot;
}`);

const WARP_BWD_IMAGE = kernel('warp_bwd_image', /* wgsl */ `
override WG: u32 = 64;
${WARP_COMMON}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> flow: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> u: P;
${ATOMIC_ADD_F32}
${MAIN_1D}
  let hw = u.h * u.w;
  if (idx >= u.n * u.c * hw) { return; }
  let p = idx % hw;
  let b = idx / (hw * u.c);
  let si = sample(f32(p / u.w) + flow[(b * 2u) * hw + p], u.h);
  let sj = sample(f32(p % u.w) + flow[(b * 2u + 1u) * hw + p], u.w);
  let base = (idx / hw) * hw;
  let g = dy[idx];
  atomic_add_f32(base + si.i0 * u.w + sj.i0, g * (1.0 - si.fi) * (1.0 - sj.fi));
  atomic_add_f32(base + si.i0 * u.w + sj.i1, g * (1.0 - si.fi) * sj.fi);
  atomic_add_f32(base + si.i1 * u.w + sj.i0, g * si.fi * (1.0 - sj.fi));
  atomic_add_f32(base + si.i1 * u.w + sj.i1, g * si.fi * sj.fi);
}`);

// dflow[b,0,p] = Σ_c dy·∂out/∂di, dflow[b,1,p] = Σ_c dy·∂out/∂dj; one invocation per pixel.
const WARP_BWD_FLOW = kernel('warp_bwd_flow', /* wgsl */ `
override WG: u32 = 64;
${WARP_COMMON}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> im: array<f32>;
@group(0) @binding(2) var<storage, read> flow: array<f32>;
@group(0) @binding(3) var<storage, read_write> dflow: array<f32>;
@group(0) @binding(4) var<uniform> u: P;
${MAIN_1D}
  let hw = u.h * u.w;
  if (idx >= u.n * hw) { return; }
  let p = idx % hw;                                 // idx = b·HW + i·W + j
  let b = idx / hw;
  let si = sample(f32(p / u.w) + flow[(b * 2u) * hw + p], u.h);
  let sj = sample(f32(p % u.w) + flow[(b * 2u + 1u) * hw + p], u.w);
  var gi = 0.0;
  var gj = 0.0;
  for (var c = 0u; c < u.c; c++) {
    let base = (b * u.c + c) * hw;
    let f00 = im[base + si.i0 * u.w + sj.i0];
    let f01 = im[base + si.i0 * u.w + sj.i1];
    let f10 = im[base + si.i1 * u.w + sj.i0];
    let f11 = im[base + si.i1 * u.w + sj.i1];
    let g = dy[base + p];
    gi += g * ((1.0 - sj.fi) * (f10 - f00) + sj.fi * (f11 - f01));
    gj += g * ((1.0 - si.fi) * (f01 - f00) + si.fi * (f11 - f10));
  }
  dflow[(b * 2u) * hw + p] = gi * si.inside;
  dflow[(b * 2u + 1u) * hw + p] = gj * sj.inside;
}`);

const warpOp = defineOp<[Tensor, Tensor], number[]>('warp', {
  forward(ctx, im, flow) {
    assertDType('warp', im, 'f32', 'image');
    assertDType('warp', flow, 'f32', 'flow');
    if (im.rank !== 4) throw new Error(`warp: image must be NCHW, got ${im.describe()}`);
    const [n, c, h, w] = im.shape;
    if (flow.rank !== 4 || flow.shape[0] !== n || flow.shape[1] !== 2 || flow.shape[2] !== h || flow.shape[3] !== w) {
      throw new Error(`warp: flow ${fmt(flow.shape)} should be [${n},2,${h},${w}] for image ${fmt(im.shape)}`);
    }
    const y = empty(im.shape, 'f32', 'warp');
    run(WARP_FWD, { inputs: [im, flow], outputs: [y], params: [n, c, h, w], threads: y.size });
    ctx.state = [n, c, h, w];
    ctx.save(im, flow);
    return y;
  },
  backward(ctx, dy) {
    const [im, flow] = ctx.saved;
    const [n, , h, w] = ctx.state;
    let dim: Tensor | null = null, dflow: Tensor | null = null;
    if (ctx.needsGrad[0]) {
      dim = empty(im.shape, 'f32', 'warp_grad_image');
      dim.engine.fill(dim.binding, dim.size * 4, 0);
      run(WARP_BWD_IMAGE, { inputs: [dy, flow], outputs: [dim], params: ctx.state, threads: dy.size });
    }
    if (ctx.needsGrad[1]) {
      dflow = empty(flow.shape, 'f32', 'warp_grad_flow');
      run(WARP_BWD_FLOW, { inputs: [dy, im, flow], outputs: [dflow], params: ctx.state, threads: n * h * w });
    }
    return [dim, dflow];
  },
});

/** Backward-warps `im` [N,C,H,W] by a per-pixel displacement `flow` [N,2,H,W] (row, column offsets in pixels). */
export const warp = (im: Tensor, flow: Tensor): Tensor => warpOp(im, flow);
