// bilinear resize of NCHW images to (oh, ow), PyTorch interpolate(mode='bilinear') semantics:
// align_corners=true: src = o·(in−1)/(out−1); false: src = max((o+½)·in/out − ½, 0).
// Backward scatters dy·weights into dx with an f32 atomic add (CAS loop).
import { defineOp } from '../engine/autograd.js';
import { type Param, f32 } from '../engine/params.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { castRaw } from './cast.js';
import { ATOMIC_ADD_F32, MAIN_1D, kernel, run, storage, storeIdx } from './wgsl.js';

const RESIZE_COMMON = /* wgsl */ `
struct P { nc: u32, h: u32, w: u32, oh: u32, ow: u32, align: u32, sy: f32, sx: f32 }
struct Tap { i0: u32, i1: u32, l: f32 }
fn tap(o: u32, scale: f32, n: u32, align: u32) -> Tap {
  var s = f32(o) * scale;
  if (align == 0u) { s = max((f32(o) + 0.5) * scale - 0.5, 0.0); }
  let i0 = min(u32(floor(s)), n - 1u);
  return Tap(i0, min(i0 + 1u, n - 1u), s - f32(i0));
}`;

// (f32, or f16 activations: DeepLab's upsampling of f16 features)
const resizeFwd = (half: boolean) => { const h = storage('f32', half); return kernel(`resize_bilinear_fwd${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
${RESIZE_COMMON}
@group(0) @binding(0) var<storage, read> x: array<${h.S}>;
@group(0) @binding(1) var<storage, read_write> y: array<${h.S}>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.nc * u.oh * u.ow) { return; }
  let ox = idx % u.ow;                              // idx = (plane·OH + oy)·OW + ox
  let oy = (idx / u.ow) % u.oh;
  let base = (idx / (u.ow * u.oh)) * u.h * u.w;
  let ty = tap(oy, u.sy, u.h, u.align);
  let tx = tap(ox, u.sx, u.w, u.align);
  let top = (1.0 - tx.l) * ${h.ld('x[base + ty.i0 * u.w + tx.i0]')} + tx.l * ${h.ld('x[base + ty.i0 * u.w + tx.i1]')};
  let bot = (1.0 - tx.l) * ${h.ld('x[base + ty.i1 * u.w + tx.i0]')} + tx.l * ${h.ld('x[base + ty.i1 * u.w + tx.i1]')};
  y[idx] = ${h.st('(1.0 - ty.l) * top + ty.l * bot')};
}`); };
const RESIZE_FWD = [resizeFwd(false), resizeFwd(true)];

// (dy f32 or f16; the sums are f32 atomics, cast to f16 after for f16 activations)
const resizeBwd = (half: boolean) => { const h = storage('f32', half); return kernel(`resize_bilinear_bwd${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
${RESIZE_COMMON}
@group(0) @binding(0) var<storage, read> dy: array<${h.S}>;
@group(0) @binding(1) var<storage, read_write> acc: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> u: P;
${ATOMIC_ADD_F32}
${MAIN_1D}
  if (idx >= u.nc * u.oh * u.ow) { return; }
  let ox = idx % u.ow;
  let oy = (idx / u.ow) % u.oh;
  let base = (idx / (u.ow * u.oh)) * u.h * u.w;
  let ty = tap(oy, u.sy, u.h, u.align);
  let tx = tap(ox, u.sx, u.w, u.align);
  let g = ${h.ld('dy[idx]')};
  atomic_add_f32(base + ty.i0 * u.w + tx.i0, g * (1.0 - ty.l) * (1.0 - tx.l));
  atomic_add_f32(base + ty.i0 * u.w + tx.i1, g * (1.0 - ty.l) * tx.l);
  atomic_add_f32(base + ty.i1 * u.w + tx.i0, g * ty.l * (1.0 - tx.l));
  atomic_add_f32(base + ty.i1 * u.w + tx.i1, g * ty.l * tx.l);
}`); };
const RESIZE_BWD = [resizeBwd(false), resizeBwd(true)];

interface ResizeState { shape: readonly number[]; params: Param[] }

function scaleOf(inp: number, out: number, align: boolean): number {
  if (align) return out > 1 ? (inp - 1) / (out - 1) : 0;
  return inp / out;
}

const resizeOp = defineOp<[Tensor, number, number, boolean], ResizeState>('resizeBilinear', {
  half: 'same',
  forward(ctx, x, oh, ow, align) {
    if (x.dtype !== 'f16') assertDType('resize_bilinear', x, 'f32');
    if (x.rank !== 4) throw new Error(`resize_bilinear: x must be NCHW, got ${x.describe()}`);
    if (![oh, ow].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`resize_bilinear: invalid size ${oh}x${ow}`);
    const [n, c, h, w] = x.shape;
    const params = [n * c, h, w, oh, ow, align ? 1 : 0, f32(scaleOf(h, oh, align)), f32(scaleOf(w, ow, align))];
    const y = empty([n, c, oh, ow], x.dtype, 'resize');
    run(RESIZE_FWD[storeIdx('resize_bilinear', x)], { inputs: [x], outputs: [y], params, threads: y.size });
    ctx.state = { shape: x.shape, params };
    return y;
  },
  backward(ctx, dy) {
    const dx = empty(ctx.state.shape, 'f32', 'resize_grad');
    dx.engine.fill(dx.binding, dx.size * 4, 0);
    run(RESIZE_BWD[storeIdx('resize_bilinear', dy)], { inputs: [dy], outputs: [dx], params: ctx.state.params, threads: dy.size });
    if (dy.dtype === 'f32') return [dx];
    try { return [castRaw(dx, 'f16')]; } finally { dx.dispose(); }
  },
});

/** Bilinear resize of NCHW x to [oh, ow] (PyTorch F.interpolate, mode 'bilinear'). */
export const resizeBilinear = (x: Tensor, oh: number, ow: number, alignCorners = false): Tensor =>
  resizeOp(x, oh, ow, alignCorners);
