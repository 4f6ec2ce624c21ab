// Element-wise ops. Unary: y = f(x) for relu, leaky relu, tanh, sigmoid, scale.
// Binary: y = a ∘ b with NumPy broadcasting (rank ≤ 6; channel bias [1,C,1,1] on NCHW, row
// bias [N] on [M,N]). Backward of a broadcast operand sums the gradient back to its shape.
import { defineOp } from '../engine/autograd.js';
import { f32, slots8 } from '../engine/params.js';
import { broadcastShapes, broadcastStrides, sameShape } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { sumTo } from './reduce.js';
import { type Elem, MAIN_1D, MAIN_PER_GROUP, at, kernel, run, storage, storeIdx, vecOf } from './wgsl.js';

const enum U { Relu = 0, Leaky = 1, Tanh = 2, Sigmoid = 3, Scale = 4 }

// T = f32, or vec4f when the size is a multiple of 4: on lavapipe a vec4 load is one lane loop for
// four values instead of four loops (bench/NOTES.md §10).
// half: f16 storage (activations under engine.storesHalf), computed in f32 and rounded as stored.
const unaryFwd = (T: Elem, half = false) => { const h = storage(T, half); return kernel(`unary_fwd${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
struct P { n: u32, op: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> x: array<${h.S}>;
@group(0) @binding(1) var<storage, read_write> y: array<${h.S}>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  let v = ${h.ld('x[idx]')};
  let z = ${T}(0.0);
  var r: ${T};
  switch u.op {
    case 0u: { r = select(z, v, v > z); }
    case 1u: { r = select(v * u.alpha, v, v > z); }
    case 2u: { r = tanh(clamp(v, ${T}(-15.0), ${T}(15.0))); }   // clamp: some drivers overflow exp in tanh
    case 3u: { r = 1.0 / (1.0 + exp(-v)); }
    default: { r = v * u.alpha; }
  }
  y[idx] = ${h.st('r')};
}`); };

// s is the saved tensor: x for relu/leaky, y for tanh/sigmoid, unused for scale.
const unaryBwd = (T: Elem, half = false) => { const h = storage(T, half); return kernel(`unary_bwd${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
struct P { n: u32, op: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> dy: array<${h.S}>;
@group(0) @binding(1) var<storage, read> s: array<${h.S}>;
@group(0) @binding(2) var<storage, read_write> dx: array<${h.S}>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  let g = ${h.ld('dy[idx]')};
  let v = ${h.ld('s[idx]')};
  let z = ${T}(0.0);
  var r: ${T};
  switch u.op {
    case 0u: { r = select(z, g, v > z); }
    case 1u: { r = select(g * u.alpha, g, v > z); }
    case 2u: { r = g * (1.0 - v * v); }
    case 3u: { r = g * v * (1.0 - v); }
    default: { r = g * u.alpha; }
  }
  dx[idx] = ${h.st('r')};
}`); };
/** Kernels by element and storage: [f32 storage, f16 storage]. */
const UNARY_FWD = { f32: [unaryFwd('f32'), unaryFwd('f32', true)], vec4f: [unaryFwd('vec4f'), unaryFwd('vec4f', true)] };
const UNARY_BWD = { f32: [unaryBwd('f32'), unaryBwd('f32', true)], vec4f: [unaryBwd('vec4f'), unaryBwd('vec4f', true)] };
function unaryRaw(x: Tensor, op: U, alpha: number, label: string): Tensor {
  const y = empty(x.shape, x.dtype, label);
  const [T, n] = vecOf(x.size);
  run(UNARY_FWD[T][storeIdx(label, x)], { inputs: [x], outputs: [y], params: [n, op, f32(alpha)], threads: n });
  return y;
}

function unaryBwdRaw(dy: Tensor, s: Tensor, op: U, alpha: number, label: string): Tensor {
  const dx = empty(dy.shape, dy.dtype, label);
  const [T, n] = vecOf(dy.size);
  run(UNARY_BWD[T][storeIdx(label, dy, s)], { inputs: [dy, s], outputs: [dx], params: [n, op, f32(alpha)], threads: n });
  return dx;
}

