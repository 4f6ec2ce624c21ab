// Fused optimizer steps, updating parameters and state in place (PyTorch semantics).
// SGD: d = g + wd·p; buf = momentum·buf + (1−dampening)·d (buf = d on the first step);
//      d = nesterov ? d + momentum·buf : buf; p −= lr·d.
// Adam: g' = g + wd·p (L2) or p ·= 1 − lr·wd (decoupled, AdamW); m = β1·m + (1−β1)·g';
//       v = β2·v + (1−β2)·g'²; p −= lr/bc1 · m / (√v/√bc2 + eps).
import { f32 } from '../engine/params.js';
import type { Tensor } from '../engine/tensor.js';
import { notFinite } from './finite.js';
import { type Elem, MAIN_1D, elemSuffix, kernel, run, vecOf } from './wgsl.js';

// Both come as f32 and, for sizes that are a multiple of 4, as vec4f (bench/NOTES.md §10, §24).
// Every kernel watches the values it writes to p: if one is not finite, flag[0] is lowered to the
// uniform `tag` (the optimizer's step), so a diverging run is caught without a read-back per step.
// skip[0] non-zero skips the step (an overflow under loss scaling, amp.ts); it stays 0 otherwise. A
// plain read-only load of one address, not an atomic one (which cost the f32 step 5% on lavapipe).

/** Stores w into p[idx] and flags the step if it is not finite. */
const STORE_P = (w: string) => /* wgsl */ `
  let np = ${w};
  p[idx] = np;
  if (not_finite(np)) { atomicMin(&flag[0], u.tag); }`;

/** SGD's update of p (and buf) at idx from g; `first`: a WGSL condition, true on the buffer's first step. */
const sgdUpdate = (first: string) => /* wgsl */ `
  var d = g[idx] + u.wd * p[idx];
  if (u.has_momentum != 0u) {
    var b = d;
    if (!(${first})) { b = u.momentum * buf[idx] + (1.0 - u.dampening) * d; }
    buf[idx] = b;
    d = select(b, d + u.momentum * b, u.nesterov != 0u);
  }${STORE_P('p[idx] - u.lr * d')}`;

const sgdStepKernel = (T: Elem) => kernel(`sgd_step${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, first: u32, nesterov: u32, has_momentum: u32, lr: f32, momentum: f32, dampening: f32, wd: f32, tag: u32 }
@group(0) @binding(0) var<storage, read> g: array<${T}>;
@group(0) @binding(1) var<storage, read> skip: array<u32>;        // 1: this step is skipped (loss scaling, amp.ts)
@group(0) @binding(2) var<storage, read_write> p: array<${T}>;
@group(0) @binding(3) var<storage, read_write> buf: array<${T}>;
@group(0) @binding(4) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> u: P;
${notFinite(T)}
${MAIN_1D}
  if (idx >= u.n || skip[0] != 0u) { return; }
${sgdUpdate('u.first != 0u')}
}`);
const SGD_STEP = { f32: sgdStepKernel('f32'), vec4f: sgdStepKernel('vec4f') };

/** Adam's update of p, m, v at idx from g (uniforms decoupled, lr, wd, beta1, beta2, eps); bias corrections as WGSL expressions. */
const adamUpdate = (lrOverBc1: string, sqrtBc2: string) => /* wgsl */ `
  var w = p[idx];
  var gi = g[idx];
  if (u.decoupled != 0u) { w *= 1.0 - u.lr * u.wd; } else { gi += u.wd * w; }
  let mi = u.beta1 * m[idx] + (1.0 - u.beta1) * gi;
  let vi = u.beta2 * v[idx] + (1.0 - u.beta2) * gi * gi;
  m[idx] = mi;
  v[idx] = vi;${STORE_P(`w - ${lrOverBc1} * mi / (sqrt(vi) / ${sqrtBc2} + u.eps)`)}`;

const adamStepKernel = (T: Elem) => kernel(`adam_step${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, decoupled: u32, tag: u32, p1: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32,
           bc1: f32, bc2: f32 }
@group(0) @binding(0) var<storage, read> g: array<${T}>;
@group(0) @binding(1) var<storage, read> skip: array<u32>;        // 1: this step is skipped (loss scaling, amp.ts)
@group(0) @binding(2) var<storage, read_write> p: array<${T}>;
@group(0) @binding(3) var<storage, read_write> m: array<${T}>;
@group(0) @binding(4) var<storage, read_write> v: array<${T}>;
@group(0) @binding(5) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(6) var<uniform> u: P;
${notFinite(T)}
${MAIN_1D}
  if (idx >= u.n || skip[0] != 0u) { return; }
${adamUpdate('(u.lr / u.bc1)', 'sqrt(u.bc2)')}
}`);
const ADAM_STEP = { f32: adamStepKernel('f32'), vec4f: adamStepKernel('vec4f') };

export interface SgdHyper { lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean }

