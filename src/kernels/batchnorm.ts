// batch_norm2d: y = (x − μ_c)·rsqrt(σ²_c + eps)·γ_c + β_c over NCHW, statistics per channel c.
// Training: μ, σ² (biased) from the batch, running stats updated with momentum (unbiased σ²);
// eval: running stats. Backward: dγ = Σ dy·x̂, dβ = Σ dy, dx = γ·rstd·(dy − (Σdy + x̂·Σdy·x̂)/M).
// Optionally relu(bn(x)), then dropout2d of the result, in the same kernels (DROP_FIELDS below).
// stats[4, C] = mean, rstd, scale = γ·rstd, shift = β − μ·scale: what the apply and the backward
// kernels need, so they do not bind γ and β.
import { type OpContext, defineOp } from '../engine/autograd.js';
import { getEngine } from '../engine/engine.js';
import { type Param, f32 } from '../engine/params.js';
import { fmt } from '../engine/shape.js';
import { TO_H } from '../engine/builtins.js';
import type { Kernel } from '../engine/pipeline-cache.js';
import { type DType, type Tensor, assertDType, empty } from '../engine/tensor.js';
import { dropUniforms } from './dropout.js';
import { DROP_FACTOR, type Elem, MAIN_1D, MAIN_PER_GROUP, PLANE_CHUNK, PLANE_FIELDS, TREE_SUM, elemSuffix, elemWidth, kernel, planeLayout, run, vecOf } from './wgsl.js';

// Each kernel comes as f32 and, when H·W is a multiple of 4, as vec4f over quads that never
// straddle a channel (bench/NOTES.md §10); hw and counts are then in quads.
const hsum = (T: Elem, v: string) => (T === 'f32' ? v : `dot(${v}, vec4f(1.0))`);
// The per-channel reductions sum over a workgroup: a tree in workgroup memory, or, in the subgroup
// family (at least 8 lanes), a workgroup of 8 that is one subgroup, so subgroupAdd sums it with no
// barrier (lavapipe runs each barrier as a switch between the workgroup's invocations: §23).
const SG_RED_WG = 8;
const reduceHead = (sg: boolean) => (sg ? 'enable subgroups;\n' : '');
const reduceVars = (sg: boolean) => (sg ? '' : 'var<workgroup> part: array<f32, WG>;');
/** `let out = Σ over the workgroup of v;` every invocation gets the total. */
const wgSum = (sg: boolean, v: string, out: string) => (sg ? `let ${out} = subgroupAdd(${v});` : `part[lid] = ${v};
  ${TREE_SUM}
  let ${out} = part[0];
  workgroupBarrier();`);
const redName = (sg: boolean) => (sg ? '_sg' : '');

// With the relu flag the op is relu(bn(x)): the apply kernels clamp, and the backward kernels mask
// dy where z = x·scale + shift ≤ 0, recomputing z exactly as the forward did (AFFINE).
const AFFINE = /* wgsl */ `
  let scale = stats[2u * u.c + c];
  let shift = stats[3u * u.c + c];`;
/** Bindings 0–3 of every backward kernel: the gradient's parts, the input, the forward's stats. */
const BWD_INPUTS = (T: Elem) => /* wgsl */ `@group(0) @binding(0) var<storage, read> dy: array<${T}>;
@group(0) @binding(1) var<storage, read> dy2: array<${T}>;
@group(0) @binding(2) var<storage, read> x: array<${T}>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;`;
// The gradient dy, or (u.two) the sum of two parts dy + dy2: an output with two consumers gets its
// parts added as they are read, not by a separate pass first (backwardSum; bench/NOTES.md §48).
// The loop comes twice, branching once outside it: a branch per element cost lavapipe 20–40%.
const bothWays = (loop: (dyAt: (i: string) => string) => string) => /* wgsl */ `if (u.two != 0u) {${loop((i) => `(dy[${i}] + dy2[${i}])`)}
  } else {${loop((i) => `dy[${i}]`)}
  }`;
