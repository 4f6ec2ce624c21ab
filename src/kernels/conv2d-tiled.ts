// The three convolution passes as implicit GEMMs on the tiled kernel (engine.kernelFamily 'tiled', GPU class):
//   forward     y[k, p]       = Σ_{c,r,s} w[k, (c,r,s)] · x[c, im2col(p, r, s)]      p = (b, oy, ox)
//   bwd_input   dx[c, p]      = Σ_{k,r,s} w[k, c, r, s] · dy[k, col2im(p, r, s)]     p = (b, iy, ix), taps of the right stride phase only
//   bwd_weight  dw[k, (c,r,s)] = Σ_p dy[k, p] · x[c, im2col(p, r, s)]               split over p, partial tiles summed
// Geometry as in conv2d.ts; the bias is added in the store (the weight gradient's bias comes from channelSum).
// Groups: one GEMM per group in a batched launch (gz = the group); p runs over the real batch, and
// image b of group gz is the virtual image b·G + gz of conv2d.ts (u.n = N·G).
import { type Tensor, empty } from '../engine/tensor.js';
import { type Geometry, wShape, xShape, yShape } from './conv2d.js';
import { getEngine } from '../engine/engine.js';
import { chooseSplits, gemmVariant, runTiled, sumSplits, tileFor, tiledGemm } from './tiled.js';
import { ATOMIC_ADD_F32 } from './wgsl.js';

const STRUCT = /* wgsl */ `
struct Conv { n: u32, c: u32, h: u32, w: u32, k: u32, r: u32, s: u32, oh: u32, ow: u32,
              sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32, has_bias: u32, relu: u32, groups: u32,
              gm: u32, gn: u32, gt: u32, chunk: u32, gb: u32 }`;

/** x at conv-output position p = (b, oy, ox) for input channel c and tap (r, s) of group gz, 0 on padding. */
const IM2COL = (S: Store) => /* wgsl */ `
fn im2col(c: u32, r: u32, s: u32, p: u32) -> ${S} {
  let ohw = u.oh * u.ow;
  let b = (p / ohw) * u.groups + gz;
  let oy = (p % ohw) / u.ow;
  let ox = p % u.ow;
  let iy = i32(oy * u.sh + r * u.dh) - i32(u.ph);
  let ix = i32(ox * u.sw + s * u.dw) - i32(u.pw);
  if (iy < 0 || iy >= i32(u.h) || ix < 0 || ix >= i32(u.w)) { return 0.0; }
  return x[((b * u.c + c) * u.h + u32(iy)) * u.w + u32(ix)];
}`;

/** Storage of the activations (x, y, dy, dx): f32, or f16 (engine.storesHalf); the weights stay f32. */
type Store = 'f32' | 'f16';
const half = (S: Store) => ({ f16: S === 'f16' });
/** The stored value of an f32 result v. */
const st = (S: Store, v: string) => (S === 'f16' ? `to_h(${v})` : v);
const sfx = (S: Store) => (S === 'f16' ? '_h' : '');

const fwd = (S: Store) => tiledGemm({
  name: `conv2d_fwd_tiled${sfx(S)}`,
  ...half(S), bHalf: S === 'f16',
  decls: /* wgsl */ `${STRUCT}
@group(0) @binding(0) var<storage, read> x: array<${S}>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<${S}>;
@group(0) @binding(4) var<uniform> u: Conv;`,
  fns: /* wgsl */ `
fn load_a(m: u32, t: u32) -> f32 { return wt[(gz * u.gm + m) * u.gt + t]; }
// im2col, hoisted (tiled.ts bHoisted): the column n = (b, oy, ox) gives x's offset of
// (b, c = 0, iy0, ix0), which may lie in the padding; the row t = (c, r, s) the offset from there
struct BCol { base: i32, iy: i32, ix: i32 }
fn b_col(n: u32) -> BCol {
  let ohw = u.oh * u.ow;
  let iy = i32((n % ohw) / u.ow * u.sh) - i32(u.ph);
  let ix = i32(n % u.ow * u.sw) - i32(u.pw);
  return BCol(i32(((n / ohw) * u.groups + gz) * u.c * u.h * u.w) + iy * i32(u.w) + ix, iy, ix);
}
fn b_row(t: u32) -> vec3i {
  let r = i32((t / u.s) % u.r * u.dh);
  let s = i32(t % u.s * u.dw);
  return vec3i(i32(t / (u.r * u.s) * u.h * u.w) + r * i32(u.w) + s, r, s);
}
fn load_b_at(tr: vec3i, bc: BCol) -> ${S} {
  let iy = bc.iy + tr.y;
  let ix = bc.ix + tr.z;
  if (iy < 0 || iy >= i32(u.h) || ix < 0 || ix >= i32(u.w)) { return 0.0; }
  return x[u32(bc.base + tr.x)];
}
fn store(m: u32, n: u32, split: u32, v: f32) {
  let ohw = u.oh * u.ow;
  var bq = 0.0;
  if (u.has_bias != 0u) { bq = bias[gz * u.k + m]; }
  let o = v + bq;
  y[(((n / ohw) * u.groups + gz) * u.k + m) * ohw + n % ohw] = ${st(S, 'select(o, max(o, 0.0), u.relu != 0u)')};
}`,
  aContiguous: 't', bContiguous: 'n', bHoisted: true,
});