/** Where a step's kernels flag non-finite parameters: `flag` (u32 [1]) gets min(flag[0], tag); `skip` (u32 [1]) ≠ 0 skips the step. */
export interface FiniteWatch { flag: Tensor; tag: number; skip: Tensor }

export function sgdStep(p: Tensor, g: Tensor, buf: Tensor | null, first: boolean, h: SgdHyper, w: FiniteWatch): void {
  const [T, n] = vecOf(p.size);
  run(SGD_STEP[T], {
    inputs: [g, w.skip], outputs: [p, buf, w.flag], threads: n,
    params: [n, first ? 1 : 0, h.nesterov ? 1 : 0, buf ? 1 : 0, f32(h.lr), f32(h.momentum), f32(h.dampening),
      f32(h.weightDecay), w.tag],
  });
}

export interface AdamHyper { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean }

export function adamStep(p: Tensor, g: Tensor, m: Tensor, v: Tensor, step: number, h: AdamHyper, w: FiniteWatch): void {
  const [T, n] = vecOf(p.size);
  run(ADAM_STEP[T], {
    inputs: [g, w.skip], outputs: [p, m, v, w.flag], threads: n,
    params: [n, h.decoupled ? 1 : 0, w.tag, 0, f32(h.lr), f32(h.beta1), f32(h.beta2), f32(h.eps), f32(h.weightDecay),
      f32(1 - h.beta1 ** step), f32(1 - h.beta2 ** step)],
  });
}

// Adam over a parameter arena (src/optim/arena.ts): the small parameters side by side, each from
// a block boundary. owner[block] names a block's parameter and coef[parameter] its step's
// (lr/bc1, √bc2, has-gradient), so per-parameter step counts and parameters without a gradient
// (skipped, as PyTorch does) still take one dispatch.
const ADAM_STEP_ARENA = kernel('adam_step_arena', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, decoupled: u32, block: u32, tag: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32 }
@group(0) @binding(0) var<storage, read> g: array<vec4f>;
@group(0) @binding(1) var<storage, read> owner: array<u32>;
@group(0) @binding(2) var<storage, read> coef: array<vec4f>;
@group(0) @binding(3) var<storage, read> skip: array<u32>;        // 1: this step is skipped (loss scaling, amp.ts)
@group(0) @binding(4) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> u: P;
${notFinite('vec4f')}
${MAIN_1D}
  if (idx >= u.n || skip[0] != 0u) { return; }
  let c = coef[owner[idx / u.block]];
  if (c.z == 0.0) { return; }
${adamUpdate('c.x', 'c.y')}
}`);

/**
 * One Adam step over an arena of `p.size` values in blocks of `block` values (a multiple of 4):
 * `owner` (u32 per block) and `coef` (vec4 per parameter: lr/bc1, √bc2, 1 if it has a gradient).
 */
export function adamStepArena(p: Tensor, g: Tensor, m: Tensor, v: Tensor, owner: Tensor, coef: Tensor, block: number,
  h: AdamHyper, w: FiniteWatch): void {
  if (block % 4 !== 0 || p.size % block !== 0) throw new Error(`adamStepArena: ${p.size} values in blocks of ${block}`);
  const n = p.size / 4;
  run(ADAM_STEP_ARENA, {
    inputs: [g, owner, coef, w.skip], outputs: [p, m, v, w.flag], threads: n,
    params: [n, h.decoupled ? 1 : 0, block / 4, w.tag, f32(h.lr), f32(h.beta1), f32(h.beta2), f32(h.eps), f32(h.weightDecay)],
  });
}

// SGD over a parameter arena: coef[parameter] = (has gradient, first step of its momentum buffer).
const SGD_STEP_ARENA = kernel('sgd_step_arena', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, block: u32, nesterov: u32, has_momentum: u32, lr: f32, momentum: f32, dampening: f32, wd: f32, tag: u32 }
@group(0) @binding(0) var<storage, read> g: array<vec4f>;
@group(0) @binding(1) var<storage, read> owner: array<u32>;
@group(0) @binding(2) var<storage, read> coef: array<vec4f>;
@group(0) @binding(3) var<storage, read> skip: array<u32>;        // 1: this step is skipped (loss scaling, amp.ts)
@group(0) @binding(4) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> buf: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(7) var<uniform> u: P;
${notFinite('vec4f')}
${MAIN_1D}
  if (idx >= u.n || skip[0] != 0u) { return; }
  let c = coef[owner[idx / u.block]];
  if (c.x == 0.0) { return; }
${sgdUpdate('c.y != 0.0')}
}`);

/** One SGD step over an arena (see adamStepArena); `buf` null without momentum; coef per parameter: (has gradient, first step). */
export function sgdStepArena(p: Tensor, g: Tensor, buf: Tensor | null, owner: Tensor, coef: Tensor, block: number, h: SgdHyper,
  w: FiniteWatch): void {
  if (block % 4 !== 0 || p.size % block !== 0) throw new Error(`sgdStepArena: ${p.size} values in blocks of ${block}`);
  const n = p.size / 4;
  run(SGD_STEP_ARENA, {
    inputs: [g, owner, coef, w.skip], outputs: [p, buf, w.flag], threads: n,
    params: [n, block / 4, h.nesterov ? 1 : 0, buf ? 1 : 0, f32(h.lr), f32(h.momentum), f32(h.dampening), f32(h.weightDecay), w.tag],
  });
}

