// Kernels the engine itself needs: filling buffers (zeros, ones, NaN poison) and adding
// gradients during accumulation. Every op kernel lives in src/kernels.
import type { Kernel } from './pipeline-cache.js';

/** Entry point shared by all 1-D kernels: a 2-D folded dispatch mapped to a flat index. */
export const MAIN_1D = /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.y * nwg.x + wid.x) * WG + lid;`;

/**
 * f32 → f16 for stores of f16 tensors: values beyond f16's range (and NaN) become ±inf, so an
 * overflow shows as a non-finite value (loss scaling); WGSL leaves the plain conversion undefined there.
 */
export const TO_H = /* wgsl */ `
fn to_h(v: f32) -> f16 {
  if (abs(v) <= 65504.0) { return f16(v); }
  return bitcast<vec2<f16>>(select(0xfc00fc00u, 0x7c007c00u, v > 0.0)).x;
}
fn to_h4(v: vec4f) -> vec4<f16> { return vec4<f16>(to_h(v.x), to_h(v.y), to_h(v.z), to_h(v.w)); }`;

export const FILL: Kernel = {
  name: 'fill',
  constants: { WG: 64 },
  wgsl: /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, bits: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<u32>;
@group(0) @binding(1) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  y[idx] = u.bits;
}`,
};

/**
 * y = a + b for gradient accumulation, on f32 or (sizes that are multiples of 4) vec4 quads; `half`:
 * on f16 gradients (mixed precision), summed in f32 and rounded as stored.
 */
const addSame = (T: 'f32' | 'vec4f', half = false): Kernel => {
  const S = half ? (T === 'f32' ? 'f16' : 'vec4<f16>') : T;
  return {
    name: `add_same${T === 'f32' ? '' : '_vec4'}${half ? '_f16' : ''}`,
    constants: { WG: 64 },
    wgsl: /* wgsl */ `${half ? 'enable f16;' : ''}
override WG: u32 = 64;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> a: array<${S}>;
@group(0) @binding(1) var<storage, read> b: array<${S}>;
@group(0) @binding(2) var<storage, read_write> y: array<${S}>;
@group(0) @binding(3) var<uniform> u: P;
${half ? TO_H : ''}
${MAIN_1D}
  if (idx >= u.n) { return; }
  y[idx] = ${half ? `${T === 'f32' ? 'to_h' : 'to_h4'}(${T}(a[idx]) + ${T}(b[idx]))` : 'a[idx] + b[idx]'};
}`,
  };
};
export const ADD_SAME = addSame('f32');
export const ADD_SAME_VEC4 = addSame('vec4f');
/** The same on f16 gradients: [scalar, vec4]. */
export const ADD_SAME_F16: readonly Kernel[] = [addSame('f32', true), addSame('vec4f', true)];

/** y += a on vec4 quads: a parameter arena adds its gradients' pending parts (src/optim/arena.ts). */
export const ADD_INTO_VEC4: Kernel = {
  name: 'add_into_vec4',
  constants: { WG: 64 },
  wgsl: /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  y[idx] = y[idx] + a[idx];
}`,
};
