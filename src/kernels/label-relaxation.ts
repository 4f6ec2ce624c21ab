// Boundary label relaxation (Zhu et al., CVPR 2019; NVIDIA's ImgWtLossSoftNLL with the targets of
// RelaxedBoundaryLossToTensor, seed-specs §4.1, §4.6) and the per-image weighted cross-entropy
// (ImageBasedCrossEntropyLoss2d), on logits [N, C, H, W] and labels [N, H, W] (i32).
//
// Relaxed: for pixel x of image n, S(x) = the labels in the (2B+1)² window around x (positions off
// the image count as ignore; a pixel whose own label is a strict border class keeps S = {own});
// n_pix = |S ∩ real classes|. Class weights per image from the multi-hot histogram over C + 1
// channels (ignore and off-image included): hist_c = Σ_x M_c / Σ_x,c M,  w_c = 1 + b·(1 − hist_c)
// where hist_c ≠ 0, else 1. Per pixel ℓ = −(1/n_pix)·Σ_{c∈S} w_c·log Σ_{k∈S} p_k (0 where n_pix = 0:
// "masked"), per image Σ_x ℓ / (H·W − #masked + 1), summed over images. log Σ_S p is computed as
// logsumexp over S minus logsumexp over all classes (the reference's float32 log max(p, …) is NaN
// once a probability underflows).
// After rlx_off_epoch ("off"): window B/2 (0 for B = 1), M doubled on label boundaries
// (skimage find_boundaries mode 'thick': the 4-neighbourhood holds another label; edges reflect),
// the inverted border weight n_pix multiplies ℓ: boundary pixels count twice.
// `batchBug`: the reference's form, where image i's loss uses the whole batch's border weights, so
// its per-pixel factor is Σ_n 1/n_pix(n, x) instead of 1/n_pix(i, x) (masked pixels: n_pix = 1).
// Image-weighted CE: hist over the real classes' pixels, same weights, per image
// Σ w_y·(−log p_y) / Σ w_y over non-ignored pixels, summed over images.
//
// Two kernels: `relax_sets` writes each pixel's class set (a 64-bit mask; C + 1 ≤ 64) and factor,
// and counts the histogram per image (workgroup atomics, then one global add per channel);
// `relax_loss` gives each pixel its scaled loss, or (backward) its logits' gradient. The forward
// saves the sets and counts, not a gradient buffer.
import { defineOp } from '../engine/autograd.js';
import { type Param, f32, i32 } from '../engine/params.js';
import { fmt } from '../engine/shape.js';
import { type Tensor, assertDType, empty, zeros } from '../engine/tensor.js';
import { sum } from './reduce.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

const WG = 64;
const PARAMS = /* wgsl */ `
struct P { n: u32, c: u32, h: u32, w: u32, ignore: i32, border: u32, off: u32, strict_lo: u32, strict_hi: u32,
           mode: u32, bound: f32, bug: u32, grad: u32 }`;
const CLS = /* wgsl */ `
// a label's bit: its class, or C for ignore (the ignore id, or outside [0, C))
fn cls(t: i32) -> u32 { return select(u32(t), u.c, t == u.ignore || t < 0 || t >= i32(u.c)); }
fn has(lo: u32, hi: u32, b: u32) -> bool { return select((hi >> (b - 32u)) & 1u, (lo >> b) & 1u, b < 32u) != 0u; }`;

const SETS = kernel('relax_sets', /* wgsl */ `
override WG: u32 = ${WG};
${PARAMS}
@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read_write> sets: array<vec4u>;        // lo, hi, factor, n_pix
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>; // [n, C + 2]: channels, then #masked
@group(0) @binding(3) var<uniform> u: P;
${CLS}
var<workgroup> wc: array<atomic<u32>, 66>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let grp = wid.y * nwg.x + wid.x;
  let hw = u.h * u.w;
  let per = (hw + WG - 1u) / WG;                   // workgroups per image: one image per workgroup
  let b = grp / per;
  let p = (grp % per) * WG + lid;
  let valid = b < u.n && p < hw;
  if (lid < u.c + 2u) { atomicStore(&wc[lid], 0u); }
  workgroupBarrier();
  if (valid) {
    let y = i32(p / u.w);
    let x = i32(p % u.w);
    let base = b * hw;
    let own = cls(labels[base + p]);
    let strict = own < u.c && has(u.strict_lo, u.strict_hi, own);
    var lo = 0u;
    var hi = 0u;
    let r = select(i32(u.border), 0, strict);
    for (var dy = -r; dy <= r; dy++) {
      for (var dx = -r; dx <= r; dx++) {
        let yy = y + dy;
        let xx = x + dx;
        var k = u.c;
        if (yy >= 0 && yy < i32(u.h) && xx >= 0 && xx < i32(u.w)) { k = cls(labels[base + u32(yy) * u.w + u32(xx)]); }
        if (k < 32u) { lo |= 1u << k; } else { hi |= 1u << (k - 32u); }
      }
    }
    var f = 1u;
    if (u.off != 0u) {                             // find_boundaries 'thick': a 4-neighbour differs (reflect at edges)
      let ny = array<i32, 4>(max(y - 1, 0), min(y + 1, i32(u.h) - 1), y, y);
      let nx = array<i32, 4>(x, x, max(x - 1, 0), min(x + 1, i32(u.w) - 1));
      for (var q = 0; q < 4; q++) {
        if (cls(labels[base + u32(ny[q]) * u.w + u32(nx[q])]) != own) { f = 2u; }
      }
    }
    var npix = 0u;
    for (var k = 0u; k <= u.c; k++) {
      if (has(lo, hi, k)) {
        atomicAdd(&wc[k], f);
        if (k < u.c) { npix += f; }
      }
    }
    if (npix == 0u) { atomicAdd(&wc[u.c + 1u], 1u); }
    sets[base + p] = vec4u(lo, hi, f, npix);
  }
  workgroupBarrier();
  if (lid < u.c + 2u && b < u.n) {
    let v = atomicLoad(&wc[lid]);
    if (v != 0u) { atomicAdd(&counts[b * (u.c + 2u) + lid], v); }
  }
}`, { WG });

