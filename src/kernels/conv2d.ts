// conv2d: y[b,k,oy,ox] = bias[k] + Σ_{c,r,s} x[b,c,oy·sh+r·dh−ph, ox·sw+s·dw−pw] · w[k,c,r,s]
// NCHW, w: [K,C,R,S], groups = 1. conv_transpose2d is the adjoint: its forward is conv2d's
// input-gradient kernel, its backward uses conv2d's forward and weight-gradient kernels.
import { defineOp } from '../engine/autograd.js';
import { fmt } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { reduceRaw } from './reduce.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

const GEOMETRY = /* wgsl */ `
struct Conv { n: u32, c: u32, h: u32, w: u32, k: u32, r: u32, s: u32, oh: u32, ow: u32,
              sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32, has_bias: u32 }`;

// x: [n,c,h,w] → y: [n,k,oh,ow]; one invocation per output element.
const CONV2D_FWD = kernel('conv2d_fwd', /* wgsl */ `
override WG: u32 = 64;
${GEOMETRY}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> u: Conv;
${MAIN_1D}
  if (idx >= u.n * u.k * u.oh * u.ow) { return; }
  let ox = idx % u.ow;                             // idx = ((b·K + k)·OH + oy)·OW + ox
  let oy = (idx / u.ow) % u.oh;
  let k = (idx / (u.ow * u.oh)) % u.k;
  let b = idx / (u.ow * u.oh * u.k);
  var acc = 0.0;
  if (u.has_bias != 0u) { acc = bias[k]; }
  for (var c = 0u; c < u.c; c++) {
    for (var r = 0u; r < u.r; r++) {
      let iy = i32(oy * u.sh + r * u.dh) - i32(u.ph);
      if (iy < 0 || iy >= i32(u.h)) { continue; }
      let xrow = ((b * u.c + c) * u.h + u32(iy)) * u.w;
      let wrow = ((k * u.c + c) * u.r + r) * u.s;
      for (var s = 0u; s < u.s; s++) {
        let ix = i32(ox * u.sw + s * u.dw) - i32(u.pw);
        if (ix < 0 || ix >= i32(u.w)) { continue; }
        acc += x[xrow + u32(ix)] * wt[wrow + s];
      }
    }
  }
  y[idx] = acc;
}`);

// dx[b,c,iy,ix] = bias[c] + Σ_{k,r,s} dy[b,k,oy,ox]·w[k,c,r,s] with oy·sh = iy+ph−r·dh (gather, no atomics).
const CONV2D_BWD_INPUT = kernel('conv2d_bwd_input', /* wgsl */ `
override WG: u32 = 64;
${GEOMETRY}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> u: Conv;
${MAIN_1D}
  if (idx >= u.n * u.c * u.h * u.w) { return; }
  let ix = idx % u.w;                              // idx = ((b·C + c)·H + iy)·W + ix
  let iy = (idx / u.w) % u.h;
  let c = (idx / (u.w * u.h)) % u.c;
  let b = idx / (u.w * u.h * u.c);
  var acc = 0.0;
  if (u.has_bias != 0u) { acc = bias[c]; }
  for (var r = 0u; r < u.r; r++) {
    let ty = i32(iy + u.ph) - i32(r * u.dh);
    if (ty < 0 || ty % i32(u.sh) != 0) { continue; }
    let oy = u32(ty) / u.sh;
    if (oy >= u.oh) { continue; }
    for (var s = 0u; s < u.s; s++) {
      let tx = i32(ix + u.pw) - i32(s * u.dw);
      if (tx < 0 || tx % i32(u.sw) != 0) { continue; }
      let ox = u32(tx) / u.sw;
      if (ox >= u.ow) { continue; }
      for (var k = 0u; k < u.k; k++) {
        acc += dy[((b * u.k + k) * u.oh + oy) * u.ow + ox] * wt[((k * u.c + c) * u.r + r) * u.s + s];
      }
    }
  }
  dx[idx] = acc;
}`);