// With dropout (training), the output is f·relu?(z), f = drop_factor of the (b, c) plane: 0 or
// 1/(1−p), drawn as dropout2d draws it (bench/NOTES.md §46); without, p = 0 and f = 1. Backward
// scales dy by the same f before the relu mask.
const DROP_FIELDS = 'drop_seed: u32, drop_p: f32, drop_scale: f32';
const dropOf = (plane: string) => `let f = drop_factor(u.drop_seed, ${plane}, u.drop_p, u.drop_scale);`;
/** dy, masked to zero where the clamped value z = x·scale + shift was ≤ 0 (relu flag). */
const masked = (T: Elem, dy: string, x: string) => `select(${dy}, select(${T}(0.0), ${dy}, ${x} * scale + shift > ${T}(0.0)), u.relu != 0u)`;

// One workgroup per channel does the whole forward: the statistics (batch or running), the
// running-stat update, stats (mean, rstd, scale, shift) for the backward, then (u.apply) y
// for its channel. On CPU adapters: one dispatch instead of two, with the channel still in the
// cache for the second pass (bench/NOTES.md §35). GPUs want more workgroups for y than channels:
// there it writes only the statistics (eval, small planes) and the plane-layout apply follows.
const bnForward = (T: Elem, sg: boolean) => kernel(`batchnorm_fwd${elemSuffix(T)}${redName(sg)}`, /* wgsl */ `${reduceHead(sg)}
override WG: u32 = 64;
struct P { n: u32, c: u32, hw: u32, train: u32, momentum: f32, eps: f32, update: u32, relu: u32, apply: u32, ${DROP_FIELDS} }
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> rmean: array<f32>;
@group(0) @binding(4) var<storage, read_write> rvar: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<${T}>;
@group(0) @binding(7) var<uniform> u: P;
${reduceVars(sg)}
${DROP_FACTOR}
${MAIN_PER_GROUP}
  if (o >= u.c) { return; }
  let c = o;
  var mean = 0.0;
  var rstd = 0.0;
  if (u.train == 0u) {
    mean = rmean[c];
    rstd = inverseSqrt(rvar[c] + u.eps);
  } else {
    let m = u.n * u.hw;
    var acc = ${T}(0.0);
    for (var b = 0u; b < u.n; b++) {
      let base = (b * u.c + c) * u.hw;
      for (var p = lid; p < u.hw; p += WG) { acc += x[base + p]; }
    }
    ${wgSum(sg, hsum(T, 'acc'), 'total')}
    mean = total / f32(m * ${elemWidth(T)}u);
    acc = ${T}(0.0);
    for (var b = 0u; b < u.n; b++) {                    // second pass: Σ (x − μ)², no cancellation
      let base = (b * u.c + c) * u.hw;
      for (var p = lid; p < u.hw; p += WG) { let d = x[base + p] - mean; acc += d * d; }
    }
    ${wgSum(sg, hsum(T, 'acc'), 'ss')}
    let mv = f32(m * ${elemWidth(T)}u);
    let v = ss / mv;
    rstd = inverseSqrt(v + u.eps);
    if (lid == 0u && u.update != 0u) {
      rmean[c] = (1.0 - u.momentum) * rmean[c] + u.momentum * mean;
      rvar[c] = (1.0 - u.momentum) * rvar[c] + u.momentum * v * mv / (mv - 1.0);
    }
  }
  let scale = rstd * gamma[c];
  let shift = beta[c] - mean * scale;
  if (lid == 0u) { stats[c] = mean; stats[u.c + c] = rstd; stats[2u * u.c + c] = scale; stats[3u * u.c + c] = shift; }
  if (u.apply == 0u) { return; }
  for (var b = 0u; b < u.n; b++) {
    let base = (b * u.c + c) * u.hw;
    ${dropOf('b * u.c + c')}
    for (var p = lid; p < u.hw; p += WG) {
      let z = x[base + p] * scale + shift;
      y[base + p] = f * select(z, max(z, ${T}(0.0)), u.relu != 0u);
    }
  }
}`, { WG: sg ? SG_RED_WG : 64 });

const bnApply = (T: Elem) => kernel(`batchnorm_apply${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { ${PLANE_FIELDS}, relu: u32, ${DROP_FIELDS} }
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<${T}>;
@group(0) @binding(3) var<uniform> u: P;
${DROP_FACTOR}
${MAIN_PER_GROUP}
${PLANE_CHUNK}
${AFFINE}
  ${dropOf('plane')}
  for (var p = start + lid % u.span; p < end; p += u.span) {
    let i = i0 + p;
    let z = x[i] * scale + shift;
    y[i] = f * select(z, max(z, ${T}(0.0)), u.relu != 0u);
  }
}`);

