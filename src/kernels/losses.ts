// Losses on logits [N, C, …] and integer targets [N, …] (i32), plus L1.
// crossEntropy (PyTorch weighted mean): L = Σ_i w_{y_i}·(−log p_i) / Σ_i w_{y_i} over non-ignored i.
// focalLoss (CB-iFL, seed-specs §1.6): L = mean_n −α·Σ_i (1−p_i)^γ·w_{y_i}·log p_i / Σ_i w_{y_i},
// with the modulating factor (1−p)^γ detached as in the reference. Targets equal to
// ignoreIndex, or outside [0, C), get weight 0. An image (or batch) whose weights sum to 0 adds 0.
import { defineOp } from '../engine/autograd.js';
import { type Param, f32, i32 } from '../engine/params.js';
import { fmt, numel } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { channelSum, reduceRaw } from './reduce.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

const XENT_COMMON = /* wgsl */ `
struct P { n: u32, c: u32, inner: u32, has_w: u32, gamma: f32, ignore: i32, mode: u32, alpha: f32 }
struct Pix { valid: bool, y: u32, w: f32, lse: f32, logp: f32, modf: f32 }
fn pixel(idx: u32) -> Pix {
  let base = (idx / u.inner) * u.c * u.inner + idx % u.inner;   // logit (n, c) at base + c·inner
  let t = labels[idx];
  var r: Pix;
  r.valid = t != u.ignore && t >= 0 && u32(t) < u.c;
  r.y = select(0u, u32(t), r.valid);
  r.w = select(0.0, select(1.0, weight[r.y], u.has_w != 0u), r.valid);
  var m = logits[base];
  for (var c = 1u; c < u.c; c++) { m = max(m, logits[base + c * u.inner]); }
  var s = 0.0;
  for (var c = 0u; c < u.c; c++) { s += exp(logits[base + c * u.inner] - m); }
  r.lse = m + log(s);
  r.logp = logits[base + r.y * u.inner] - r.lse;
  let q = max(1.0 - exp(r.logp), 0.0);
  r.modf = 1.0;                                     // (1 − p)^γ; pow(0, γ) is undefined in WGSL
  if (u.gamma != 0.0) { r.modf = select(0.0, pow(q, u.gamma), q > 0.0); }
  return r;
}`;

// Per pixel: num = −w·(1−p)^γ·log p, den = w.
const XENT_PIXEL = kernel('xent_pixel', /* wgsl */ `
override WG: u32 = 64;
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> num: array<f32>;
@group(0) @binding(4) var<storage, read_write> den: array<f32>;
@group(0) @binding(5) var<uniform> u: P;
${XENT_COMMON}
${MAIN_1D}
  if (idx >= u.n * u.inner) { return; }
  let r = pixel(idx);
  num[idx] = -r.w * r.modf * r.logp;
  den[idx] = r.w;
}`);

// Single invocation: loss from per-image sums; coef[n] = ∂L/∂(num_n) for backward.
const XENT_FINALIZE = kernel('xent_finalize', /* wgsl */ `
override WG: u32 = 1;
struct P { n: u32, mode: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> num: array<f32>;
@group(0) @binding(1) var<storage, read> den: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> coef: array<f32>;
@group(0) @binding(4) var<uniform> u: P;
@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  if (u.mode == 0u) {                               // weighted mean over the whole batch
    var sn = 0.0;
    var sd = 0.0;
    for (var i = 0u; i < u.n; i++) { sn += num[i]; sd += den[i]; }
    let k = select(0.0, 1.0 / sd, sd > 0.0);
    total = sn * k;
    for (var i = 0u; i < u.n; i++) { coef[i] = k; }
  } else {                                          // per-image normalisation, mean over images
    for (var i = 0u; i < u.n; i++) {
      let k = select(0.0, u.alpha / (f32(u.n) * den[i]), den[i] > 0.0);
      total += num[i] * k;
      coef[i] = k;
    }
  }
  loss[0] = total;
}`);

// dlogits[n,c,p] = g·coef_n·w·(1−p)^γ·(softmax_c − [c = y]).
const XENT_BWD = kernel('xent_bwd', /* wgsl */ `
override WG: u32 = 64;
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> u: P;
${XENT_COMMON}
${MAIN_1D}
  if (idx >= u.n * u.inner) { return; }
  let r = pixel(idx);
  let base = (idx / u.inner) * u.c * u.inner + idx % u.inner;
  let k = dy[0] * coef[idx / u.inner] * r.w * r.modf;
  for (var c = 0u; c < u.c; c++) {
    let j = base + c * u.inner;
    dx[j] = k * (exp(logits[j] - r.lse) - select(0.0, 1.0, c == r.y && r.valid));
  }
}`);

export interface CrossEntropyOptions {
  /** Per-class weights [C]. */
  weight?: Tensor | null;
  /** Target value that contributes nothing (PyTorch default −100). */
  ignoreIndex?: number;
}
export interface FocalLossOptions extends CrossEntropyOptions {
  gamma?: number;
  alpha?: number;
}

interface XentState { params: Param[] }