// dw[k,c,r,s] = Σ_{b,oy,ox} dy[b,k,oy,ox]·x[b,c,oy·sh+r·dh−ph, ox·sw+s·dw−pw]; one invocation per weight.
const CONV2D_BWD_WEIGHT = kernel('conv2d_bwd_weight', /* wgsl */ `
override WG: u32 = 64;
${GEOMETRY}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(3) var<uniform> u: Conv;
${MAIN_1D}
  if (idx >= u.k * u.c * u.r * u.s) { return; }
  let s = idx % u.s;                               // idx = ((k·C + c)·R + r)·S + s
  let r = (idx / u.s) % u.r;
  let c = (idx / (u.s * u.r)) % u.c;
  let k = idx / (u.s * u.r * u.c);
  var acc = 0.0;
  for (var b = 0u; b < u.n; b++) {
    for (var oy = 0u; oy < u.oh; oy++) {
      let iy = i32(oy * u.sh + r * u.dh) - i32(u.ph);
      if (iy < 0 || iy >= i32(u.h)) { continue; }
      let xrow = ((b * u.c + c) * u.h + u32(iy)) * u.w;
      let dyrow = ((b * u.k + k) * u.oh + oy) * u.ow;
      for (var ox = 0u; ox < u.ow; ox++) {
        let ix = i32(ox * u.sw + s * u.dw) - i32(u.pw);
        if (ix < 0 || ix >= i32(u.w)) { continue; }
        acc += dy[dyrow + ox] * x[xrow + u32(ix)];
      }
    }
  }
  dw[idx] = acc;
}`);

export type Pair = number | readonly number[];
export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair }
export interface ConvTranspose2dOptions extends Conv2dOptions { outputPadding?: Pair }

function pair(p: Pair | undefined, d: number): [number, number] {
  if (p === undefined) return [d, d];
  if (typeof p === 'number') return [p, p];
  if (p.length !== 2) throw new Error(`expected a number or a pair, got ${JSON.stringify(p)}`);
  return [p[0], p[1]];
}

/** Geometry of the underlying convolution ("conv input" x: n,c,h,w; "conv output": n,k,oh,ow). */
interface Geometry { n: number; c: number; h: number; w: number; k: number; r: number; s: number;
  oh: number; ow: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number }

const params = (g: Geometry, hasBias: boolean) =>
  [g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, hasBias ? 1 : 0];

function checkInts(op: string, o: Conv2dOptions & { outputPadding?: Pair }) {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    const p = pair(v as Pair, 0);
    const min = k === 'stride' || k === 'dilation' ? 1 : 0;
    if (!p.every((d) => Number.isInteger(d) && d >= min)) throw new Error(`${op}: invalid ${k} ${JSON.stringify(v)}`);
  }
}

function checkConvInputs(op: string, x: Tensor, w: Tensor, b: Tensor | null, biasLen: number, cIn: number) {
  assertDType(op, x, 'f32', 'x');
  assertDType(op, w, 'f32', 'weight');
  if (x.rank !== 4) throw new Error(`${op}: x must be NCHW (rank 4), got ${x.describe()}`);
  if (w.rank !== 4) throw new Error(`${op}: weight must be rank 4, got ${w.describe()}`);
  if (x.shape[1] !== cIn) {
    throw new Error(`${op}: x ${fmt(x.shape)} has ${x.shape[1]} channels but weight ${fmt(w.shape)} expects ${cIn}`);
  }
  if (b) {
    assertDType(op, b, 'f32', 'bias');
    if (b.rank !== 1 || b.shape[0] !== biasLen) throw new Error(`${op}: bias ${fmt(b.shape)} should be [${biasLen}]`);
  }
}