const bwdInput = (S: Store) => tiledGemm({
  name: `conv2d_bwd_input_tiled${sfx(S)}`,
  ...half(S), bHalf: S === 'f16',
  decls: /* wgsl */ `${STRUCT}
@group(0) @binding(0) var<storage, read> dy: array<${S}>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<${S}>;
@group(0) @binding(4) var<uniform> u: Conv;`,
  fns: /* wgsl */ `
fn load_a(m: u32, t: u32) -> f32 {                       // w[k, c = m, r, s] with t = (k, r, s)
  let rs = u.r * u.s;
  return wt[((gz * u.k + t / rs) * u.c + m) * rs + t % rs];
}
// dy[b, k, oy, ox] with oy·sh = iy + ph − r·dh, hoisted (tiled.ts bHoisted): the column
// n = (b, iy, ix) gives dy's offset of (b, k = 0) and (iy + ph, ix + pw); the row t = (k, r, s)
// the offset of channel k and the tap's shifts r·dh, s·dw
struct BCol { base: i32, iy: i32, ix: i32 }
fn b_col(n: u32) -> BCol {
  let hw = u.h * u.w;
  return BCol(i32(((n / hw) * u.groups + gz) * u.k * u.oh * u.ow), i32((n % hw) / u.w + u.ph), i32(n % u.w + u.pw));
}
fn b_row(t: u32) -> vec3i {
  let rs = u.r * u.s;
  return vec3i(i32(t / rs * u.oh * u.ow), i32((t % rs) / u.s * u.dh), i32(t % u.s * u.dw));
}
fn load_b_at(tr: vec3i, bc: BCol) -> ${S} {
  var oy = bc.iy - tr.y;
  var ox = bc.ix - tr.z;
  if (oy < 0 || ox < 0) { return 0.0; }
  if (u.sh != 1u || u.sw != 1u) {                          // strided: only the taps of this phase
    if (u32(oy) % u.sh != 0u || u32(ox) % u.sw != 0u) { return 0.0; }
    oy = oy / i32(u.sh);
    ox = ox / i32(u.sw);
  }
  if (oy >= i32(u.oh) || ox >= i32(u.ow)) { return 0.0; }
  return dy[u32(bc.base + tr.x + oy * i32(u.ow) + ox)];
}
fn store(m: u32, n: u32, split: u32, v: f32) {
  let hw = u.h * u.w;
  var bq = 0.0;
  if (u.has_bias != 0u) { bq = bias[gz * u.c + m]; }
  dx[(((n / hw) * u.groups + gz) * u.c + m) * hw + n % hw] = ${st(S, 'v + bq')};
}`,
  aContiguous: 'm', bContiguous: 'n', bHoisted: true,
});