/** `body` for each value x[base + p] = xv of channel c over the batch, with its plane's dropout factor f (one workgroup per channel). */
const channelValues = (body: string) => /* wgsl */ `
  for (var bi = 0u; bi < u.n; bi++) {
    let base = (bi * u.c + c) * u.hw;
    ${dropOf('bi * u.c + c')}
    for (var p = lid; p < u.hw; p += WG) {
      let xv = x[base + p];${body}
    }
  }`;
// The whole backward of one channel in one workgroup (where a channel is not split):
// dgamma[c] = Σ dy·x̂, dbeta[c] = Σ dy, then, when u.want_dx (CPU adapters), dx for the channel
// from those sums; on GPUs the plane-layout bwd_input kernel does dx.
const bnBackward = (T: Elem, sg: boolean) => kernel(`batchnorm_bwd${elemSuffix(T)}${redName(sg)}`, /* wgsl */ `${reduceHead(sg)}
override WG: u32 = 64;
struct P { n: u32, c: u32, hw: u32, relu: u32, train: u32, m: f32, want_dx: u32, ${DROP_FIELDS}, two: u32 }
${BWD_INPUTS(T)}
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<${T}>;
@group(0) @binding(7) var<uniform> u: P;
${reduceVars(sg)}
${DROP_FACTOR}
${MAIN_PER_GROUP}
  if (o >= u.c) { return; }
  let c = o;
  let mean = stats[c];
  let rstd = stats[u.c + c];
${AFFINE}
  var a = ${T}(0.0);
  var b = ${T}(0.0);
  ${bothWays((dyAt) => channelValues(`
      let g = ${masked(T, `(f * ${dyAt('base + p')})`, 'xv')};
      a += g * (xv - mean) * rstd;
      b += g;`))}
  ${wgSum(sg, hsum(T, 'a'), 'sa')}
  ${wgSum(sg, hsum(T, 'b'), 'sb')}
  if (lid == 0u) { dgamma[c] = sa; dbeta[c] = sb; }
  if (u.want_dx == 0u) { return; }
  // train: dx = scale·(dy − (Σdy + x̂·Σdy·x̂)/M) with x̂ = (x − μ)·rstd, scale = γ·rstd; eval: dx = scale·dy
  let t = select(0.0, 1.0, u.train != 0u);
  let ka = t * sb / u.m;
  let kb = t * sa * rstd / u.m;
  ${bothWays((dyAt) => channelValues(`
      dx[base + p] = scale * (${masked(T, `(f * ${dyAt('base + p')})`, 'xv')} - ka - (xv - mean) * kb);`))}
}`, { WG: sg ? SG_RED_WG : 64 });

const bnBwdInput = (T: Elem) => kernel(`batchnorm_bwd_input${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { ${PLANE_FIELDS}, train: u32, m: f32, relu: u32, ${DROP_FIELDS}, two: u32 }
${BWD_INPUTS(T)}
@group(0) @binding(4) var<storage, read> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read> dbeta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<${T}>;
@group(0) @binding(7) var<uniform> u: P;
${DROP_FACTOR}
${MAIN_PER_GROUP}
${PLANE_CHUNK}
  let rstd = stats[u.c + c];
  let mean = stats[c];
  // train: dx = scale·(dy − (Σdy + x̂·Σdy·x̂)/M) with x̂ = (x − μ)·rstd, scale = γ·rstd; eval: dx = scale·dy
  let t = select(0.0, 1.0, u.train != 0u);
  let a = t * dbeta[c] / u.m;
  let bcoef = t * dgamma[c] * rstd / u.m;
${AFFINE}
  ${dropOf('plane')}
  ${bothWays((dyAt) => `
  for (var p = start + lid % u.span; p < end; p += u.span) {
    let i = i0 + p;
    let xv = x[i];
    dx[i] = scale * (${masked(T, `(f * ${dyAt('i')})`, 'xv')} - a - (xv - mean) * bcoef);
  }`)}
}`);