export function conv2dGeometry(xs: readonly number[], ws: readonly number[], o: Conv2dOptions): Geometry {
  const [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0), [dh, dw] = pair(o.dilation, 1);
  const [n, c, h, w] = xs, [k, , r, s] = ws;
  const oh = Math.floor((h + 2 * ph - dh * (r - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (s - 1) - 1) / sw) + 1;
  if (oh <= 0 || ow <= 0) {
    throw new Error(`conv2d: input ${fmt(xs)} is too small for kernel ${r}x${s} (padding ${ph},${pw}, dilation ${dh},${dw})`);
  }
  return { n, c, h, w, k, r, s, oh, ow, sh, sw, ph, pw, dh, dw };
}

/** Launches: y[n,k,oh,ow] = conv(x, w) + bias. */
function convFwd(g: Geometry, x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const y = empty([g.n, g.k, g.oh, g.ow], 'f32', 'conv2d');
  run(CONV2D_FWD, { inputs: [x, w, b ?? w], outputs: [y], params: params(g, !!b), threads: y.size });
  return y;
}

/** Launches: dx[n,c,h,w] = convᵀ(dy, w) + bias (bias per c). */
function convBwdInput(g: Geometry, dy: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const dx = empty([g.n, g.c, g.h, g.w], 'f32', 'conv2d_bwd_input');
  run(CONV2D_BWD_INPUT, { inputs: [dy, w, b ?? w], outputs: [dx], params: params(g, !!b), threads: dx.size });
  return dx;
}

/** Launches: dw[k,c,r,s] = Σ dy[n,k,·]·x[n,c,·]. */
function convBwdWeight(g: Geometry, dy: Tensor, x: Tensor): Tensor {
  const dw = empty([g.k, g.c, g.r, g.s], 'f32', 'conv2d_bwd_weight');
  run(CONV2D_BWD_WEIGHT, { inputs: [dy, x], outputs: [dw], params: params(g, false), threads: dw.size });
  return dw;
}

const conv2dOp = defineOp<[Tensor, Tensor, Tensor | null, Conv2dOptions], Geometry>('conv2d', {
  forward(ctx, x, w, b, opt) {
    checkInts('conv2d', opt);
    checkConvInputs('conv2d', x, w, b, w.shape[0], w.shape[1]);
    const g = conv2dGeometry(x.shape, w.shape, opt);
    ctx.state = g;
    ctx.save(x, w);
    return convFwd(g, x, w, b);
  },
  backward(ctx, dy) {
    const [x, w] = ctx.saved;
    const g = ctx.state;
    return [
      ctx.needsGrad[0] ? convBwdInput(g, dy, w, null) : null,
      ctx.needsGrad[1] ? convBwdWeight(g, dy, x) : null,
      ctx.needsGrad[2] ? reduceRaw(dy, [0, 2, 3], 1) : null,   // db[k] = Σ_{b,y,x} dy
    ];
  },
});

/** 2-D convolution, NCHW, weight [out, in, kh, kw], optional bias [out]. */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, opt: Conv2dOptions = {}): Tensor {
  return conv2dOp(x, w, b, opt);
}

export function convTranspose2dGeometry(xs: readonly number[], ws: readonly number[], o: ConvTranspose2dOptions): Geometry {
  const [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0), [dh, dw] = pair(o.dilation, 1);
  const [oph, opw] = pair(o.outputPadding, 0);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) {
    throw new Error(`conv_transpose2d: output_padding ${oph},${opw} must be smaller than stride or dilation`);
  }
  const [n, cin, h, w] = xs, [, cout, r, s] = ws;
  const H = (h - 1) * sh - 2 * ph + dh * (r - 1) + oph + 1;
  const W = (w - 1) * sw - 2 * pw + dw * (s - 1) + opw + 1;
  if (H <= 0 || W <= 0) throw new Error(`conv_transpose2d: output size ${H}x${W} for input ${fmt(xs)} is not positive`);
  // The adjoint convolution maps [n,cout,H,W] → [n,cin,h,w] with weight [cin,cout,r,s].
  return { n, c: cout, h: H, w: W, k: cin, r, s, oh: h, ow: w, sh, sw, ph, pw, dh, dw };
}

const convTranspose2dOp = defineOp<[Tensor, Tensor, Tensor | null, ConvTranspose2dOptions], Geometry>('convTranspose2d', {
  forward(ctx, x, w, b, opt) {
    checkInts('conv_transpose2d', opt);
    checkConvInputs('conv_transpose2d', x, w, b, w.shape[1], w.shape[0]);
    const g = convTranspose2dGeometry(x.shape, w.shape, opt);
    ctx.state = g;
    ctx.save(x, w);
    return convBwdInput(g, x, w, b);
  },
  backward(ctx, dy) {
    const [x, w] = ctx.saved;
    const g = ctx.state;
    return [
      ctx.needsGrad[0] ? convFwd(g, dy, w, null) : null,
      ctx.needsGrad[1] ? convBwdWeight(g, x, dy) : null,
      ctx.needsGrad[2] ? reduceRaw(dy, [0, 2, 3], 1) : null,
    ];
  },
});

/** Transposed convolution (PyTorch ConvTranspose2d): weight [in, out, kh, kw], optional bias [out]. */
export function convTranspose2d(x: Tensor, w: Tensor, b: Tensor | null = null, opt: ConvTranspose2dOptions = {}): Tensor {
  return convTranspose2dOp(x, w, b, opt);
}
