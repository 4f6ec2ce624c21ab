// batch_norm2d: y = (x − μ_c)·rsqrt(σ²_c + eps)·γ_c + β_c over NCHW, statistics per channel c.
// Training: μ, σ² (biased) from the batch, running stats updated with momentum (unbiased σ²);
// eval: running stats. Backward: dγ = Σ dy·x̂, dβ = Σ dy, dx = γ·rstd·(dy − (Σdy + x̂·Σdy·x̂)/M).
import { defineOp } from '../engine/autograd.js';
import { f32 } from '../engine/params.js';
import { fmt } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { type Elem, MAIN_1D, MAIN_PER_GROUP, TREE_SUM, elemSuffix, elemWidth, kernel, run, vecOf } from './wgsl.js';

// Each kernel comes as f32 and, when H·W is a multiple of 4, as vec4f over quads that never
// straddle a channel (bench/NOTES.md §10); hw and counts are then in quads.
const hsum = (T: Elem, v: string) => (T === 'f32' ? v : `dot(${v}, vec4f(1.0))`);
// stats[c] = mean, stats[C + c] = rstd. One workgroup per channel.
const bnStats = (T: Elem) => kernel(`batchnorm_stats${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, c: u32, hw: u32, train: u32, momentum: f32, eps: f32, update: u32 }
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> rmean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rvar: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.c) { return; }
  if (u.train == 0u) {
    if (lid == 0u) { stats[o] = rmean[o]; stats[u.c + o] = inverseSqrt(rvar[o] + u.eps); }
    return;
  }
  let m = u.n * u.hw;
  var acc = ${T}(0.0);
  for (var i = lid; i < m; i += WG) { acc += x[((i / u.hw) * u.c + o) * u.hw + i % u.hw]; }  // i = b·HW + p
  part[lid] = ${hsum(T, 'acc')};
  ${TREE_SUM}
  let mean = part[0] / f32(m * ${elemWidth(T)}u);
  workgroupBarrier();
  acc = ${T}(0.0);
  for (var i = lid; i < m; i += WG) {                 // second pass: Σ (x − μ)², no cancellation
    let d = x[((i / u.hw) * u.c + o) * u.hw + i % u.hw] - mean;
    acc += d * d;
  }
  part[lid] = ${hsum(T, 'acc')};
  ${TREE_SUM}
  if (lid == 0u) {
    let mv = f32(m * ${elemWidth(T)}u);
    let v = part[0] / mv;
    stats[o] = mean;
    stats[u.c + o] = inverseSqrt(v + u.eps);
    if (u.update != 0u) {
      rmean[o] = (1.0 - u.momentum) * rmean[o] + u.momentum * mean;
      rvar[o] = (1.0 - u.momentum) * rvar[o] + u.momentum * v * mv / (mv - 1.0);
    }
  }
}`);

const bnApply = (T: Elem) => kernel(`batchnorm_apply${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { total: u32, c: u32, hw: u32 }
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<${T}>;
@group(0) @binding(5) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.total) { return; }
  let c = (idx / u.hw) % u.c;
  y[idx] = (x[idx] - stats[c]) * stats[u.c + c] * gamma[c] + beta[c];
}`);

// sums[c] = Σ dy·x̂ (= dγ), sums[C + c] = Σ dy (= dβ). One workgroup per channel.
const bnBwdReduce = (T: Elem) => kernel(`batchnorm_bwd_reduce${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, c: u32, hw: u32 }
@group(0) @binding(0) var<storage, read> dy: array<${T}>;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.c) { return; }
  let m = u.n * u.hw;
  let mean = stats[o];
  let rstd = stats[u.c + o];
  var a = ${T}(0.0);
  var b = ${T}(0.0);
  for (var i = lid; i < m; i += WG) {
    let j = ((i / u.hw) * u.c + o) * u.hw + i % u.hw;
    a += dy[j] * (x[j] - mean) * rstd;
    b += dy[j];
  }
  part[lid] = ${hsum(T, 'a')};
  ${TREE_SUM}
  if (lid == 0u) { sums[o] = part[0]; }
  workgroupBarrier();
  part[lid] = ${hsum(T, 'b')};
  ${TREE_SUM}
  if (lid == 0u) { sums[u.c + o] = part[0]; }
}`);