// RMSProp (torch.optim.RMSprop): g' = g + wd·p; v = α·v + (1−α)·g'²; d = g' / (√v + eps), or with
// eps_inside (TensorFlow's RMSPropOptimizer) g' / √(v + eps); with momentum buf = μ·buf + d, d = buf;
// p −= lr·d. TensorFlow also starts v at 1 instead of 0 (the optimizer's slot initialisation).
const rmspropUpdate = /* wgsl */ `
  let w = p[idx];
  let gi = g[idx] + u.wd * w;
  let vi = u.alpha * v[idx] + (1.0 - u.alpha) * gi * gi;
  v[idx] = vi;
  var d = gi / select(sqrt(vi) + u.eps, sqrt(vi + u.eps), u.eps_inside != 0u);
  if (u.has_momentum != 0u) { d = u.momentum * buf[idx] + d; buf[idx] = d; }${STORE_P('w - u.lr * d')}`;

const RMSPROP_FIELDS = 'n: u32, has_momentum: u32, eps_inside: u32, tag: u32, lr: f32, alpha: f32, eps: f32, wd: f32, momentum: f32';

const rmspropStepKernel = (T: Elem) => kernel(`rmsprop_step${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { ${RMSPROP_FIELDS} }
@group(0) @binding(0) var<storage, read> g: array<${T}>;
@group(0) @binding(1) var<storage, read> skip: array<u32>;        // 1: this step is skipped (loss scaling, amp.ts)
@group(0) @binding(2) var<storage, read_write> p: array<${T}>;
@group(0) @binding(3) var<storage, read_write> v: array<${T}>;
@group(0) @binding(4) var<storage, read_write> buf: array<${T}>;
@group(0) @binding(5) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(6) var<uniform> u: P;
${notFinite(T)}
${MAIN_1D}
  if (idx >= u.n || skip[0] != 0u) { return; }
${rmspropUpdate}
}`);
const RMSPROP_STEP = { f32: rmspropStepKernel('f32'), vec4f: rmspropStepKernel('vec4f') };

export interface RmspropHyper { lr: number; alpha: number; eps: number; weightDecay: number; momentum: number; epsInside: boolean }

const rmspropParams = (n: number, h: RmspropHyper, hasBuf: boolean, w: FiniteWatch) =>
  [n, hasBuf ? 1 : 0, h.epsInside ? 1 : 0, w.tag, f32(h.lr), f32(h.alpha), f32(h.eps), f32(h.weightDecay), f32(h.momentum)];

/** One RMSProp step of p from g; `v` the square average, `buf` the momentum buffer (null without momentum). */
export function rmspropStep(p: Tensor, g: Tensor, v: Tensor, buf: Tensor | null, h: RmspropHyper, w: FiniteWatch): void {
  const [T, n] = vecOf(p.size);
  run(RMSPROP_STEP[T], { inputs: [g, w.skip], outputs: [p, v, buf, w.flag], threads: n, params: rmspropParams(n, h, buf !== null, w) });
}

// RMSProp over a parameter arena: coef[parameter].x = 1 if it has a gradient.
const RMSPROP_STEP_ARENA = kernel('rmsprop_step_arena', /* wgsl */ `
override WG: u32 = 64;
struct P { ${RMSPROP_FIELDS}, block: u32 }
@group(0) @binding(0) var<storage, read> g: array<vec4f>;
@group(0) @binding(1) var<storage, read> owner: array<u32>;
@group(0) @binding(2) var<storage, read> coef: array<vec4f>;
@group(0) @binding(3) var<storage, read> skip: array<u32>;        // 1: this step is skipped (loss scaling, amp.ts)
@group(0) @binding(4) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> buf: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> u: P;
${notFinite('vec4f')}
${MAIN_1D}
  if (idx >= u.n || skip[0] != 0u) { return; }
  if (coef[owner[idx / u.block]].x == 0.0) { return; }
${rmspropUpdate}
}`);

/** One RMSProp step over an arena (see adamStepArena); coef per parameter: (has gradient). */
export function rmspropStepArena(p: Tensor, g: Tensor, v: Tensor, buf: Tensor | null, owner: Tensor, coef: Tensor, block: number,
  h: RmspropHyper, w: FiniteWatch): void {
  if (block % 4 !== 0 || p.size % block !== 0) throw new Error(`rmspropStepArena: ${p.size} values in blocks of ${block}`);
  const n = p.size / 4;
  run(RMSPROP_STEP_ARENA, {
    inputs: [g, owner, coef, w.skip], outputs: [p, v, buf, w.flag], threads: n, params: [...rmspropParams(n, h, buf !== null, w), block / 4],
  });
}
