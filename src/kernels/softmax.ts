// softmax / log_softmax over axis 1 (classes) of [N, C, …]: one invocation per (n, position).
// Backward: softmax dx = y·(dy − Σ_c dy·y); log_softmax dx = dy − exp(y)·Σ_c dy.
import { defineOp } from '../engine/autograd.js';
import { numel } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

const SOFTMAX_FWD = kernel('softmax_fwd', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, c: u32, inner: u32, log: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n * u.inner) { return; }
  let base = (idx / u.inner) * u.c * u.inner + idx % u.inner;   // element (n, c) at base + c·inner
  var m = x[base];
  for (var c = 1u; c < u.c; c++) { m = max(m, x[base + c * u.inner]); }
  var s = 0.0;
  for (var c = 0u; c < u.c; c++) { s += exp(x[base + c * u.inner] - m); }
  let lse = m + log(s);
  for (var c = 0u; c < u.c; c++) {
    let v = x[base + c * u.inner] - lse;
    y[base + c * u.inner] = select(exp(v), v, u.log != 0u);
  }
}`);

const SOFTMAX_BWD = kernel('softmax_bwd', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, c: u32, inner: u32, log: u32 }
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n * u.inner) { return; }
  let base = (idx / u.inner) * u.c * u.inner + idx % u.inner;
  var s = 0.0;
  for (var c = 0u; c < u.c; c++) {
    let j = base + c * u.inner;
    s += select(dy[j] * y[j], dy[j], u.log != 0u);
  }
  for (var c = 0u; c < u.c; c++) {
    let j = base + c * u.inner;
    dx[j] = select(y[j] * (dy[j] - s), dy[j] - exp(y[j]) * s, u.log != 0u);
  }
}`);

const softmaxOp = defineOp<[Tensor, boolean], number[]>('softmax', {
  forward(ctx, x, log) {
    assertDType(log ? 'log_softmax' : 'softmax', x, 'f32');
    if (x.rank < 2) throw new Error(`${log ? 'log_softmax' : 'softmax'}: x needs a class axis 1, got ${x.describe()}`);
    const p = [x.shape[0], x.shape[1], numel(x.shape.slice(2)), log ? 1 : 0];
    const y = empty(x.shape, 'f32', log ? 'log_softmax' : 'softmax');
    run(SOFTMAX_FWD, { inputs: [x], outputs: [y], params: p, threads: p[0] * p[2] });
    ctx.state = p;
    ctx.save(y);
    return y;
  },
  backward(ctx, dy) {
    const p = ctx.state;
    const dx = empty(dy.shape, 'f32', 'softmax_grad');
    run(SOFTMAX_BWD, { inputs: [dy, ctx.saved[0]], outputs: [dx], params: p, threads: p[0] * p[2] });
    return [dx];
  },
});

/** Softmax over axis 1 (classes of NCHW logits). */
export const softmax = (x: Tensor): Tensor => softmaxOp(x, false);
/** Log-softmax over axis 1, computed stably via log-sum-exp. */
export const logSoftmax = (x: Tensor): Tensor => softmaxOp(x, true);
