// Dynamic loss scaling for f16 GEMM operands (src/optim/loss-scaler.ts), all on the GPU so a step
// needs no read-back. The scaler's state is f32 [4]: scale, steps since the last overflow, found
// (1 if some optimizer of this step saw a non-finite gradient), steps skipped so far. Each
// optimizer has a skip flag (u32 [1], its FiniteWatch.skip) that `ampUnscaleAll` raises and its
// step kernels obey (they return at once, so a skipped step leaves parameters and state as they were).
import { f32 } from '../engine/params.js';
import type { Tensor } from '../engine/tensor.js';
import { notFinite } from './finite.js';
import { MAIN_1D, MAIN_PER_GROUP, at, kernel, run } from './wgsl.js';

const STATE = '@group(0) @binding(0) var<storage, read_write> s: array<f32>;';

const BEGIN = kernel('amp_begin', /* wgsl */ `
override WG: u32 = 1;
@group(0) @binding(0) var<storage, read_write> skip: array<u32>;
@compute @workgroup_size(1)
fn main() { skip[0] = 0u; }`);

// Several gradients in one launch (up to UNSCALE_MAX, one binding each: with the state and the flag,
// the 8 storage bindings every kernel stays within): workgroups are dealt to the tensors in order,
// u.start[i] being tensor i's first, so a step's ~70 separate gradients take ~12 launches, not 70.
export const UNSCALE_MAX = 6;
const unscaleMulti = (k: number) => kernel(`amp_unscale_x${k}`, /* wgsl */ `
override WG: u32 = 64;
struct P { n: array<vec4u, 2>, start: array<vec4u, 2> }
@group(0) @binding(0) var<storage, read> s: array<f32>;
${Array.from({ length: k }, (_, i) => `@group(0) @binding(${i + 1}) var<storage, read_write> g${i}: array<f32>;`).join('\n')}
@group(0) @binding(${k + 1}) var<storage, read_write> skip: array<atomic<u32>>;
@group(0) @binding(${k + 2}) var<uniform> u: P;
${notFinite('f32')}
${MAIN_PER_GROUP}
  var i = 0u;
  for (var j = 1u; j < ${k}u; j++) { if (o >= ${at('start', 'j')}) { i = j; } }
  let idx = (o - ${at('start', 'i')}) * WG + lid;
  if (idx >= ${at('n', 'i')}) { return; }
  let inv = 1.0 / s[0];
  var v = 0.0;
  switch i {
    ${Array.from({ length: k }, (_, i) => `case ${i}u: { v = g${i}[idx] * inv; g${i}[idx] = v; }`).join('\n    ')}
    default: {}
  }
  if (not_finite(v)) { atomicMax(&skip[0], 1u); }
}`);
const UNSCALE_MULTI = Array.from({ length: UNSCALE_MAX + 1 }, (_, k) => (k ? unscaleMulti(k) : null));

const COLLECT = kernel('amp_collect', /* wgsl */ `
override WG: u32 = 1;
@group(0) @binding(0) var<storage, read_write> skip: array<u32>;
${STATE.replace('binding(0)', 'binding(1)')}
@compute @workgroup_size(1)
fn main() { if (skip[0] != 0u) { s[2] = 1.0; } }`);

const UPDATE = kernel('amp_update', /* wgsl */ `
override WG: u32 = 1;
struct P { growth_interval: f32, backoff: f32, growth: f32, pad: f32 }
${STATE}
@group(0) @binding(1) var<uniform> u: P;
@compute @workgroup_size(1)
fn main() {
  if (s[2] != 0.0) {
    s[0] = s[0] * u.backoff; s[1] = 0.0; s[3] = s[3] + 1.0;
  } else {
    s[1] = s[1] + 1.0;
    if (s[1] >= u.growth_interval) { s[0] = s[0] * u.growth; s[1] = 0.0; }
  }
  s[2] = 0.0;
}`);

const SEED = kernel('amp_seed', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  y[idx] = s[0];
}`);

/** skip = 0: this step of the optimizer owning `skip` may update, until a non-finite gradient says otherwise. */
export function ampBegin(skip: Tensor): void { run(BEGIN, { outputs: [skip], groups: 1 }); }

/** g /= scale in place for every gradient, UNSCALE_MAX a launch; a non-finite result raises the optimizer's skip flag. */
export function ampUnscaleAll(state: Tensor, grads: readonly Tensor[], skip: Tensor): void {
  for (let a = 0; a < grads.length; a += UNSCALE_MAX) {
    const part = grads.slice(a, a + UNSCALE_MAX);
    const n = part.map((g) => g.size), start: number[] = [];
    let groups = 0;
    for (const v of n) { start.push(groups); groups += Math.ceil(v / 64); }
    const pad = (xs: number[]) => [...xs, ...new Array(8 - xs.length).fill(0)];
    run(UNSCALE_MULTI[part.length]!, { inputs: [state], outputs: [...part, skip], params: [...pad(n), ...pad(start)], groups });
  }
}

/** state.found = 1 if the optimizer owning `skip` skipped this step. */
export function ampCollect(skip: Tensor, state: Tensor): void { run(COLLECT, { outputs: [skip, state], groups: 1 }); }

/** After a step's optimizers: back off the scale and count a skip if any found an overflow, else grow it every `interval` good steps. */
export function ampUpdate(state: Tensor, interval: number, backoff: number, growth: number): void {
  run(UPDATE, { outputs: [state], params: [f32(interval), f32(backoff), f32(growth), f32(0)], groups: 1 });
}

/** y (of `size` values) filled with the current scale: the loss's seed gradient for backward. */
export function ampSeed(state: Tensor, y: Tensor): void {
  run(SEED, { inputs: [state], outputs: [y], params: [y.size], threads: y.size });
}