const bnBwdInput = (T: Elem) => kernel(`batchnorm_bwd_input${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { total: u32, c: u32, hw: u32, train: u32, m: f32 }
@group(0) @binding(0) var<storage, read> dy: array<${T}>;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> sums: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<${T}>;
@group(0) @binding(6) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.total) { return; }
  let c = (idx / u.hw) % u.c;
  let rstd = stats[u.c + c];
  var g = dy[idx];
  if (u.train != 0u) {
    let xhat = (x[idx] - stats[c]) * rstd;
    g = g - (sums[u.c + c] + xhat * sums[c]) / u.m;
  }
  dx[idx] = gamma[c] * rstd * g;
}`);

const BN = { f32: { stats: bnStats('f32'), apply: bnApply('f32'), bwdReduce: bnBwdReduce('f32'), bwdInput: bnBwdInput('f32') },
  vec4f: { stats: bnStats('vec4f'), apply: bnApply('vec4f'), bwdReduce: bnBwdReduce('vec4f'), bwdInput: bnBwdInput('vec4f') } };

const variant = (hw: number): [typeof BN.f32, number] => { const T = vecOf(hw)[0]; return [BN[T], elemWidth(T)]; };

export interface BatchNormOptions { training: boolean; momentum?: number; eps?: number }

interface BnState { training: boolean; n: number; c: number; hw: number }

const batchNormOp = defineOp<[Tensor, Tensor, Tensor, Tensor, Tensor, BatchNormOptions], BnState>('batchNorm2d', {
  forward(ctx, x, gamma, beta, runningMean, runningVar, opt) {
    for (const [t, name] of [[x, 'x'], [gamma, 'weight'], [beta, 'bias'], [runningMean, 'running_mean'],
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
    const [K, q] = variant(hw);
    const stats = empty([2, c], 'f32', 'batchnorm_stats');
    run(K.stats, {
      inputs: [x], outputs: [runningMean, runningVar, stats], groups: c,
      params: [n, c, hw / q, opt.training ? 1 : 0, f32(opt.momentum ?? 0.1), f32(opt.eps ?? 1e-5), 1],
    });
    const y = empty(x.shape, 'f32', 'batchnorm');
    run(K.apply, { inputs: [x, stats, gamma, beta], outputs: [y], params: [y.size / q, c, hw / q], threads: y.size / q });
    ctx.state = { training: opt.training, n, c, hw };
    ctx.save(x, stats, gamma);
    stats.dispose();
    return y;
  },
  backward(ctx, dy) {
    const [x, stats, gamma] = ctx.saved;
    const { training, n, c, hw } = ctx.state;
    const [K, q] = variant(hw);
    const sums = empty([2, c], 'f32', 'batchnorm_sums');
    run(K.bwdReduce, { inputs: [dy, x, stats], outputs: [sums], params: [n, c, hw / q], groups: c });
    let dx: Tensor | null = null;
    if (ctx.needsGrad[0]) {
      dx = empty(x.shape, 'f32', 'batchnorm_grad');
      run(K.bwdInput, {
        inputs: [dy, x, stats, gamma, sums], outputs: [dx], threads: dx.size / q,
        params: [dx.size / q, c, hw / q, training ? 1 : 0, f32(n * hw)],
      });
    }
    // Views into the [2, C] sums buffer: row 0 is dγ, row 1 is dβ.
    const flat = sums.view([2 * c]);
    const dgamma = ctx.needsGrad[1] ? sliceRows(flat, 0, c) : null;
    const dbeta = ctx.needsGrad[2] ? sliceRows(flat, c, c) : null;
    flat.dispose();
    sums.dispose();
    return [dx, dgamma, dbeta, null, null];
  },
});

import { stridedCopy } from './strided.js';
function sliceRows(flat: Tensor, offset: number, len: number): Tensor {
  const y = empty([len], 'f32', 'slice');
  stridedCopy(flat, y, { shape: [len], inStrides: [1], outStrides: [1], inOffset: offset });
  return y;
}

/**
 * Batch normalisation over NCHW. In training it normalises with batch statistics and updates
 * runningMean/runningVar in place (PyTorch semantics, momentum 0.1, eps 1e-5 by default).
 */
export function batchNorm2d(x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
  opt: BatchNormOptions): Tensor {
  return batchNormOp(x, weight, bias, runningMean, runningVar, opt);
}
