// sum/mean: y[kept] = scale · Σ_{reduced axes} x   (any rank ≤ 6; one workgroup per output).
// Backward: dx = broadcast(dy) · scale.
import { defineOp } from '../engine/autograd.js';
import { f32, slots8 } from '../engine/params.js';
import { type Shape, contiguousStrides, fmt, normAxes, numel, sameShape } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { getEngine } from '../engine/engine.js';
import { expandRaw } from './strided.js';
import { sumSplits } from './tiled.js';
import { MAIN_PER_GROUP, TREE_SUM, at, kernel, run } from './wgsl.js';

const REDUCE_SUM = kernel('reduce_sum', /* wgsl */ `
override WG: u32 = 64;
struct P { nout: u32, nred: u32, krank: u32, rrank: u32, scale: f32, p0: u32, p1: u32, p2: u32,
           kshape: array<vec4u, 2>, kstride: array<vec4u, 2>, rshape: array<vec4u, 2>, rstride: array<vec4u, 2> }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  if (o >= u.nout) { return; }
  var rem = o;
  var base = 0u;
  for (var d = i32(u.krank) - 1; d >= 0; d--) {   // o unravelled over the kept dims → input offset
    let k = u32(d);
    base += (rem % ${at('kshape', 'k')}) * ${at('kstride', 'k')};
    rem = rem / ${at('kshape', 'k')};
  }
  var acc = 0.0;
  for (var r = lid; r < u.nred; r += WG) {
    var rr = r;
    var off = base;
    for (var d = i32(u.rrank) - 1; d >= 0; d--) {  // r unravelled over the reduced dims
      let k = u32(d);
      off += (rr % ${at('rshape', 'k')}) * ${at('rstride', 'k')};
      rr = rr / ${at('rshape', 'k')};
    }
    acc += x[off];
  }
  part[lid] = acc;
  ${TREE_SUM}
  if (lid == 0u) { y[o] = part[0] * u.scale; }
}`);

/** Raw reduction over `axes` (sorted, unique) times `scale`; output keeps the other dims in order. */
export function reduceRaw(x: Tensor, axes: readonly number[], scale: number): Tensor {
  const st = contiguousStrides(x.shape);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const kshape = kept.map((i) => x.shape[i]);
  const rshape = axes.map((i) => x.shape[i]);
  const y = empty(kshape, 'f32', 'sum');
  const nout = numel(kshape), nred = numel(rshape);
  if (nout === 0) return y;
  run(REDUCE_SUM, {
    inputs: [x], outputs: [y], groups: nout,
    params: [nout, nred, kept.length, axes.length, f32(scale), 0, 0, 0,
      ...slots8(kshape, 1), ...slots8(kept.map((i) => st[i])), ...slots8(rshape, 1), ...slots8(axes.map((i) => st[i]))],
  });
  return y;
}

// Σ over batch and space per channel of NCHW (bias gradients). On GPUs each workgroup sums one
// piece (`span` values of one plane), so a few channels of large planes still fill the device: one
// workgroup per channel left 16 of an H100's 132 SMs busy, 32% of ERFNet's step (bench/NOTES.md
// §28); sum_splits then adds the partial sums [pieces, c]. On CPU adapters one workgroup per
// channel (all batches, whole planes) already keeps every worker busy and saves that dispatch.
// (x may be f16: the gradient of f16 activations; the sums are f32)
const channelSumKernel = (S: 'f32' | 'f16') => kernel(`channel_sum${S === 'f16' ? '_h' : ''}`, /* wgsl */ `${S === 'f16' ? 'enable f16;' : ''}
override WG: u32 = 64;
struct P { n: u32, c: u32, hw: u32, bper: u32, blocks: u32, span: u32, pieces: u32 }
@group(0) @binding(0) var<storage, read> x: array<${S}>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;   // [pieces, c]
@group(0) @binding(2) var<uniform> u: P;
var<workgroup> part: array<f32, WG>;
${MAIN_PER_GROUP}
  let ch = o % u.c;
  let piece = o / u.c;                                // piece = batch group · blocks + block
  if (piece >= u.pieces) { return; }
  let start = (piece % u.blocks) * u.span;
  let end = min(u.hw, start + u.span);
  let b0 = (piece / u.blocks) * u.bper;
  var acc = 0.0;
  for (var b = b0; b < min(u.n, b0 + u.bper); b++) {
    let base = (b * u.c + ch) * u.hw;
    for (var p = start + lid; p < end; p += WG) { acc += f32(x[base + p]); }
  }
  part[lid] = acc;
  ${TREE_SUM}
  if (lid == 0u) { y[o] = part[0]; }
}`);
const CHANNEL_SUM = { f32: channelSumKernel('f32'), f16: channelSumKernel('f16') };