function makeUnary(name: string, op: U, saveOutput: boolean) {
  return defineOp<[Tensor, number], number>(name, {
    half: 'same',
    forward(ctx, x, alpha) {
      const y = unaryRaw(x, op, alpha, name);
      ctx.state = alpha;
      if (op !== U.Scale) ctx.save(saveOutput ? y : x);
      return y;
    },
    backward(ctx, dy) {
      return [unaryBwdRaw(dy, ctx.saved[0] ?? dy, op, ctx.state, `${name}_grad`)];
    },
  });
}

/** dy where s > 0, else 0 (raw, no autograd): the backward of a ReLU fused into another op, s its output. */
export const reluMask = (dy: Tensor, s: Tensor): Tensor => unaryBwdRaw(dy, s, U.Relu, 0, 'relu_grad');

const reluOp = makeUnary('relu', U.Relu, false);
const leakyOp = makeUnary('leakyRelu', U.Leaky, false);
const tanhOp = makeUnary('tanh', U.Tanh, true);
const sigmoidOp = makeUnary('sigmoid', U.Sigmoid, true);
const scaleOp = makeUnary('scale', U.Scale, false);

export const relu = (x: Tensor): Tensor => reluOp(x, 0);
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => leakyOp(x, slope);
export const tanh = (x: Tensor): Tensor => tanhOp(x, 0);
export const sigmoid = (x: Tensor): Tensor => sigmoidOp(x, 0);
/** y = alpha · x */
export const scale = (x: Tensor, alpha: number): Tensor => scaleOp(x, alpha);

const enum B { Add = 0, Sub = 1, Mul = 2, AddRelu = 3 }

/** The broadcasting kernels' operation: B.Add, B.Sub, else B.Mul. */
const BINARY_OP = /* wgsl */ `
fn binary(op: u32, va: f32, vb: f32) -> f32 {
  switch op {
    case 0u: { return va + vb; }
    case 1u: { return va - vb; }
    default: { return va * vb; }
  }
}`;

const BINARY_FWD = kernel('binary_fwd', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, op: u32, rank: u32, p0: u32,
           shape: array<vec4u, 2>, sa: array<vec4u, 2>, sb: array<vec4u, 2> }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