// Split reductions (engine.splitReductions, GPUs: bench/NOTES.md §28). Each workgroup reduces one
// piece of `span` values of one plane into ps[piece, 2, c]; a second pass combines the pieces of a
// channel. Statistics: Σx and M2 around the piece mean per piece, then μ = Σ Σx / M and
// M2 = Σ (M2_p + n_p·(m_p − μ)²), all terms ≥ 0, so no cancellation.
const PIECE = /* wgsl */ `
  let ch = o % u.c;
  let piece = o / u.c;                                // piece = b·blocks + block
  if (piece >= u.pieces) { return; }
  let start = (piece % u.blocks) * u.span;
  let end = min(u.hw, start + u.span);
  let base = ((piece / u.blocks) * u.c + ch) * u.hw;`;
const PIECE_FIELDS = 'c: u32, hw: u32, blocks: u32, span: u32, pieces: u32';
const bnStatsPart = (T: Elem) => kernel(`batchnorm_stats_part${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { ${PIECE_FIELDS} }
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> ps: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${reduceVars(false)}
${MAIN_PER_GROUP}
${PIECE}
  var acc = ${T}(0.0);
  for (var p = start + lid; p < end; p += WG) { acc += x[base + p]; }
  ${wgSum(false, hsum(T, 'acc'), 'total')}
  let mean = total / f32((end - start) * ${elemWidth(T)}u);
  acc = ${T}(0.0);
  for (var p = start + lid; p < end; p += WG) { let d = x[base + p] - mean; acc += d * d; }
  ${wgSum(false, hsum(T, 'acc'), 'm2')}
  if (lid == 0u) { ps[piece * 2u * u.c + ch] = total; ps[(piece * 2u + 1u) * u.c + ch] = m2; }
}`);
// hw and span in values here (not quads); one workgroup per channel
const BN_STATS_COMBINE = kernel('batchnorm_stats_combine', /* wgsl */ `
override WG: u32 = 64;
struct P { ${PIECE_FIELDS}, n: u32, momentum: f32, eps: f32 }
@group(0) @binding(0) var<storage, read> ps: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> rmean: array<f32>;
@group(0) @binding(4) var<storage, read_write> rvar: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<uniform> u: P;
${reduceVars(false)}
${MAIN_PER_GROUP}
  if (o >= u.c) { return; }
  var acc = 0.0;
  for (var q = lid; q < u.pieces; q += WG) { acc += ps[q * 2u * u.c + o]; }
  ${wgSum(false, 'acc', 'total')}
  let mv = f32(u.n * u.hw);
  let mean = total / mv;
  acc = 0.0;
  for (var q = lid; q < u.pieces; q += WG) {
    let start = (q % u.blocks) * u.span;
    let len = f32(min(u.hw, start + u.span) - start);
    let d = ps[q * 2u * u.c + o] / len - mean;
    acc += ps[(q * 2u + 1u) * u.c + o] + len * d * d;
  }
  ${wgSum(false, 'acc', 'ss')}
  if (lid == 0u) {
    let v = ss / mv;
    let rstd = inverseSqrt(v + u.eps);
    let scale = rstd * gamma[o];
    stats[o] = mean;
    stats[u.c + o] = rstd;
    stats[2u * u.c + o] = scale;
    stats[3u * u.c + o] = beta[o] - mean * scale;
    rmean[o] = (1.0 - u.momentum) * rmean[o] + u.momentum * mean;
    rvar[o] = (1.0 - u.momentum) * rvar[o] + u.momentum * v * mv / (mv - 1.0);
  }
}`);
// ps[piece, 0, c] = Σ dy·x̂, ps[piece, 1, c] = Σ dy over one piece
const bnBwdReducePart = (T: Elem) => kernel(`batchnorm_bwd_reduce_part${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { ${PIECE_FIELDS}, relu: u32, ${DROP_FIELDS}, two: u32 }
${BWD_INPUTS(T)}
@group(0) @binding(4) var<storage, read_write> ps: array<f32>;
@group(0) @binding(5) var<uniform> u: P;
${reduceVars(false)}
${DROP_FACTOR}
${MAIN_PER_GROUP}
${PIECE}
  let c = ch;
  let mean = stats[c];
  let rstd = stats[u.c + c];
${AFFINE}
  ${dropOf('(piece / u.blocks) * u.c + ch')}
  var a = ${T}(0.0);
  var b = ${T}(0.0);
  ${bothWays((dyAt) => `
  for (var p = start + lid; p < end; p += WG) {
    let xv = x[base + p];
    let g = ${masked(T, `(f * ${dyAt('base + p')})`, 'xv')};
    a += g * (xv - mean) * rstd;
    b += g;
  }`)}
  ${wgSum(false, hsum(T, 'a'), 'sa')}
  ${wgSum(false, hsum(T, 'b'), 'sb')}
  if (lid == 0u) { ps[piece * 2u * u.c + ch] = sa; ps[(piece * 2u + 1u) * u.c + ch] = sb; }
}`);
const BN_BWD_COMBINE = kernel('batchnorm_bwd_combine', /* wgsl */ `
override WG: u32 = 64;
struct P { c: u32, pieces: u32 }
@group(0) @binding(0) var<storage, read> ps: array<f32>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.c) { return; }
  var a = 0.0;
  var b = 0.0;
  for (var q = 0u; q < u.pieces; q++) { a += ps[q * 2u * u.c + idx]; b += ps[(q * 2u + 1u) * u.c + idx]; }
  dgamma[idx] = a;
  dbeta[idx] = b;
}`);
/** Values (quads for vec4) of one plane per workgroup of the split reductions: 64 per invocation. */
export const BN_PIECE_SPAN = 4096;
/** Piece layout of n planes of hw elements per channel: params [c, hw, blocks, span, pieces] (PIECE_FIELDS). */
const pieceLayout = (n: number, c: number, hw: number, q: number) => {
  const span = BN_PIECE_SPAN / q, blocks = Math.ceil(hw / span);
  return { blocks, span, pieces: n * blocks };
};

