// layer_norm over the last k dimensions, as torch.nn.LayerNorm(normalized_shape): for each row r
// (the leading dimensions) over its `cols` values, μ = mean, σ² = biased variance (two passes),
// y = (x − μ)/√(σ² + eps) · w + b with an affine w, b of the normalized shape (per position). The
// TAS500 seed's 'layerHW' is LayerNorm([H, W]) on [N, C, H, W] (one row per (n, c)), 'layerCHW'
// LayerNorm([C, H, W]) (one row per n).
// Backward, with x̂ = (x − μ)·r, r = 1/√(σ² + eps), g = dy·w:
//   dx = r·(g − mean(g) − x̂·mean(g·x̂)) per row;  dw = Σ_rows dy·x̂;  db = Σ_rows dy.
import { defineOp } from '../engine/autograd.js';
import { f32 } from '../engine/params.js';
import { fmt, numel } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { MAIN_1D, MAIN_PER_GROUP, TREE_SUM, kernel, run } from './wgsl.js';

// one workgroup per row: mean, variance, then the normalised and affine values; (μ, r) kept per row
const LN_FWD = kernel('layernorm_fwd', /* wgsl */ `
override WG: u32 = 64;
struct P { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.rows) { return; }
  let base = o * u.cols;
  var acc = 0.0;
  for (var p = lid; p < u.cols; p += WG) { acc += x[base + p]; }
  part[lid] = acc;
  ${TREE_SUM}
  let mean = part[0] / f32(u.cols);
  workgroupBarrier();
  acc = 0.0;
  for (var p = lid; p < u.cols; p += WG) { let d = x[base + p] - mean; acc += d * d; }
  part[lid] = acc;
  ${TREE_SUM}
  let r = inverseSqrt(part[0] / f32(u.cols) + u.eps);
  for (var p = lid; p < u.cols; p += WG) { y[base + p] = (x[base + p] - mean) * r * w[p] + b[p]; }
  if (lid == 0u) { stats[2u * o] = mean; stats[2u * o + 1u] = r; }
}`);

// one workgroup per row: dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w
const LN_BWD_INPUT = kernel('layernorm_bwd_input', /* wgsl */ `
override WG: u32 = 64;
struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
var<workgroup> part2: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.rows) { return; }
  let base = o * u.cols;
  let mean = stats[2u * o];
  let r = stats[2u * o + 1u];
  var sg = 0.0;
  var sgx = 0.0;
  for (var p = lid; p < u.cols; p += WG) {
    let g = dy[base + p] * w[p];
    sg += g;
    sgx += g * (x[base + p] - mean) * r;
  }
  part[lid] = sg;
  part2[lid] = sgx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] += part[lid + s]; part2[lid] += part2[lid + s]; }
    workgroupBarrier();
  }
  let mg = part[0] / f32(u.cols);
  let mgx = part2[0] / f32(u.cols);
  for (var p = lid; p < u.cols; p += WG) {
    let xh = (x[base + p] - mean) * r;
    dx[base + p] = r * (dy[base + p] * w[p] - mg - xh * mgx);
  }
}`);

// one invocation per position of the normalized shape: dw = Σ_rows dy·x̂, db = Σ_rows dy
const LN_BWD_AFFINE = kernel('layernorm_bwd_affine', /* wgsl */ `
override WG: u32 = 64;
struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;
@group(0) @binding(5) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.cols) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var q = 0u; q < u.rows; q++) {
    let j = q * u.cols + idx;
    sw += dy[j] * (x[j] - stats[2u * q]) * stats[2u * q + 1u];
    sb += dy[j];
  }
  dw[idx] = sw;
  db[idx] = sb;
}`);

interface LnState { rows: number; cols: number }

const layerNormOp = defineOp<[Tensor, Tensor, Tensor, number], LnState>('layerNorm', {
  forward(ctx, x, w, b, eps) {
    assertDType('layer_norm', x, 'f32', 'x');
    const k = w.rank, tail = x.shape.slice(x.rank - k);
    if (k < 1 || k >= x.rank || tail.some((d, i) => d !== w.shape[i]) || b.shape.some((d, i) => d !== w.shape[i]) || b.rank !== k) {
      throw new Error(`layer_norm: weight ${fmt(w.shape)} and bias ${fmt(b.shape)} must both be the trailing shape of x ${fmt(x.shape)} ` +
        '(the normalized shape, with at least one leading dimension left)');
    }
    const cols = numel(tail), rows = x.size / cols;
    const y = empty(x.shape, 'f32', 'layer_norm'), stats = empty([rows, 2], 'f32', 'layer_norm_stats');
    run(LN_FWD, { inputs: [x, w, b], outputs: [y, stats], params: [rows, cols, f32(eps)], groups: rows });
    ctx.state = { rows, cols };
    ctx.save(x, w, stats);
    return y;
  },
  backward(ctx, dy) {
    const [x, w, stats] = ctx.saved, { rows, cols } = ctx.state;
    const dx = empty(x.shape, 'f32', 'layer_norm_dx'), dw = empty(w.shape, 'f32', 'layer_norm_dw'), db = empty(w.shape, 'f32', 'layer_norm_db');
    run(LN_BWD_INPUT, { inputs: [dy, x, w, stats], outputs: [dx], params: [rows, cols], groups: rows });
    run(LN_BWD_AFFINE, { inputs: [dy, x, stats], outputs: [dw, db], params: [rows, cols], threads: cols });
    return [dx, dw, db];
  },
});

/** torch.nn.functional.layer_norm(x, w.shape, w, b, eps): normalises over the trailing dimensions w has. */
export const layerNorm = (x: Tensor, w: Tensor, b: Tensor, eps = 1e-5): Tensor => layerNormOp(x, w, b, eps);