${BINARY_OP}
${MAIN_1D}
  if (idx >= u.n) { return; }
  var rem = idx;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {   // unravel idx over the output shape
    let k = u32(d);
    let c = rem % ${at('shape', 'k')};
    rem = rem / ${at('shape', 'k')};
    ia += c * ${at('sa', 'k')};
    ib += c * ${at('sb', 'k')};
  }
  y[idx] = binary(u.op, a[ia], b[ib]);
}`);

// Broadcasts whose shape collapses to at most 3 dimensions [outer, mid, row] (per-channel scales,
// row biases, [N,C,HW]·[N,1,HW]): a workgroup takes a chunk of one row, so the row's outer and mid
// indices are found once per workgroup, not by dividing each element's index (lavapipe divides one
// lane at a time; the generic kernel above did 2·rank divisions per element: NOTES §38).
const BINARY_ROWS_PER = 4;   // values per invocation and chunk
const BINARY_ROWS = kernel('binary_rows', /* wgsl */ `
override WG: u32 = 64;
struct P { mid: u32, len: u32, blocks: u32, op: u32, sa: vec3u, rows: u32, sb: vec3u, p1: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
${BINARY_OP}
${MAIN_PER_GROUP}
  let row = o / u.blocks;
  if (row >= u.rows) { return; }
  let outer = row / u.mid;
  let mid = row % u.mid;
  let a0 = outer * u.sa.x + mid * u.sa.y;
  let b0 = outer * u.sb.x + mid * u.sb.y;
  let start = (o % u.blocks) * WG * ${BINARY_ROWS_PER}u;
  let end = min(u.len, start + WG * ${BINARY_ROWS_PER}u);
  for (var i = start + lid; i < end; i += WG) {
    y[row * u.len + i] = binary(u.op, a[a0 + i * u.sa.z], b[b0 + i * u.sb.z]);
  }
}`);

/**
 * The output shape and both inputs' strides with size-1 dimensions dropped and neighbours merged
 * where both inputs step through them as one (contiguous, or both broadcast).
 */
export function collapseBroadcast(shape: readonly number[], sa: readonly number[], sb: readonly number[]): { shape: number[]; sa: number[]; sb: number[] } {
  const out = { shape: [] as number[], sa: [] as number[], sb: [] as number[] };
  shape.forEach((d, i) => {
    if (d === 1) return;
    const k = out.shape.length - 1;
    if (k >= 0 && out.sa[k] === sa[i] * d && out.sb[k] === sb[i] * d) {
      out.shape[k] *= d; out.sa[k] = sa[i]; out.sb[k] = sb[i];
    } else {
      out.shape.push(d); out.sa.push(sa[i]); out.sb.push(sb[i]);
    }
  });
  return out;
}

// Same shapes, size a multiple of 4 (residual adds, feedback differences): no index unravelling, vec4.
// (and the one binary kernel with an f16-storage variant: add and addRelu on f16 activations)
const binarySameVec4 = (half: boolean) => { const h = storage('vec4f', half); return kernel(`binary_same${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
struct P { n: u32, op: u32 }
@group(0) @binding(0) var<storage, read> a: array<${h.S}>;
@group(0) @binding(1) var<storage, read> b: array<${h.S}>;
@group(0) @binding(2) var<storage, read_write> y: array<${h.S}>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  let va = ${h.ld('a[idx]')};
  let vb = ${h.ld('b[idx]')};
  switch u.op {
    case 0u: { y[idx] = ${h.st('va + vb')}; }
    case 1u: { y[idx] = ${h.st('va - vb')}; }
    case 3u: { y[idx] = ${h.st('max(va + vb, vec4f(0.0))')}; }
    default: { y[idx] = ${h.st('va * vb')}; }
  }
}`); };
const BINARY_SAME_VEC4 = [binarySameVec4(false), binarySameVec4(true)];

function binaryRaw(name: string, a: Tensor, b: Tensor, op: B): Tensor {
  if (a.dtype === 'f16' && b.dtype === 'f16' && sameShape(a.shape, b.shape) && a.size % 4 === 0) {
    const y = empty(a.shape, 'f16', name);
    run(BINARY_SAME_VEC4[1], { inputs: [a, b], outputs: [y], params: [a.size / 4, op], threads: a.size / 4 });
    return y;
  }
  assertDType(name, a, 'f32', 'a');
  assertDType(name, b, 'f32', 'b');
  const shape = broadcastShapes(name, a.shape, b.shape);
  if (shape.length > 6) throw new Error(`${name}: rank ${shape.length} above the supported 6`);
  const y = empty(shape, 'f32', name);
  const n = y.size;
  if (a.size === n && b.size === n && n % 4 === 0) {
    run(BINARY_SAME_VEC4[0], { inputs: [a, b], outputs: [y], params: [n / 4, op], threads: n / 4 });
    return y;
  }
  const c = collapseBroadcast(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  if (c.shape.length <= 3) {
    const pad = 3 - c.shape.length;
    const [outer, mid, len] = [...Array(pad).fill(1), ...c.shape];
    const [sa, sb] = [c.sa, c.sb].map((st) => [...Array(pad).fill(0), ...st]);
    const blocks = Math.ceil(len / (64 * BINARY_ROWS_PER));
    run(BINARY_ROWS, { inputs: [a, b], outputs: [y], params: [mid, len, blocks, op, ...sa, outer * mid, ...sb, 0], groups: outer * mid * blocks });
    return y;
  }
  run(BINARY_FWD, {
    inputs: [a, b], outputs: [y], threads: n,
    params: [n, op, shape.length, 0, ...slots8(shape, 1), ...slots8(broadcastStrides(a.shape, shape)),
      ...slots8(broadcastStrides(b.shape, shape))],
  });
  return y;
}

const addDef = (half: boolean) => defineOp<[Tensor, Tensor]>('add', {
  half: half ? 'same' : undefined, activations: 2,
  forward(ctx, a, b) {
    ctx.state = undefined;
    ctx.save(a, b);
    return binaryRaw('add', a, b, B.Add);
  },
  backward(ctx, dy) {
    const [a, b] = ctx.saved;
    return [ctx.needsGrad[0] ? sumTo(dy, a.shape) : null, ctx.needsGrad[1] ? sumTo(dy, b.shape) : null];
  },
});
// f32, and f16 activations of one shape and a size that is a multiple of 4 (no broadcast: its gradient is a view)
const addOp = addDef(false), addOpHalf = addDef(true);

const subOp = defineOp<[Tensor, Tensor]>('sub', {
  forward(ctx, a, b) {
    ctx.save(a, b);
    return binaryRaw('sub', a, b, B.Sub);
  },
  backward(ctx, dy) {
    const [a, b] = ctx.saved;
    return [ctx.needsGrad[0] ? sumTo(dy, a.shape) : null, ctx.needsGrad[1] ? sumTo(dy, b.shape, -1) : null];
  },
});

const mulOp = defineOp<[Tensor, Tensor]>('mul', {
  forward(ctx, a, b) {
    ctx.save(a, b);
    return binaryRaw('mul', a, b, B.Mul);
  },
  backward(ctx, dy) {
    const [a, b] = ctx.saved;
    const grad = (other: Tensor, self: Tensor) => {
      const t = binaryRaw('mul_grad', dy, other, B.Mul);
      const g = sumTo(t, self.shape);
      t.dispose();
      return g;
    };
    return [ctx.needsGrad[0] ? grad(b, a) : null, ctx.needsGrad[1] ? grad(a, b) : null];
  },
});

// relu(a + b) for same-shape a, b whose size is a multiple of 4 (ERFNet's residual joins): one
// dispatch forward, and backward one relu mask on the saved output, shared by both inputs (§26).
// When the output fed two consumers (the next block's conv and its residual join), the mask pass
// adds their two gradients as it reads them (backwardSum; bench/NOTES.md §47).
const addReluBwd = (half: boolean) => { const h = storage('vec4f', half); return kernel(`add_relu_bwd${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> da: array<${h.S}>;
@group(0) @binding(1) var<storage, read> db: array<${h.S}>;
@group(0) @binding(2) var<storage, read> y: array<${h.S}>;
@group(0) @binding(3) var<storage, read_write> dx: array<${h.S}>;
@group(0) @binding(4) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  dx[idx] = ${h.st(`select(vec4f(0.0), ${h.ld('da[idx]')} + ${h.ld('db[idx]')}, ${h.ld('y[idx]')} > vec4f(0.0))`)};
}`); };
const ADD_RELU_BWD = [addReluBwd(false), addReluBwd(true)];
/** Both inputs' gradient: one tensor, shared by views. */
const sharedGrad = (needsGrad: readonly boolean[], d: Tensor): (Tensor | null)[] => {
  const ga = needsGrad[0] ? d.view(d.shape) : null, gb = needsGrad[1] ? d.view(d.shape) : null;
  d.dispose();
  return [ga, gb];
};
const addReluOp = defineOp<[Tensor, Tensor]>('addRelu', {
  half: 'same', activations: 2,
  forward(ctx, a, b) {
    const y = binaryRaw('addRelu', a, b, B.AddRelu);
    ctx.save(y);
    return y;
  },
  backward(ctx, dy) {
    const [y] = ctx.saved;
    const d = empty(dy.shape, dy.dtype, 'addRelu_grad');
    run(UNARY_BWD.vec4f[storeIdx('addRelu', dy, y)], { inputs: [dy, y], outputs: [d], params: [dy.size / 4, U.Relu, f32(0)], threads: dy.size / 4 });
    return sharedGrad(ctx.needsGrad, d);
  },
  backwardSum(ctx, da, db) {
    const [y] = ctx.saved;
    const d = empty(da.shape, da.dtype, 'addRelu_grad');
    run(ADD_RELU_BWD[storeIdx('addRelu', da, db, y)], { inputs: [da, db, y], outputs: [d], params: [da.size / 4], threads: da.size / 4 });
    return sharedGrad(ctx.needsGrad, d);
  },
});

/** a + b with broadcasting. */
export const add = (a: Tensor, b: Tensor): Tensor =>
  ((a.dtype === 'f16' || b.dtype === 'f16') && sameShape(a.shape, b.shape) && a.size % 4 === 0 ? addOpHalf(a, b) : addOp(a, b));
/** relu(a + b): one fused op when a and b have the same shape and a size that is a multiple of 4. */
export const addRelu = (a: Tensor, b: Tensor): Tensor =>
  (sameShape(a.shape, b.shape) && a.size % 4 === 0 ? addReluOp(a, b) : relu(add(a, b)));
/** a − b with broadcasting. */
export const sub = (a: Tensor, b: Tensor): Tensor => subOp(a, b);
/** a · b (element-wise) with broadcasting. */
export const mul = (a: Tensor, b: Tensor): Tensor => mulOp(a, b);