/**
 * The f16-storage variant of a kernel (activations in f16, engine.storesHalf): x, y, dy, dy2 and dx
 * become f16 arrays (vec4<f16> for vec4f), each read of x, dy, dy2 is widened to T and each store
 * to y or dx rounded (to_h); statistics, sums and parameters stay f32. Every such access in the
 * kernels above has an index without brackets and a store on one line, which this relies on (and
 * the f16 tests check: an access left f16 would not compile, one left unconverted would not bind).
 */
function halfStorage(k: Kernel, T: Elem): Kernel {
  const S = T === 'f32' ? 'f16' : 'vec4<f16>';
  const wgsl = k.wgsl
    .replace(/(var<storage, read(?:_write)?> (?:x|y|dy|dy2|dx): array<)(f32|vec4f)>/g, (_m, head: string, t: string) => {
      if (t !== T) throw new Error(`${k.name}: binding of ${t}, expected ${T}`);
      return `${head}${S}>`;
    })
    .replace(/\b(x|dy|dy2)\[([^\]\n]*)\]/g, `${T}($1[$2])`)
    .replace(/^(\s*)(y|dx)\[([^\]\n]*)\] = (.*);[ \t]*$/gm, `$1$2[$3] = ${T === 'f32' ? 'to_h' : 'to_h4'}($4);`);
  return kernel(`${k.name}_h`, `enable f16;\n${wgsl}\n${TO_H}`, k.constants);
}

const kernels = (T: Elem, half: boolean) => {
  const h = (k: Kernel) => (half ? halfStorage(k, T) : k);
  return { fwd: h(bnForward(T, false)), fwdSg: h(bnForward(T, true)), apply: h(bnApply(T)),
    bwd: h(bnBackward(T, false)), bwdSg: h(bnBackward(T, true)), bwdInput: h(bnBwdInput(T)),
    statsPart: h(bnStatsPart(T)), bwdReducePart: h(bnBwdReducePart(T)) };
};
const BN = { f32: [kernels('f32', false), kernels('f32', true)], vec4f: [kernels('vec4f', false), kernels('vec4f', true)] };