// atomic: the splits add their tiles into dw (zeroed first) with the f32 atomic add (a compare-
// exchange loop), so no partial tiles are stored and no sum_splits pass runs (engine.atomicSplits;
// the sums' order then varies from run to run)
const bwdWeight = (S: Store, atomic = false) => tiledGemm({
  name: `conv2d_bwd_weight_tiled${sfx(S)}${atomic ? '_atomic' : ''}`,
  ...half(S), aHalf: S === 'f16', bHalf: S === 'f16',
  decls: /* wgsl */ `${STRUCT}
@group(0) @binding(0) var<storage, read> dy: array<${S}>;
@group(0) @binding(1) var<storage, read> x: array<${S}>;
${atomic ? '@group(0) @binding(2) var<storage, read_write> acc: array<atomic<u32>>;' : '@group(0) @binding(2) var<storage, read_write> part: array<f32>;'}
@group(0) @binding(3) var<uniform> u: Conv;`,
  fns: /* wgsl */ `${IM2COL(S)}
fn load_a(m: u32, t: u32) -> ${S} {                       // dy[b, k = m, p] with t = (b, p)
  let ohw = u.oh * u.ow;
  return dy[(((t / ohw) * u.groups + gz) * u.k + m) * ohw + t % ohw];
}
fn load_b(t: u32, n: u32) -> ${S} { return im2col(n / (u.r * u.s), (n / u.s) % u.r, n % u.s, t); }
${atomic ? `${ATOMIC_ADD_F32}
fn store(m: u32, n: u32, split: u32, v: f32) { atomic_add_f32((gz * u.gm + m) * u.gn + n, v); }` : `
fn store(m: u32, n: u32, split: u32, v: f32) { part[((split * u.gb + gz) * u.gm + m) * u.gn + n] = v; }`}`,
  aContiguous: 't', bContiguous: 't',
});

const FWD = { f32: fwd('f32'), f16: fwd('f16') };
const BWD_INPUT = { f32: bwdInput('f32'), f16: bwdInput('f16') };
const BWD_WEIGHT = { f32: bwdWeight('f32'), f16: bwdWeight('f16') };
const BWD_WEIGHT_ATOMIC = { f32: bwdWeight('f32', true), f16: bwdWeight('f16', true) };

/** The activations' storage of a launch: x, y, dy and dx share one dtype. */
function storeOf(op: string, a: Tensor, b: Tensor): Store {
  if (a.dtype !== b.dtype || (a.dtype !== 'f32' && a.dtype !== 'f16')) throw new Error(`${op}: ${a.describe()} and ${b.describe()} must both be f32 or both f16`);
  return a.dtype;
}

/** Uniform values of the Conv struct up to `relu` (conv2d.ts and the tiled kernels here). */
export const convParams = (g: Geometry, hasBias: boolean, relu = false) =>
  [g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, hasBias ? 1 : 0, relu ? 1 : 0, g.groups];
const params = convParams;

const realN = (g: Geometry) => g.n / g.groups;

export function convFwdTiled(g: Geometry, x: Tensor, w: Tensor, b: Tensor | null, relu = false): Tensor {
  const y = empty(yShape(g), x.dtype, 'conv2d');
  runTiled(FWD[storeOf('conv2d', x, x)], { inputs: [x, w, b ?? w], outputs: [y], params: params(g, !!b, relu), m: g.k, n: realN(g) * g.oh * g.ow, t: g.c * g.r * g.s, batch: g.groups });
  return y;
}

export function convBwdInputTiled(g: Geometry, dy: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const dx = empty(xShape(g), dy.dtype, 'conv2d_bwd_input');
  runTiled(BWD_INPUT[storeOf('conv2d_bwd_input', dy, dy)], { inputs: [dy, w, b ?? w], outputs: [dx], params: params(g, !!b), m: g.c, n: realN(g) * g.h * g.w, t: g.k * g.r * g.s, batch: g.groups });
  return dx;
}

export function convBwdWeightTiled(g: Geometry, dy: Tensor, x: Tensor): Tensor {
  const dw = empty(wShape(g), 'f32', 'conv2d_bwd_weight');
  const m = g.k, n = g.c * g.r * g.s, t = realN(g) * g.oh * g.ow, batch = g.groups;
  const e = getEngine(), k = BWD_WEIGHT[storeOf('conv2d_bwd_weight', dy, x)];
  const want = chooseSplits(m, n * batch, t, tileFor(m, gemmVariant(e), e));
  if (want === 1) {
    runTiled(k, { inputs: [dy, x], outputs: [dw], params: params(g, false), m, n, t, batch });
    return dw;
  }
  if (e.atomicSplits) {   // the splits add into dw: no partial tiles, no sum_splits pass
    e.fill(dw.binding, dw.size * 4, 0);
    runTiled(BWD_WEIGHT_ATOMIC[storeOf('conv2d_bwd_weight', dy, x)], { inputs: [dy, x], outputs: [dw], params: params(g, false), m, n, t, splits: want, batch });
    return dw;
  }
  const part = empty([want, batch * m, n], 'f32', 'conv2d_bwd_weight_splits');
  const splits = runTiled(k, { inputs: [dy, x], outputs: [part], params: params(g, false), m, n, t, splits: want, batch });
  sumSplits(part, dw, splits);
  part.dispose();
  return dw;
}
