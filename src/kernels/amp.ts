// Dynamic loss scaling for f16 GEMM operands (src/optim/loss-scaler.ts), all on the GPU so a step
// needs no read-back. The scaler's state is f32 [4]: scale, steps since the last overflow, found
// (1 if some optimizer of this step saw a non-finite gradient), steps skipped so far. Each
// optimizer's watch flag (optim.ts) has a second u32, its skip flag, which `ampUnscale` raises and
// its step kernels obey (they return at once, so a skipped step leaves parameters and state as they were).
import { f32 } from '../engine/params.js';
import type { Tensor } from '../engine/tensor.js';
import { notFinite } from './finite.js';
import { type Elem, MAIN_1D, elemSuffix, kernel, run, vecOf } from './wgsl.js';

const STATE = '@group(0) @binding(0) var<storage, read_write> s: array<f32>;';

const BEGIN = kernel('amp_begin', /* wgsl */ `
override WG: u32 = 1;
@group(0) @binding(0) var<storage, read_write> flag: array<atomic<u32>>;
@compute @workgroup_size(1)
fn main() { atomicStore(&flag[1], 0u); }`);

const unscaleKernel = (T: Elem) => kernel(`amp_unscale${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<${T}>;
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> u: P;
${notFinite(T)}
${MAIN_1D}
  if (idx >= u.n) { return; }
  let v = g[idx] * (1.0 / s[0]);
  g[idx] = v;
  if (not_finite(v)) { atomicMax(&flag[1], 1u); }
}`);
const UNSCALE = { f32: unscaleKernel('f32'), vec4f: unscaleKernel('vec4f') };

const COLLECT = kernel('amp_collect', /* wgsl */ `
override WG: u32 = 1;
@group(0) @binding(0) var<storage, read_write> flag: array<atomic<u32>>;
${STATE.replace('binding(0)', 'binding(1)')}
@compute @workgroup_size(1)
fn main() { if (atomicLoad(&flag[1]) != 0u) { s[2] = 1.0; } }`);

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

/** flag[1] = 0: this step of the optimizer owning `flag` may update, until a non-finite gradient says otherwise. */
export function ampBegin(flag: Tensor): void { run(BEGIN, { outputs: [flag], groups: 1 }); }

/** g /= scale in place; a non-finite result raises flag[1] (the optimizer's skip flag). */
export function ampUnscale(state: Tensor, g: Tensor, flag: Tensor): void {
  const [T, n] = vecOf(g.size);
  run(UNSCALE[T], { inputs: [state], outputs: [g, flag], params: [n], threads: n });
}

/** state.found = 1 if the optimizer owning `flag` skipped this step. */
export function ampCollect(flag: Tensor, state: Tensor): void { run(COLLECT, { outputs: [flag, state], groups: 1 }); }

/** After a step's optimizers: back off the scale and count a skip if any found an overflow, else grow it every `interval` good steps. */
export function ampUpdate(state: Tensor, interval: number, backoff: number, growth: number): void {
  run(UPDATE, { outputs: [state], params: [f32(interval), f32(backoff), f32(growth), f32(0)], groups: 1 });
}

/** y (of `size` values) filled with the current scale: the loss's seed gradient for backward. */
export function ampSeed(state: Tensor, y: Tensor): void {
  run(SEED, { inputs: [state], outputs: [y], params: [y.size], threads: y.size });
}