/** Values of one plane per workgroup of channel_sum when split: 64 per invocation. */
export const CHANNEL_SUM_SPAN = 4096;

/**
 * y[c] = Σ_{b,h,w} x[b,c,h,w] for NCHW x (raw launch, no autograd). `split`: pieces of one plane
 * per workgroup plus a sum_splits pass (engine.splitReductions: GPUs), else one workgroup per channel.
 */
export function channelSum(x: Tensor, split = getEngine().splitReductions): Tensor {
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new Error(`channelSum: ${x.describe()} is not f32 or f16`);
  const K = CHANNEL_SUM[x.dtype];
  const [n, c] = x.shape;
  const hw = numel(x.shape.slice(2));
  const y = empty([c], 'f32', 'channel_sum');
  const [bper, span] = split ? [1, CHANNEL_SUM_SPAN] : [n, Math.max(hw, 1)];
  const blocks = Math.ceil(hw / span), pieces = Math.ceil(n / bper) * blocks;
  const params = [n, c, hw, bper, blocks, span, pieces];
  if (pieces <= 1) {
    run(K, { inputs: [x], outputs: [y], params, groups: c });
    return y;
  }
  const part = empty([pieces, c], 'f32', 'channel_sum_pieces');
  run(K, { inputs: [x], outputs: [part], params, groups: pieces * c });
  sumSplits(part, y, pieces);
  part.dispose();
  return y;
}

interface ReduceState { inShape: Shape; keptShape: Shape; scale: number }

const reduceOp = defineOp<[Tensor, number[], boolean, boolean], ReduceState>('sum', {
  forward(ctx, x, axes, keepDims, isMean) {
    assertDType(isMean ? 'mean' : 'sum', x, 'f32');
    const ax = normAxes(isMean ? 'mean' : 'sum', axes, x.rank);
    const count = numel(ax.map((i) => x.shape[i]));
    const scale = isMean ? 1 / Math.max(count, 1) : 1;
    const raw = reduceRaw(x, ax, scale);
    const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    ctx.state = { inShape: x.shape, keptShape, scale };
    const outShape = keepDims ? keptShape : x.shape.filter((_, i) => !ax.includes(i));
    const y = raw.view(outShape, isMean ? 'mean' : 'sum');
    raw.dispose();
    return y;
  },
  backward(ctx, dy) {
    const { inShape, keptShape, scale } = ctx.state;
    const st = contiguousStrides(keptShape).map((s, i) => (keptShape[i] === 1 ? 0 : s));
    return [expandRaw(dy, inShape, st, scale)];
  },
});

/** Σ over `axes` (all axes by default). */
export const sum = (x: Tensor, axes?: number[], keepDims = false): Tensor =>
  reduceOp(x, axes ?? x.shape.map((_, i) => i), keepDims, false);

/** Mean over `axes` (all axes by default). */
export const mean = (x: Tensor, axes?: number[], keepDims = false): Tensor =>
  reduceOp(x, axes ?? x.shape.map((_, i) => i), keepDims, true);

/** Sums a broadcast gradient back to `shape` (the inverse of broadcasting), times alpha. */
export function sumTo(g: Tensor, shape: Shape, alpha = 1): Tensor {
  if (sameShape(g.shape, shape) && alpha === 1) return g.view(shape);
  const off = g.rank - shape.length;
  if (off < 0) throw new Error(`sumTo: cannot reduce ${fmt(g.shape)} to ${fmt(shape)}`);
  const axes = g.shape.map((_, i) => i).filter((i) => i < off || (shape[i - off] === 1 && g.shape[i] !== 1));
  const r = reduceRaw(g, axes, alpha);
  const y = r.view(shape);
  r.dispose();
  return y;
}

const reshapeOp = defineOp<[Tensor, Shape], Shape>('reshape', {
  half: 'same',
  forward(ctx, x, shape) {
    ctx.state = x.shape;
    return x.view(shape, 'reshape');
  },
  backward(ctx, dy) { return [dy.view(ctx.state)]; },
});

/** Same data, another shape (one dim may be -1). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.map((d) => (d === -1 ? x.size / Math.max(1, numel(known)) : d));
  if (shape.filter((d) => d === -1).length > 1 || !inferred.every(Number.isInteger)) {
    throw new Error(`reshape: cannot reshape ${x.describe()} to ${fmt(shape)}`);
  }
  return reshapeOp(x, inferred);
}
