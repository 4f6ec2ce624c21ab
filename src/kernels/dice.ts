// Soft Dice loss of the TAS500 seed (loss_functions.py "DiceLoss", seed-specs §5.6) on class
// probabilities p [N, C, …] (a softmax's output) and i32 labels [N, …]: for each (n, c) over the
// positions, I = Σ p·y, Y = Σ y, P = Σ p² (y the one-hot label; a label outside [0, C) is no class),
//   L = mean_{n,c} [1 − (2I + 1)/(Y + P + 1)].
// Backward: ∂L/∂p = −(2y·D − 2p·(2I + 1)) / (D²·N·C), D = Y + P + 1.
import { defineOp } from '../engine/autograd.js';
import { fmt, numel } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { MAIN_1D, MAIN_PER_GROUP, kernel, run } from './wgsl.js';

// one workgroup per (n, c): stats[3·o..] = I, Y, P
const DICE_STATS = kernel('dice_stats', /* wgsl */ `
override WG: u32 = 64;
struct P { rows: u32, c: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
var<workgroup> si: array<f32, WG>;
var<workgroup> sy: array<f32, WG>;
var<workgroup> sp: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.rows) { return; }
  let n = o / u.c;
  let c = i32(o % u.c);
  var a = 0.0;
  var b = 0.0;
  var q = 0.0;
  for (var j = lid; j < u.inner; j += WG) {
    let v = p[o * u.inner + j];
    let y = select(0.0, 1.0, labels[n * u.inner + j] == c);
    a += v * y; b += y; q += v * v;
  }
  si[lid] = a; sy[lid] = b; sp[lid] = q;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { si[lid] += si[lid + s]; sy[lid] += sy[lid + s]; sp[lid] += sp[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { stats[3u * o] = si[0]; stats[3u * o + 1u] = sy[0]; stats[3u * o + 2u] = sp[0]; }
}`);

// one invocation: the mean over (n, c)
const DICE_MEAN = kernel('dice_mean', /* wgsl */ `
override WG: u32 = 1;
struct P { rows: u32 }
@group(0) @binding(0) var<storage, read> stats: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx > 0u) { return; }
  var s = 0.0;
  for (var o = 0u; o < u.rows; o++) {
    s += 1.0 - (2.0 * stats[3u * o] + 1.0) / (stats[3u * o + 1u] + stats[3u * o + 2u] + 1.0);
  }
  loss[0] = s / f32(u.rows);
}`);

const DICE_BWD = kernel('dice_bwd', /* wgsl */ `
override WG: u32 = 64;
struct P { rows: u32, c: u32, inner: u32 }
@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dp: array<f32>;
@group(0) @binding(5) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.rows * u.inner) { return; }
  let o = idx / u.inner;
  let j = idx % u.inner;
  let y = select(0.0, 1.0, labels[(o / u.c) * u.inner + j] == i32(o % u.c));
  let d = stats[3u * o + 1u] + stats[3u * o + 2u] + 1.0;
  let num = 2.0 * stats[3u * o] + 1.0;
  dp[idx] = -dy[0] * (2.0 * y * d - 2.0 * p[idx] * num) / (d * d * f32(u.rows));
}`);

const diceOp = defineOp<[Tensor, Tensor], number[]>('softDice', {
  forward(ctx, p, labels) {
    assertDType('soft_dice', p, 'f32', 'probabilities');
    assertDType('soft_dice', labels, 'i32', 'labels');
    if (p.rank < 2) throw new Error(`soft_dice: probabilities need a class axis 1, got ${p.describe()}`);
    const [n, c] = p.shape, inner = numel(p.shape.slice(2));
    if (labels.size !== n * inner) throw new Error(`soft_dice: labels ${fmt(labels.shape)} do not match probabilities ${fmt(p.shape)}`);
    const params = [n * c, c, inner];
    const stats = empty([n * c, 3], 'f32', 'dice_stats'), loss = empty([], 'f32', 'soft_dice');
    run(DICE_STATS, { inputs: [p, labels], outputs: [stats], params, groups: n * c });
    run(DICE_MEAN, { inputs: [stats], outputs: [loss], params: [n * c], threads: 1 });
    ctx.state = params;
    ctx.save(p, labels, stats);
    return loss;
  },
  backward(ctx, dy) {
    const [p, labels, stats] = ctx.saved;
    const dp = empty(p.shape, 'f32', 'soft_dice_grad');
    run(DICE_BWD, { inputs: [p, labels, stats, dy], outputs: [dp], params: ctx.state, threads: p.size });
    return [dp, null];
  },
});

/** The TAS500 seed's soft Dice loss on probabilities (apply softmax first): mean over (n, c) of 1 − (2I+1)/(Y+P+1). */
export const softDice = (p: Tensor, labels: Tensor): Tensor => diceOp(p, labels);