/** The kernels for planes of hw values (vec4 when hw is a multiple of 4) stored as f32 or f16, values per element, and the reductions to use. */
const variant = (hw: number, dtype: DType) => {
  const T = vecOf(hw)[0], K = BN[T][dtype === 'f16' ? 1 : 0], sg = getEngine().kernelFamily === 'subgroup';
  return { K, q: elemWidth(T), fwd: sg ? K.fwdSg : K.fwd, bwd: sg ? K.bwdSg : K.bwd };
};

export interface BatchNormOptions {
  training: boolean; momentum?: number; eps?: number;
  /** relu(bn(x)) in the same kernels (bench/NOTES.md §26). */
  relu?: boolean;
  /**
   * In training, dropout2d with this p applied to the result in the same kernels (PyTorch
   * Dropout2d: whole (b, c) planes zeroed, the rest scaled by 1/(1−p); bench/NOTES.md §46).
   */
  dropout?: number;
  /** Seed of that dropout's mask; default: the engine's seeded counter, as dropout2d draws it. */
  dropoutSeed?: number;
}

interface BnState { training: boolean; relu: boolean; n: number; c: number; hw: number; drop: Param[] }

const batchNormOp = defineOp<[Tensor, Tensor, Tensor, Tensor, Tensor, BatchNormOptions], BnState>('batchNorm2d', {
  half: 'same',   // x (and y, dy, dx) f32 or f16; statistics and parameters f32
  forward(ctx, x, gamma, beta, runningMean, runningVar, opt) {
    if (x.dtype !== 'f16') assertDType('batch_norm2d', x, 'f32', 'x');
    for (const [t, name] of [[gamma, 'weight'], [beta, 'bias'], [runningMean, 'running_mean'],
      [runningVar, 'running_var']] as const) assertDType('batch_norm2d', t, 'f32', name);
    if (x.rank !== 4) throw new Error(`batch_norm2d: x must be NCHW (rank 4), got ${x.describe()}`);
    const [n, c, h, w] = x.shape;
    for (const [t, name] of [[gamma, 'weight'], [beta, 'bias'], [runningMean, 'running_mean'], [runningVar, 'running_var']] as const) {
      if (t.size !== c) throw new Error(`batch_norm2d: ${name} ${fmt(t.shape)} does not match ${c} channels of x ${fmt(x.shape)}`);
    }
    if (opt.training && n * h * w < 2) {
      throw new Error(`batch_norm2d: training needs more than 1 value per channel, got x ${fmt(x.shape)}`);
    }
    const hw = h * w;
    const { K, q, fwd } = variant(hw, x.dtype);
    const stats = empty([4, c], 'f32', 'batchnorm_stats');   // mean, rstd, scale, shift
    const y = empty(x.shape, x.dtype, 'batchnorm');
    const relu = opt.relu ?? false;
    const drop = opt.training && opt.dropout ? dropUniforms(opt.dropout, opt.dropoutSeed ?? 0) : dropUniforms(0, 0);   // DROP_FIELDS
    const pl = pieceLayout(n, c, hw / q, q);
    if (opt.training && getEngine().splitReductions && pl.pieces > 1) {
      const ps = empty([pl.pieces, 2, c], 'f32', 'batchnorm_stats_pieces');
      run(K.statsPart, { inputs: [x], outputs: [ps], params: [c, hw / q, pl.blocks, pl.span, pl.pieces], groups: pl.pieces * c });
      run(BN_STATS_COMBINE, {
        inputs: [ps, gamma, beta], outputs: [runningMean, runningVar, stats], groups: c,
        params: [c, hw, pl.blocks, pl.span * q, pl.pieces, n, f32(opt.momentum ?? 0.1), f32(opt.eps ?? 1e-5)],
      });
      ps.dispose();
      const plane = planeLayout(n * c, c, hw / q);
      run(K.apply, { inputs: [x, stats], outputs: [y], params: [...plane.params, relu ? 1 : 0, ...drop], groups: plane.groups });
    } else {
      const fuse = !getEngine().splitReductions;   // y in the same workgroups (CPU adapters)
      run(fwd, {
        inputs: [x, gamma, beta], outputs: [runningMean, runningVar, stats, y], groups: c,
        params: [n, c, hw / q, opt.training ? 1 : 0, f32(opt.momentum ?? 0.1), f32(opt.eps ?? 1e-5), 1, relu ? 1 : 0, fuse ? 1 : 0, ...drop],
      });
      if (!fuse) {
        const plane = planeLayout(n * c, c, hw / q);
        run(K.apply, { inputs: [x, stats], outputs: [y], params: [...plane.params, relu ? 1 : 0, ...drop], groups: plane.groups });
      }
    }
    ctx.state = { training: opt.training, relu, n, c, hw, drop };
    ctx.save(x, stats);
    stats.dispose();
    return y;
  },
  backward: (ctx, dy) => bnGrads(ctx, dy, null),
  backwardSum: (ctx, dy, dy2) => bnGrads(ctx, dy, dy2),
});

