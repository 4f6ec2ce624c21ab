// Shared WGSL snippets and the launch helper used by every op file.
import { type Engine, getEngine } from '../engine/engine.js';
import type { Param } from '../engine/params.js';
import type { Kernel } from '../engine/pipeline-cache.js';
import type { Tensor } from '../engine/tensor.js';

export { MAIN_1D } from '../engine/builtins.js';

/** Entry point for kernels that give one workgroup to each output element (reductions). */
export const MAIN_PER_GROUP = /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let o = wid.y * nwg.x + wid.x;`;

// Per-plane elementwise kernels (NCHW): each workgroup takes a chunk of one (b, c) plane, or
// several whole planes when a plane has fewer values than the workgroup has invocations (`span`
// lanes per plane), so the plane and channel are found once per invocation. lavapipe does a vector
// integer division one lane at a time, and a per-element (idx / hw) % c cost more than the
// arithmetic (bench/NOTES.md §23). Use with MAIN_PER_GROUP, WG = 64 and the uniform fields below;
// the body loops `for (var p = start + lid % u.span; p < end; p += u.span)` over plane offsets.
const PLANE_PER = 4;   // values (or quads) per invocation and chunk
export const PLANE_FIELDS = 'planes: u32, c: u32, hw: u32, span: u32, ppw: u32, blocks: u32';
export const PLANE_CHUNK = /* wgsl */ `
  let sub = lid / u.span;
  let plane = (o / u.blocks) * u.ppw + sub;
  if (sub >= u.ppw || plane >= u.planes) { return; }
  let c = plane % u.c;
  let start = (o % u.blocks) * u.span * ${PLANE_PER}u;
  let end = min(u.hw, start + u.span * ${PLANE_PER}u);
  let i0 = plane * u.hw;`;
/** Uniform values for PLANE_FIELDS ([planes, c, hw, span, ppw, blocks]) and the workgroup count, for n·c planes of hw elements. */
export function planeLayout(planes: number, c: number, hw: number): { params: number[]; groups: number } {
  const WG = 64;
  if (hw >= WG) {
    const blocks = Math.ceil(hw / (WG * PLANE_PER));
    return { params: [planes, c, hw, WG, 1, blocks], groups: planes * blocks };
  }
  const ppw = Math.floor(WG / hw);
  return { params: [planes, c, hw, hw, ppw, 1], groups: Math.ceil(planes / ppw) };
}

/** Workgroup tree reduction of `part[lid]` (WG a power of two); leaves the total in part[0]. */
export const TREE_SUM = /* wgsl */ `
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }`;

/** f32 atomic add as a compare-exchange loop on the bit pattern (WGSL has no float atomics). */
export const ATOMIC_ADD_F32 = /* wgsl */ `
fn atomic_add_f32(i: u32, v: f32) {
  var old = atomicLoad(&acc[i]);
  loop {
    let r = atomicCompareExchangeWeak(&acc[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`;

/** Integer hash (lowbias32) for counter-based random streams; `dropKeep` mirrors it on the host. */
export const HASH_U32 = /* wgsl */ `
fn mix(a: u32) -> u32 {
  var v = a;
  v ^= v >> 16u; v *= 0x7feb352du;
  v ^= v >> 15u; v *= 0x846ca68bu;
  v ^= v >> 16u;
  return v;
}`;

/**
 * Dropout2d's draw for one (b, c) plane: `scale` where the plane is kept (r ≥ p, r uniform in [0, 1)
 * from the hash of seed and plane), else 0. `dropKeep` (dropout.ts) mirrors it on the host.
 */
export const DROP_FACTOR = /* wgsl */ `${HASH_U32}
fn drop_factor(seed: u32, plane: u32, p: f32, scale: f32) -> f32 {
  let r = f32(mix(mix(seed) ^ plane) >> 8u) * (1.0 / 16777216.0);   // uniform in [0,1)
  return select(0.0, scale, r >= p);
}`;

/** Reads slot k of an `array<vec4u, 2>` uniform field (rank ≤ 6 shapes and strides). */
export const at = (field: string, k: string) => `u.${field}[(${k}) / 4u][(${k}) % 4u]`;

export interface Run {
  inputs?: readonly Tensor[];
  /** null binds the engine's scratch buffer (an unused optional operand). */
  outputs: readonly (Tensor | null)[];
  params?: readonly Param[];
  threads?: number;
  groups?: number;
}

export function run(kernel: Kernel, r: Run): Engine {
  const e = getEngine();
  e.launch(kernel, {
    inputs: (r.inputs ?? []).map((t) => t.binding),
    outputs: r.outputs.map((t) => t?.binding ?? e.scratch),
    params: r.params, threads: r.threads, groups: r.groups,
  });
  return e;
}

/** Element type of the vec4 kernel variants (bench/NOTES.md §10). */
export type Elem = 'f32' | 'vec4f';
/** Kernel-name suffix and values per element of a variant. */
export const elemSuffix = (T: Elem): string => (T === 'f32' ? '' : '_vec4');
export const elemWidth = (T: Elem): number => (T === 'f32' ? 1 : 4);
/** The vec4 variant and its element count when n is a multiple of 4, else f32 and n. */
export const vecOf = (n: number): [Elem, number] => (n % 4 === 0 ? ['vec4f', n / 4] : ['f32', n]);

export const kernel = (name: string, wgsl: string, constants: Record<string, number> = { WG: 64 }): Kernel =>
  ({ name, wgsl, constants });