const LOSS = kernel('relax_loss', /* wgsl */ `
override WG: u32 = ${WG};
${PARAMS}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> sets: array<vec4u>;
@group(0) @binding(2) var<storage, read> counts: array<u32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;          // per pixel (forward)
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;            // logits' gradient (backward)
@group(0) @binding(6) var<uniform> u: P;
${CLS}
fn weight(b: u32, k: u32, total: f32) -> f32 {
  let cnt = counts[b * (u.c + 2u) + k];
  return select(1.0, 1.0 + u.bound * (1.0 - f32(cnt) / total), cnt != 0u);
}
${MAIN_1D}
  let hw = u.h * u.w;
  if (idx >= u.n * hw) { return; }
  let b = idx / hw;
  let p = idx % hw;
  let s = sets[idx];
  let zb = b * u.c * hw + p;                       // logit (b, c, p) at zb + c·hw
  var total = 0.0;                                 // histogram denominator
  let cb = b * (u.c + 2u);
  for (var k = 0u; k < u.c; k++) { total += f32(counts[cb + k]); }
  if (u.mode == 0u) { total += f32(counts[cb + u.c]); }   // relaxed: the ignore channel counts too
  var ws = 0.0;                                    // Σ_{c ∈ S, real} w_c, and the per-image scale
  var scale = 0.0;
  if (u.mode == 0u) {
    for (var k = 0u; k < u.c; k++) { if (has(s.x, s.y, k)) { ws += weight(b, k, total); } }
    var coef = 0.0;                                // relaxed: 1/n_pix; off: n_pix (inverted border weight)
    if (s.w != 0u) {
      if (u.bug != 0u) {                           // the reference: Σ over the batch's images at this pixel
        for (var m = 0u; m < u.n; m++) {
          let np = max(f32(sets[m * hw + p].w), 1.0);
          coef += select(1.0 / np, np, u.off != 0u);
        }
      } else {
        coef = select(1.0 / f32(s.w), f32(s.w), u.off != 0u);
      }
    }
    scale = coef * ws / (f32(hw - counts[cb + u.c + 1u]) + 1.0);
  } else {                                         // image-weighted CE: S = {y}
    var den = 0.0;                                 // Σ_x w_{y(x)} = Σ_c count_c·w_c
    for (var k = 0u; k < u.c; k++) { den += f32(counts[cb + k]) * weight(b, k, total); }
    if (s.w != 0u && den > 0.0) {
      for (var k = 0u; k < u.c; k++) { if (has(s.x, s.y, k)) { ws = weight(b, k, total); } }
      scale = ws / den;
    }
  }
  var m_all = logits[zb];
  var m_s = -3.0e38;
  for (var k = 0u; k < u.c; k++) {
    let z = logits[zb + k * hw];
    m_all = max(m_all, z);
    if (has(s.x, s.y, k)) { m_s = max(m_s, z); }
  }
  var e_all = 0.0;
  var e_s = 0.0;
  for (var k = 0u; k < u.c; k++) {
    let z = logits[zb + k * hw];
    e_all += exp(z - m_all);
    if (has(s.x, s.y, k)) { e_s += exp(z - m_s); }
  }
  let lse_all = m_all + log(e_all);
  let lse_s = m_s + log(max(e_s, 1e-30));
  if (u.grad == 0u) {
    loss[idx] = select(0.0, -scale * (lse_s - lse_all), scale != 0.0);
    return;
  }
  let g = dy[0] * scale;                           // ∂(−a·log P_S)/∂z_j = a·(p_j − [j ∈ S]·p_j / P_S)
  for (var k = 0u; k < u.c; k++) {
    let z = logits[zb + k * hw];
    let inS = select(0.0, exp(z - lse_s), has(s.x, s.y, k));
    dx[zb + k * hw] = select(0.0, g * (exp(z - lse_all) - inS), scale != 0.0);
  }
}`, { WG });

