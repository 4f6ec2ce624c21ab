// Shared WGSL snippets and the launch helper used by every op file.
import { type Engine, getEngine } from '../engine/engine.js';
import type { Param } from '../engine/params.js';
import type { Kernel } from '../engine/pipeline-cache.js';
import type { Tensor } from '../engine/tensor.js';

import { TO_H } from '../engine/builtins.js';

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

/** Per kernel, which storage bindings (in binding order) hold f16 elements, read from its WGSL once. */
const halfBindings = new WeakMap<Kernel, boolean[]>();
function halfOf(k: Kernel): boolean[] {
  let h = halfBindings.get(k);
  if (!h) {
    h = [];
    for (const m of k.wgsl.matchAll(/@binding\((\d+)\)\s*var<storage[^>]*>\s*\w+\s*:\s*array<([^;]*)>\s*;/g)) h[Number(m[1])] = /\bf16\b|vec\dh\b/.test(m[2]);
    halfBindings.set(k, h);
  }
  return h;
}

/**
 * An f16 tensor bound where a kernel reads f32 (or the reverse) would be read as garbage, so every
 * launch checks the tensors' dtypes against the kernel's declarations.
 */
function checkHalf(kernel: Kernel, r: Run): void {
  const h = halfOf(kernel), ins = r.inputs ?? [];
  for (let i = 0; i < ins.length + r.outputs.length; i++) {
    const t = i < ins.length ? ins[i] : r.outputs[i - ins.length];
    if (t && (t.dtype === 'f16') !== (h[i] ?? false)) {
      throw new Error(`${kernel.name}: binding ${i} ${h[i] ? 'holds f16' : 'does not hold f16'} but is given ${t.describe()}`);
    }
  }
}

export function run(kernel: Kernel, r: Run): Engine {
  checkHalf(kernel, r);
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

/**
 * Activation storage of a kernel variant (elements T = f32 or vec4f): f32, or f16 when `half`
 * (engine.storesHalf). `S` is the array element type, `ld` widens a read to T, `st` rounds a T value
 * for a store (±inf beyond f16's range: to_h), `head` enables f16, `sfx` marks the kernel's name.
 * Arithmetic stays f32 in both.
 */
export function storage(T: Elem, half: boolean) {
  return {
    head: half ? `enable f16;\n${TO_H}` : '',
    S: half ? (T === 'f32' ? 'f16' : 'vec4<f16>') : T,
    ld: (e: string) => (half ? `${T}(${e})` : e),
    st: (e: string) => (half ? `${T === 'f32' ? 'to_h' : 'to_h4'}(${e})` : e),
    sfx: `${elemSuffix(T)}${half ? '_h' : ''}`,
  };
}

/** Index of a tensor's storage in a [f32, f16] pair of kernel variants; every tensor given must share it. */
export function storeIdx(op: string, ...ts: Tensor[]): 0 | 1 {
  const d = ts[0].dtype;
  if ((d !== 'f32' && d !== 'f16') || ts.some((t) => t.dtype !== d)) {
    throw new Error(ts.length === 1 ? `${op}: input must be f32 or f16, got ${ts[0].describe()}` : `${op}: inputs must be all f32 or all f16, got ${ts.map((t) => t.describe()).join(', ')}`);
  }
  return d === 'f16' ? 1 : 0;
}

export const kernel = (name: string, wgsl: string, constants: Record<string, number> = { WG: 64 }): Kernel =>
  ({ name, wgsl, constants });