function checkLossInputs(op: string, logits: Tensor, target: Tensor, weight: Tensor | null) {
  assertDType(op, logits, 'f32', 'logits');
  assertDType(op, target, 'i32', 'target');
  if (logits.rank < 2) throw new Error(`${op}: logits need a class axis 1, got ${logits.describe()}`);
  const want = [logits.shape[0], ...logits.shape.slice(2)];
  if (fmt(target.shape) !== fmt(want)) {
    throw new Error(`${op}: target ${fmt(target.shape)} does not match logits ${fmt(logits.shape)} (expected ${fmt(want)})`);
  }
  if (weight) {
    assertDType(op, weight, 'f32', 'weight');
    if (weight.size !== logits.shape[1]) {
      throw new Error(`${op}: weight ${fmt(weight.shape)} does not match ${logits.shape[1]} classes`);
    }
  }
}

const xentOp = defineOp<[Tensor, Tensor, Tensor | null, number, number, number, number], XentState>('crossEntropy', {
  forward(ctx, logits, target, weight, ignoreIndex, gamma, alpha, mode) {
    const op = mode === 0 ? 'cross_entropy' : 'focal_loss';
    checkLossInputs(op, logits, target, weight);
    const n = logits.shape[0], c = logits.shape[1], inner = numel(logits.shape.slice(2));
    const params = [n, c, inner, weight ? 1 : 0, f32(gamma), i32(ignoreIndex), mode, f32(alpha)];
    const num = empty([n, inner], 'f32', 'xent_num'), den = empty([n, inner], 'f32', 'xent_den');
    run(XENT_PIXEL, { inputs: [logits, target, weight ?? logits], outputs: [num, den], params, threads: n * inner });
    // per-image sums as channelSum over [1, n, inner]: split into pieces on GPUs (bench/NOTES.md §28)
    const perImage = (t: Tensor) => { const v = t.view([1, n, inner]); const s = channelSum(v); v.dispose(); return s; };
    const numN = perImage(num), denN = perImage(den);
    const loss = empty([], 'f32', op), coef = empty([n], 'f32', 'xent_coef');
    run(XENT_FINALIZE, { inputs: [numN, denN], outputs: [loss, coef], params: [n, mode, f32(alpha)], groups: 1 });
    for (const t of [num, den, numN, denN]) t.dispose();
    ctx.save(logits, target, ...(weight ? [weight] : []), coef);
    ctx.state = { params };
    coef.dispose();
    return loss;
  },
  backward(ctx, dy) {
    const [logits, target] = ctx.saved;
    const weight = ctx.saved.length === 4 ? ctx.saved[2] : logits;
    const coef = ctx.saved[ctx.saved.length - 1];
    const dx = empty(logits.shape, 'f32', 'xent_grad');
    const p = ctx.state.params;
    run(XENT_BWD, { inputs: [logits, target, weight, coef, dy], outputs: [dx], params: p, threads: (p[0] as number) * (p[2] as number) });
    return [dx, null, null];
  },
});

/** Weighted cross-entropy with an ignore index; PyTorch `F.cross_entropy(reduction='mean')`. */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return xentOp(logits, target, o.weight ?? null, o.ignoreIndex ?? -100, 0, 1, 0);
}

/** Class-weighted focal loss in the CB-iFL form (per-image normalisation, detached modulating factor). */
export function focalLoss(logits: Tensor, target: Tensor, o: FocalLossOptions = {}): Tensor {
  const gamma = o.gamma ?? 0, alpha = o.alpha ?? 1;
  if (!(gamma >= 0)) throw new Error(`focal_loss: gamma must be ≥ 0, got ${gamma}`);
  return xentOp(logits, target, o.weight ?? null, o.ignoreIndex ?? -100, gamma, alpha, 1);
}

const L1 = kernel('l1_loss', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, bwd: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  let d = a[idx] - b[idx];
  if (u.bwd == 0u) { y[idx] = abs(d); } else { y[idx] = sign(d) * dy[0] / f32(u.n); }
}`);

const l1Op = defineOp<[Tensor, Tensor]>('l1Loss', {
  forward(ctx, a, b) {
    assertDType('l1_loss', a, 'f32', 'input');
    assertDType('l1_loss', b, 'f32', 'target');
    if (fmt(a.shape) !== fmt(b.shape)) throw new Error(`l1_loss: input ${fmt(a.shape)} and target ${fmt(b.shape)} differ`);
    const d = empty(a.shape, 'f32', 'l1_abs');
    run(L1, { inputs: [a, b, a], outputs: [d], params: [a.size, 0], threads: a.size });
    const flat = d.view([a.size]);
    const s = reduceRaw(flat, [0], 1 / a.size);
    flat.dispose();
    d.dispose();
    ctx.save(a, b);
    return s;
  },
  backward(ctx, dy) {
    const [a, b] = ctx.saved;
    const da = empty(a.shape, 'f32', 'l1_grad');
    run(L1, { inputs: [a, b, dy], outputs: [da], params: [a.size, 1], threads: a.size });
    if (!ctx.needsGrad[1]) return [da, null];
    const db = empty(a.shape, 'f32', 'l1_grad');
    run(L1, { inputs: [b, a, dy], outputs: [db], params: [a.size, 1], threads: a.size });
    return [da, db];
  },
});

/** Mean absolute error (PyTorch nn.L1Loss, reduction 'mean'). */
export const l1Loss = (input: Tensor, target: Tensor): Tensor => l1Op(input, target);