export interface RelaxedLossOptions {
  /** Label of unlabelled pixels (also: any label outside [0, C)). */
  ignoreIndex: number;
  /** Half-width B of the window: (2B+1)² (the reference's BORDER_WINDOW, 1). */
  border?: number;
  /** Classes whose pixels are never relaxed (the Cityscapes scripts: 5,6,7,11,12,17,18). */
  strict?: readonly number[];
  /** wt_bound: class weights 1 + b·(1 − hist) (1.0 for Cityscapes; 0: unweighted). */
  bound?: number;
  /** After rlx_off_epoch: window B/2 and boundary pixels weighted ×2. */
  off?: boolean;
  /** The reference's batch-mixing border weights (see the header). */
  batchBug?: boolean;
}

interface RelaxState { params: Param[] }

function checkInputs(op: string, logits: Tensor, labels: Tensor) {
  assertDType(op, logits, 'f32', 'logits');
  assertDType(op, labels, 'i32', 'labels');
  if (logits.rank !== 4) throw new Error(`${op}: logits must be [N,C,H,W], got ${logits.describe()}`);
  const [n, c, h, w] = logits.shape;
  if (fmt(labels.shape) !== fmt([n, h, w])) throw new Error(`${op}: labels ${fmt(labels.shape)} do not match logits ${fmt(logits.shape)} (expected ${fmt([n, h, w])})`);
  if (c + 1 > 64) throw new Error(`${op}: at most 63 classes (got ${c})`);
}

const relaxOp = defineOp<[Tensor, Tensor, number, RelaxedLossOptions], RelaxState>('relaxedLoss', {
  forward(ctx, logits, labels, mode, o) {
    const op = mode === 0 ? 'relaxed_loss' : 'img_wt_loss';
    checkInputs(op, logits, labels);
    const [n, c, h, w] = logits.shape;
    const border = o.border ?? 1;
    if (!(Number.isInteger(border) && border >= 0 && border <= 8)) throw new Error(`${op}: border ${border} must be an integer from 0 to 8`);
    const strict = o.strict ?? [];
    for (const k of strict) if (!(Number.isInteger(k) && k >= 0 && k < c)) throw new Error(`${op}: strict border class ${k} is not one of the ${c} classes`);
    const bits = (lo: boolean) => strict.filter((k) => (lo ? k < 32 : k >= 32)).reduce((a, k) => (a | (1 << (k % 32))) >>> 0, 0);
    const bound = o.bound ?? 1;
    if (!(bound >= 0 && Number.isFinite(bound))) throw new Error(`${op}: weight bound ${bound} must be finite and ≥ 0`);
    const window = mode === 1 ? 0 : o.off ? Math.floor(border / 2) : border;
    const params: Param[] = [n, c, h, w, i32(o.ignoreIndex), window, mode === 0 && o.off ? 1 : 0, mode === 0 ? bits(true) : 0,
      mode === 0 ? bits(false) : 0, mode, f32(bound), mode === 0 && o.batchBug ? 1 : 0, 0];
    const sets = empty([n * h * w, 4], 'u32', 'relax_sets');
    const counts = zeros([n, c + 2], 'u32');
    run(SETS, { inputs: [labels], outputs: [sets, counts], params, groups: n * Math.ceil((h * w) / WG) });
    const perPixel = empty([n * h * w], 'f32', 'relax_loss_pixels');
    run(LOSS, { inputs: [logits, sets, counts, logits], outputs: [perPixel, null], params, threads: n * h * w });
    const loss = sum(perPixel);
    perPixel.dispose();
    ctx.save(logits, sets, counts);
    sets.dispose(); counts.dispose();
    ctx.state = { params };
    return loss;
  },
  backward(ctx, dy) {
    const [logits, sets, counts] = ctx.saved;
    const p = [...ctx.state.params];
    p[12] = 1;
    const dx = empty(logits.shape, 'f32', 'relax_loss_grad');
    run(LOSS, { inputs: [logits, sets, counts, dy], outputs: [null, dx], params: p, threads: logits.shape[0] * logits.shape[2] * logits.shape[3] });
    return [dx, null];
  },
});

/** Boundary-relaxed, image-weighted soft NLL (NVIDIA's --jointwtborder); sum over the batch's images. */
export function relaxedLoss(logits: Tensor, labels: Tensor, o: RelaxedLossOptions): Tensor {
  return relaxOp(logits, labels, 0, o);
}

/** Per-image class-weighted cross-entropy (NVIDIA's --img_wt_loss): w = 1 + bound·(1 − hist) per image; summed over images. */
export function imageWeightedLoss(logits: Tensor, labels: Tensor, o: { ignoreIndex: number; bound?: number }): Tensor {
  return relaxOp(logits, labels, 1, o);
}