/** Gradients of batchNorm2d for dy, or for dy + dy2 read in the same kernels (two consumers: §48). */
function bnGrads(ctx: OpContext<BnState>, dy: Tensor, dy2: Tensor | null): (Tensor | null)[] {
  const [x, stats] = ctx.saved;
  const { training, relu, n, c, hw, drop } = ctx.state;
  const { K, q, bwd } = variant(hw, x.dtype);
  if (dy.dtype !== x.dtype || (dy2 && dy2.dtype !== x.dtype)) throw new Error(`batch_norm2d backward: gradient ${dy.describe()} for ${x.describe()}`);
  const dgamma = empty([c], 'f32', 'batchnorm_dgamma'), dbeta = empty([c], 'f32', 'batchnorm_dbeta');
  const dx = ctx.needsGrad[0] ? empty(x.shape, x.dtype, 'batchnorm_grad') : null;
  const pl = pieceLayout(n, c, hw / q, q);
  const split = getEngine().splitReductions;
  const two = dy2 ? 1 : 0;   // u.two: add dy2 to dy as it is read
  if (split && pl.pieces > 1) {
    const ps = empty([pl.pieces, 2, c], 'f32', 'batchnorm_bwd_pieces');
    run(K.bwdReducePart, {
      inputs: [dy, dy2 ?? dy, x, stats], outputs: [ps], groups: pl.pieces * c,
      params: [c, hw / q, pl.blocks, pl.span, pl.pieces, relu ? 1 : 0, ...drop, two],
    });
    run(BN_BWD_COMBINE, { inputs: [ps], outputs: [dgamma, dbeta], params: [c, pl.pieces], threads: c });
    ps.dispose();
  } else {
    // dx in the same workgroups on CPU adapters; on GPUs by the plane-layout kernel below
    run(bwd, {
      inputs: [dy, dy2 ?? dy, x, stats], outputs: [dgamma, dbeta, dx], groups: c,
      params: [n, c, hw / q, relu ? 1 : 0, training ? 1 : 0, f32(n * hw), dx && !split ? 1 : 0, ...drop, two],
    });
  }
  if (dx && split) {
    const plane = planeLayout(n * c, c, hw / q);
    run(K.bwdInput, {
      inputs: [dy, dy2 ?? dy, x, stats, dgamma, dbeta], outputs: [dx], groups: plane.groups,
      params: [...plane.params, training ? 1 : 0, f32(n * hw), relu ? 1 : 0, ...drop, two],
    });
  }
  if (!ctx.needsGrad[1]) dgamma.dispose();
  if (!ctx.needsGrad[2]) dbeta.dispose();
  return [dx, ctx.needsGrad[1] ? dgamma : null, ctx.needsGrad[2] ? dbeta : null, null, null];
}

/**
 * Batch normalisation over NCHW. In training it normalises with batch statistics and updates
 * runningMean/runningVar in place (PyTorch semantics, momentum 0.1, eps 1e-5 by default).
 * `relu` and `dropout` apply those after it, in the same kernels.
 */
export function batchNorm2d(x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
  opt: BatchNormOptions): Tensor {
  const p = opt.dropout ?? 0;
  if (!(p >= 0 && p <= 1)) throw new Error(`batch_norm2d: dropout must be in [0, 1], got ${p}`);
  // the seed is drawn only when dropout2d would draw it, so fused and separate runs see the same masks
  const seed = opt.training && p > 0 ? opt.dropoutSeed ?? getEngine().nextSeed() : 0;
  return batchNormOp(x, weight, bias, runningMean, runningVar, { ...opt, dropoutSeed: seed });
}
