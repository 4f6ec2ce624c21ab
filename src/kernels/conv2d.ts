// conv2d: y[b,k,oy,ox] = bias[k] + Σ_{c,r,s} x[b,c,oy·sh+r·dh−ph, ox·sw+s·dw−pw] · w[k,c,r,s]
// NCHW, w: [K,C/G,R,S]. conv_transpose2d is the adjoint: its forward is conv2d's
// input-gradient kernel, its backward uses conv2d's forward and weight-gradient kernels.
// Groups (G > 1: ResNeXt's 32, depthwise as the limit C = K = G): x [N, C, H, W] is the same
// memory as [N·G, C/G, H, W], and y likewise, so every kernel sees a "virtual" batch of N·G
// images of C/G → K/G channels whose weights (and bias) are block b mod G of w. The geometry
// holds those per-group sizes; the weight gradient sums over the images b ≡ g (mod G).
import { defineOp } from '../engine/autograd.js';
import './cast.js';   // the cast op the f16 rules use (OpDef.half)
import { addMacs } from '../engine/flops.js';
import { getEngine } from '../engine/engine.js';
import { fmt } from '../engine/shape.js';
import type { Kernel } from '../engine/pipeline-cache.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { convBwdInputTiled, convBwdWeightTiled, convFwdTiled, convParams } from './conv2d-tiled.js';
import { reluMask } from './elementwise.js';
import { isMaskedBy, isReluOutput, markMasked, markReluOutput } from './relu-marks.js';
import { channelSum } from './reduce.js';
import { ACC, SG_CONV_K, SG_HEAD, SG_J, SG_K, SG_WG, broadcast16, broadcastBlock, fmaBlock } from './subgroup.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

const GEOMETRY = /* wgsl */ `
struct Conv { n: u32, c: u32, h: u32, w: u32, k: u32, r: u32, s: u32, oh: u32, ow: u32,
              sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32, has_bias: u32, relu: u32, groups: u32 }`;

/**
 * Stores a block of `K` channels × `J` columns plus bias: channel ch0 + q of `count`, flat index
 * `index` (of q, j) while `ok` (of j) holds, value `acc` (of q, j), through a ReLU when u.relu; or,
 * with `mask` (an array of the output's shape), zero where mask ≤ 0 when u.relu (a ReLU's backward).
 * `bofs`: the group's first bias entry. Shared by all conv kernels.
 */
const storeBlock = (o: { out: string; ch0: string; count: string; index: string; ok: string; acc: string; K: number; J: number; mask?: string; bofs: string }) => /* wgsl */ `
  for (var q = 0u; q < ${o.K}u; q++) {
    if (${o.ch0} + q >= ${o.count}) { break; }
    var bq = 0.0;
    if (u.has_bias != 0u) { bq = bias[${o.bofs} + ${o.ch0} + q]; }
    for (var j = 0u; j < ${o.J}u; j++) {
      if (${o.ok}) {
        let i = ${o.index};
        let v = ${o.acc} + bq;
        ${o.mask ? `${o.out}[i] = select(v, select(0.0, v, ${o.mask}[i] > 0.0), u.relu != 0u);` : `${o.out}[i] = select(v, max(v, 0.0), u.relu != 0u);`}
      }
    }
  }`;
const LOHI = 'select(hi[j][q % 4u], lo[j][q % 4u], q < 4u)';   // portable kernels: channels 0–3 in lo, 4–7 in hi

// Each invocation computes a 4×4 register block (4 channels × 4 neighbouring columns), reading
// global memory directly: 16 FMAs per 8 loads. (Measured on lavapipe, where workgroup-memory
// tiling is slower; real GPUs will get a tiled variant, bench issue.)

// y[b,k,oy,ox] for k ∈ k0..k0+7, ox ∈ ox0..ox0+3 (8×4 block: 32 FMAs per 12 loads).
const CONV2D_FWD = kernel('conv2d_fwd', /* wgsl */ `
override WG: u32 = 64;
${GEOMETRY}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> u: Conv;
${MAIN_1D}
  let owb = (u.ow + 3u) / 4u;
  let kbn = (u.k + 7u) / 8u;
  if (idx >= u.n * kbn * u.oh * owb) { return; }
  let ox0 = (idx % owb) * 4u;                      // idx = ((b·KB + kb)·OH + oy)·OWB + oxb
  let oy = (idx / owb) % u.oh;
  let k0 = ((idx / (owb * u.oh)) % kbn) * 8u;
  let b = idx / (owb * u.oh * kbn);                 // virtual image: group b mod G
  let kstride = u.c * u.r * u.s;
  let wg = (b % u.groups) * u.k * kstride;
  var lo: array<vec4f, 4>;                          // lo[j][q] = y[b, k0+q, oy, ox0+j]
  var hi: array<vec4f, 4>;                          // hi[j][q] = y[b, k0+4+q, oy, ox0+j]
  for (var c = 0u; c < u.c; c++) {
    for (var r = 0u; r < u.r; r++) {
      let iy = i32(oy * u.sh + r * u.dh) - i32(u.ph);
      if (iy < 0 || iy >= i32(u.h)) { continue; }
      let xrow = ((b * u.c + c) * u.h + u32(iy)) * u.w;
      for (var s = 0u; s < u.s; s++) {
        let wi = (c * u.r + r) * u.s + s;
        var w0 = vec4f(0.0);
        var w1 = vec4f(0.0);
        for (var q = 0u; q < 4u; q++) {
          if (k0 + q < u.k) { w0[q] = wt[wg + (k0 + q) * kstride + wi]; }
          if (k0 + 4u + q < u.k) { w1[q] = wt[wg + (k0 + 4u + q) * kstride + wi]; }
        }
        for (var j = 0u; j < 4u; j++) {
          let ix = i32((ox0 + j) * u.sw + s * u.dw) - i32(u.pw);
          if (ix >= 0 && ix < i32(u.w)) {
            let xv = x[xrow + u32(ix)];
            lo[j] += xv * w0;
            hi[j] += xv * w1;
          }
        }
      }
    }
  }
${storeBlock({ out: 'y', ch0: 'k0', count: 'u.k', index: '((b * u.k + k0 + q) * u.oh + oy) * u.ow + ox0 + j', ok: 'ox0 + j < u.ow', acc: LOHI, K: 8, J: 4, bofs: '(b % u.groups) * u.k' })}
}`);

// dx[b,c,iy,ix] = bias[c] + Σ_{k,r,s} dy[b,k,oy,ox]·w[k,c,r,s] with oy·sh = iy+ph−r·dh,
// ox·sw = ix+pw−s·dw (gather, no atomics); block: c ∈ c0..c0+7, ix ∈ ix0..ix0+3.
const CONV2D_BWD_INPUT = kernel('conv2d_bwd_input', /* wgsl */ `
override WG: u32 = 64;
${GEOMETRY}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> u: Conv;
${MAIN_1D}
  let wb = (u.w + 3u) / 4u;
  let cbn = (u.c + 7u) / 8u;
  if (idx >= u.n * cbn * u.h * wb) { return; }
  let ix0 = (idx % wb) * 4u;                       // idx = ((b·CB + cb)·H + iy)·WB + ixb
  let iy = (idx / wb) % u.h;
  let c0 = ((idx / (wb * u.h)) % cbn) * 8u;
  let b = idx / (wb * u.h * cbn);
  let cstride = u.r * u.s;
  let wg = (b % u.groups) * u.k * u.c * cstride;
  var lo: array<vec4f, 4>;                          // lo[j][q] = dx[b, c0+q, iy, ix0+j]
  var hi: array<vec4f, 4>;                          // hi[j][q] = dx[b, c0+4+q, iy, ix0+j]
  for (var r = 0u; r < u.r; r++) {
    let ty = i32(iy + u.ph) - i32(r * u.dh);
    if (ty < 0 || ty % i32(u.sh) != 0) { continue; }
    let oy = u32(ty) / u.sh;
    if (oy >= u.oh) { continue; }
    for (var s = 0u; s < u.s; s++) {
      var ox: array<i32, 4>;                        // source column per j, −1 where none
      for (var j = 0u; j < 4u; j++) {
        let tx = i32(ix0 + j + u.pw) - i32(s * u.dw);
        ox[j] = -1;
        if (tx >= 0 && tx % i32(u.sw) == 0 && u32(tx) / u.sw < u.ow) { ox[j] = tx / i32(u.sw); }
      }
      for (var k = 0u; k < u.k; k++) {
        let wbase = wg + (k * u.c + c0) * cstride + r * u.s + s;
        var w0 = vec4f(0.0);
        var w1 = vec4f(0.0);
        for (var q = 0u; q < 4u; q++) {
          if (c0 + q < u.c) { w0[q] = wt[wbase + q * cstride]; }
          if (c0 + 4u + q < u.c) { w1[q] = wt[wbase + (4u + q) * cstride]; }
        }
        let dyrow = ((b * u.k + k) * u.oh + oy) * u.ow;
        for (var j = 0u; j < 4u; j++) {
          if (ox[j] >= 0) {
            let g = dy[dyrow + u32(ox[j])];
            lo[j] += g * w0;
            hi[j] += g * w1;
          }
        }
      }
    }
  }
${storeBlock({ out: 'dx', ch0: 'c0', count: 'u.c', index: '((b * u.c + c0 + q) * u.h + iy) * u.w + ix0 + j', ok: 'ix0 + j < u.w', acc: LOHI, K: 8, J: 4, bofs: '(b % u.groups) * u.c' })}
}`);

// dw[k,c,r,s] = Σ_{b,oy,ox} dy[b,k,oy,ox]·x[b,c,oy·sh+r·dh−ph, ox·sw+s·dw−pw];
// block: k ∈ k0..k0+7, c ∈ c0..c0+3 for one (r, s) of group gi (the images b ≡ gi mod G).
const CONV2D_BWD_WEIGHT = kernel('conv2d_bwd_weight', /* wgsl */ `
override WG: u32 = 64;
${GEOMETRY}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(3) var<uniform> u: Conv;
${MAIN_1D}
  let kbn = (u.k + 7u) / 8u;
  let cbn = (u.c + 3u) / 4u;
  if (idx >= u.groups * kbn * cbn * u.r * u.s) { return; }
  let s = idx % u.s;                               // idx = (((gi·KB + kb)·CB + cb)·R + r)·S + s
  let r = (idx / u.s) % u.r;
  let c0 = ((idx / (u.s * u.r)) % cbn) * 4u;
  let k0 = ((idx / (u.s * u.r * cbn)) % kbn) * 8u;
  let gi = idx / (u.s * u.r * cbn * kbn);
  let hw = u.h * u.w;
  let ohw = u.oh * u.ow;
  var acc: array<vec4f, 8>;                         // acc[p][q] = dw[k0+p, c0+q, r, s]
  for (var b = gi; b < u.n; b += u.groups) {
    for (var oy = 0u; oy < u.oh; oy++) {
      let iy = i32(oy * u.sh + r * u.dh) - i32(u.ph);
      if (iy < 0 || iy >= i32(u.h)) { continue; }
      let xrow = (b * u.c + c0) * hw + u32(iy) * u.w;
      let dyrow = (b * u.k + k0) * ohw + oy * u.ow;
      for (var ox = 0u; ox < u.ow; ox++) {
        let ix = i32(ox * u.sw + s * u.dw) - i32(u.pw);
        if (ix < 0 || ix >= i32(u.w)) { continue; }
        var xv = vec4f(0.0);
        for (var q = 0u; q < 4u; q++) { if (c0 + q < u.c) { xv[q] = x[xrow + q * hw + u32(ix)]; } }
        for (var p = 0u; p < 8u; p++) {
          if (k0 + p < u.k) { acc[p] += dy[dyrow + p * ohw + ox] * xv; }
        }
      }
    }
  }
  for (var p = 0u; p < 8u; p++) {
    for (var q = 0u; q < 4u; q++) {
      if (k0 + p < u.k && c0 + q < u.c) { dw[(((gi * u.k + k0 + p) * u.c + c0 + q) * u.r + r) * u.s + s] = acc[p][q]; }
    }
  }
}`);

// Subgroup variants (engine.subgroups). On lavapipe every lane-varying load is a per-lane loop, so
// loads, not FMAs, set the speed. Here the output-channel block is the same for the whole
// workgroup: each lane loads one of 8 weights and subgroupBroadcast hands them to the others, so a
// tap costs K/8 loads for K channels. Each invocation computes K channels × 8 columns (K = 32 where
// the layer has more than 16 channels, else 16: §19), and 16 invocations per workgroup keep small
// layers spread over the cores (bench/NOTES.md §5).

// y[b, k0..k0+K−1, oy, ox0..ox0+7]; workgroup = (b, k-block, 16 spatial blocks). No early return:
// subgroupBroadcast needs every lane, so out-of-range lanes compute on clamped indices and skip the store.
const scalarRow = (K: number) => /* wgsl */ `for (var j = 0u; j < ${SG_J}u; j++) {
            let ix = i32((ox0 + j) * u.sw + s * u.dw) - i32(u.pw);
            if (ix >= 0 && ix < i32(u.w)) {
              let xv = x[xrow + u32(ix)];
              ${fmaBlock(K, 'xv')}
            }
          }`;
// Stride 1 and rows a multiple of 4 long: the 8 columns come from three vec4 quads. Their offset
// within the first quad is the same in every lane (the lanes' first columns are multiples of 8
// apart, plus a uniform tap offset), so a uniform switch picks them; columns off the row read
// clamped quads and are zeroed. `first`: the lane's first column (i32); `base`: the row's first
// quad; `len`: the row length (bench/NOTES.md §17).
const quadRow = (arr: string, base: string, first: string, len: string, value: string) => /* wgsl */ `let st = ${first};
          let q0 = st >> 2;
          let nq = i32(${len} / 4u) - 1;
          let base = ${base};
          let v0 = ${arr}[base + u32(clamp(q0, 0, nq))];
          let v1 = ${arr}[base + u32(clamp(q0 + 1, 0, nq))];
          let v2 = ${arr}[base + u32(clamp(q0 + 2, 0, nq))];
          var xv: array<f32, ${SG_J}>;
          switch (u32(st & 3)) {
            ${[0, 1, 2, 3].map((sh) => `case ${sh}u: { ${Array.from({ length: SG_J }, (_, j) => `xv[${j}] = v${(sh + j) >> 2}[${(sh + j) & 3}];`).join(' ')} }`).join('\n            ')}
            default: {}
          }
          for (var j = 0; j < ${SG_J}; j++) {
            if (st + j < 0 || st + j >= i32(${len})) { xv[j] = 0.0; }
            ${value}
          }`;
// When every lane's first column is a multiple of 4 (the padding is, and so is the dilation if the
// row has more than one tap: ERFNet's 3×1 convs and its 1×3 with dilation 4), two aligned quads hold
// the 8 columns, with no switch, and quads off the row read as zero (bench/NOTES.md §20).
const alignedRow = (arr: string, base: string, first: string, len: string, value: string) => /* wgsl */ `let q0 = (${first}) >> 2;
          let nq = i32(${len} / 4u);
          let base = ${base};
          let v0 = select(vec4f(), ${arr}[base + u32(clamp(q0, 0, nq - 1))], q0 >= 0 && q0 < nq);
          let v1 = select(vec4f(), ${arr}[base + u32(clamp(q0 + 1, 0, nq - 1))], q0 + 1 >= 0 && q0 + 1 < nq);
          let xv = array<f32, ${SG_J}>(v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w);
          for (var j = 0; j < ${SG_J}; j++) {
            ${value}
          }`;
/** How a lane reads its 8 columns: one scalar at a time, as three vec4 quads (stride 1, rows ×4), or two aligned quads. */
type RowRead = 'scalar' | 'quads' | 'aligned';
const ROW_READS: RowRead[] = ['scalar', 'quads', 'aligned'];
const rowRead = (mode: RowRead, arr: string, base: string, first: string, len: string, value: string) =>
  (mode === 'aligned' ? alignedRow : quadRow)(arr, base, first, len, value);
/** Lane l's K/8 rows of the weight (or columns, for the input gradient): l{i} = min(first + 8i + lane, last)·stride. */
const laneRows = (name: string, K: number, first: string, last: string, stride: string) =>
  Array.from({ length: Math.ceil(K / 8) }, (_, i) => `let ${name}${i} = min(${first} + ${8 * i}u + (sid & 7u), ${last}) * ${stride};`).join('\n  ');
const laneLoads = (K: number, index: (i: number) => string) => Array.from({ length: Math.ceil(K / 8) }, (_, i) => `let l${i} = wt[${index(i)}];`).join(' ');
const lanes = (K: number) => Array.from({ length: Math.ceil(K / 8) }, (_, i) => `l${i}`);
// Rows of three taps at dilation 1 and stride 1 or 2 (3×3 and 1×3 convs): the columns the 8
// outputs of a lane read for all three taps (10 at stride 1, 17 at stride 2) come from quads read
// once, instead of three quads (or 8 scalars at stride 2) per tap: 9 lane-varying loads a row become
// 4 (24 become 5); loads set the speed on lavapipe. Used for blocks of 4 and 8 channels, where the
// loads outweigh the FMAs (ResNeXt's first stages, NOTES §49).
const win3Taps = (K: number, SW: number) => {
  const L = (SG_J - 1) * SW + 3, Q = Math.ceil((3 + L) / 4);
  return /* wgsl */ `
      {
        var wt3: array<array<vec4f, ${K / 4}>, 3>;
        for (var s = 0u; s < 3u; s++) {
          let wi = (c * u.r + r) * 3u + s;
          ${laneLoads(K, (i) => `wg + w${i} + wi`)}
          ${broadcastBlock(lanes(K), K)}
          wt3[s] = wv;
        }
        if (rowok) {
          let st = i32(ox0 * ${SW}u) - i32(u.pw);
          let q0 = st >> 2;
          let nq = i32(u.w / 4u) - 1;
          let base = xrow / 4u;
          ${Array.from({ length: Q }, (_, q) => `let v${q} = x4[base + u32(clamp(q0 + ${q}, 0, nq))];`).join('\n          ')}
          var xw: array<f32, ${L}>;
          switch (u32(st & 3)) {
            ${[0, 1, 2, 3].map((sh) => `case ${sh}u: { ${Array.from({ length: L }, (_, j) => `xw[${j}] = v${(sh + j) >> 2}[${(sh + j) & 3}];`).join(' ')} }`).join('\n            ')}
            default: {}
          }
          for (var j = 0; j < ${L}; j++) { if (st + j < 0 || st + j >= i32(u.w)) { xw[j] = 0.0; } }
          for (var j = 0; j < ${SG_J}; j++) {
            ${[0, 1, 2].map((t) => Array.from({ length: K / 4 }, (_, v) => `acc[j][${v}] += xw[j * ${SW} + ${t}] * wt3[${t}][${v}];`).join(' ')).join('\n            ')}
          }
        }
      }`;
};
const fwdSg = (mode: RowRead | 'win3' | 'win3s2', K: number) => kernel(`conv2d_fwd_sg${mode === 'scalar' ? '' : `_${mode}`}${K === 16 ? '' : `_k${K}`}`, /* wgsl */ `enable subgroups;
override WG: u32 = ${SG_WG};
${GEOMETRY}
@group(0) @binding(0) var<storage, read> ${mode !== 'scalar' ? 'x4: array<vec4f>' : 'x: array<f32>'};
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> u: Conv;
${SG_HEAD}
  let owb = (u.ow + ${SG_J - 1}u) / ${SG_J}u;
  let sp = u.oh * owb;
  let spg = (sp + WG - 1u) / WG;
  let kbn = (u.k + ${K - 1}u) / ${K}u;
  let k0 = ((grp / spg) % kbn) * ${K}u;
  let b = min(grp / (spg * kbn), u.n - 1u);
  let si = (grp % spg) * WG + lid;
  let valid = si < sp && grp < u.n * spg * kbn;
  let oy = min(si / owb, u.oh - 1u);
  let ox0 = (si % owb) * ${SG_J}u;
  let kstride = u.c * u.r * u.s;
  let wg = (b % u.groups) * u.k * kstride;                      // the group's weights
  ${laneRows('w', K, 'k0', 'u.k - 1u', 'kstride')}
  var acc: array<array<vec4f, ${K / 4}>, ${SG_J}>;              // acc[j][v][i] = y[k0 + 4v + i, ox0 + j]
  var wv: array<vec4f, ${K / 4}>;
  for (var c = 0u; c < u.c; c++) {
    for (var r = 0u; r < u.r; r++) {
      let iy = i32(oy * u.sh + r * u.dh) - i32(u.ph);
      let rowok = iy >= 0 && iy < i32(u.h);
      let xrow = ((b * u.c + c) * u.h + u32(max(iy, 0))) * u.w;
      ${mode === 'win3' || mode === 'win3s2' ? win3Taps(K, mode === 'win3' ? 1 : 2) : `for (var s = 0u; s < u.s; s++) {
        let wi = (c * u.r + r) * u.s + s;
        ${laneLoads(K, (i) => `wg + w${i} + wi`)}
        ${broadcastBlock(lanes(K), K)}
        if (rowok) {
          ${mode === 'scalar' ? scalarRow(K) : rowRead(mode, 'x4', 'xrow / 4u', 'i32(ox0 + s * u.dw) - i32(u.pw)', 'u.w', fmaBlock(K, 'xv[j]'))}
        }
      }`}
    }
  }
  if (!valid) { return; }
${storeBlock({ out: 'y', ch0: 'k0', count: 'u.k', index: '((b * u.k + k0 + q) * u.oh + oy) * u.ow + ox0 + j', ok: 'ox0 + j < u.ow', acc: ACC, K, J: SG_J, bofs: '(b % u.groups) * u.k' })}
}`, { WG: SG_WG });
/**
 * Channel block of a subgroup conv launch: SG_CONV_K (32) when more than 16 channels fill it
 * (bench/NOTES.md §19), 16, or 8 and 4 for the few channels of the RGB layer and of a small
 * group (ResNeXt's first stages: 4 and 8 channels a group, §44, §49).
 */
const blockFor = (channels: number) => (channels <= 4 ? 4 : channels <= 8 ? 8 : channels > 16 ? SG_CONV_K : 16);
const byBlock = (make: (mode: RowRead, K: number) => Kernel) => Object.fromEntries([4, 8, 16, SG_CONV_K].map((K) =>
  [K, Object.fromEntries(ROW_READS.map((m) => [m, make(m, K)]))])) as Record<number, Record<RowRead, Kernel>>;
/** How a launch reads rows: scalar unless stride 1 on rows ×4; aligned when every lane's first column is a multiple of 4. */
const rowReadFor = (g: Geometry, rowLen: number): RowRead =>
  g.sw !== 1 || rowLen % 4 !== 0 ? 'scalar' : g.pw % 4 === 0 && (g.s === 1 || g.dw % 4 === 0) ? 'aligned' : 'quads';
const CONV2D_FWD_SG = byBlock(fwdSg);
const CONV2D_FWD_SG_WIN3: Record<number, Kernel>[] = [1, 2].map((sw) => Object.fromEntries([4, 8].map((K) => [K, fwdSg(sw === 1 ? 'win3' : 'win3s2', K)])));

// dx[b, c0..c0+K−1, iy, ix] gathered from dy, weights broadcast per k. Strided convs split dx into
// sh×sw phases (iy mod sh, ix mod sw), one per workgroup, so whether a tap (r, s) reaches a phase is
// the same for the whole workgroup and unused taps are skipped instead of masked: a 3×3 stride-2
// gradient does 2.25 taps per output on average instead of 9. Within a phase, 8 neighbouring
// outputs read 8 neighbouring dy columns.
const bwdInputSg = (mode: RowRead, K: number) => kernel(`conv2d_bwd_input_sg${mode === 'scalar' ? '' : `_${mode}`}${K === 16 ? '' : `_k${K}`}`, /* wgsl */ `enable subgroups;
override WG: u32 = ${SG_WG};
${GEOMETRY}
@group(0) @binding(0) var<storage, read> ${mode !== 'scalar' ? 'dy4: array<vec4f>' : 'dy: array<f32>'};
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;   // u.relu: dx = 0 where mask ≤ 0
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> u: Conv;
${SG_HEAD}
  let hp = (u.h + u.sh - 1u) / u.sh;                         // largest phase: rows, column blocks
  let wpb = ((u.w + u.sw - 1u) / u.sw + ${SG_J - 1}u) / ${SG_J}u;
  let spg = (hp * wpb + WG - 1u) / WG;
  let cbn = (u.c + ${K - 1}u) / ${K}u;
  let nph = u.sh * u.sw;
  let ph = (grp / spg) % nph;                                 // phase (py, px), workgroup-uniform
  let py = ph / u.sw;
  let px = ph % u.sw;
  let c0 = ((grp / (spg * nph)) % cbn) * ${K}u;
  let b = min(grp / (spg * nph * cbn), u.n - 1u);
  let si = (grp % spg) * WG + lid;
  let iyp = si / wpb;                                         // row and first column within the phase
  let jx0 = (si % wpb) * ${SG_J}u;
  let iy = py + iyp * u.sh;
  let valid = si < hp * wpb && iy < u.h && grp < u.n * spg * nph * cbn;
  let rs = u.r * u.s;
  let wg = (b % u.groups) * u.k * u.c * rs;                   // the group's weights
  ${laneRows('cw', K, 'c0', 'u.c - 1u', 'rs')}
  var acc: array<array<vec4f, ${K / 4}>, ${SG_J}>;                    // acc[j][v][i] = dx[c0 + 4v + i, px + (jx0 + j)·sw]
  var wv: array<vec4f, ${K / 4}>;
  for (var r = 0u; r < u.r; r++) {
    let t0 = i32(py + u.ph) - i32(r * u.dh);                  // ty = iyp·sh + t0
    if (((t0 % i32(u.sh)) + i32(u.sh)) % i32(u.sh) != 0) { continue; }
    let oy = i32(iyp) + t0 / i32(u.sh);
    let rowok = valid && oy >= 0 && oy < i32(u.oh);
    for (var s = 0u; s < u.s; s++) {
      let q0 = i32(px + u.pw) - i32(s * u.dw);                // tx = (jx0 + j)·sw + q0
      if (((q0 % i32(u.sw)) + i32(u.sw)) % i32(u.sw) != 0) { continue; }
      let ox0 = i32(jx0) + q0 / i32(u.sw);
      for (var k = 0u; k < u.k; k++) {
        let wi = wg + k * u.c * rs + r * u.s + s;
        ${laneLoads(K, (i) => `wi + cw${i}`)}
        ${broadcastBlock(lanes(K), K)}
        if (rowok) {
          let dyrow = ((b * u.k + k) * u.oh + u32(oy)) * u.ow;
          ${mode !== 'scalar' ? rowRead(mode, 'dy4', 'dyrow / 4u', 'ox0', 'u.ow', fmaBlock(K, 'xv[j]')) : `for (var j = 0; j < ${SG_J}; j++) {
            let ox = ox0 + j;
            if (ox >= 0 && ox < i32(u.ow)) {
              let g = dy[dyrow + u32(ox)];
              ${fmaBlock(K, 'g')}
            }
          }`}
        }
      }
    }
  }
  if (!valid) { return; }
${storeBlock({ out: 'dx', ch0: 'c0', count: 'u.c', index: '((b * u.c + c0 + q) * u.h + iy) * u.w + px + (jx0 + j) * u.sw', ok: 'px + (jx0 + j) * u.sw < u.w', acc: ACC, K, J: SG_J, mask: 'mask', bofs: '(b % u.groups) * u.c' })}
}`, { WG: SG_WG });
const CONV2D_BWD_INPUT_SG = byBlock(bwdInputSg);

// The input gradient of a 3×3 (or 1×3) conv at stride 2 across, padding 1, dilation 1, for blocks
// of 4 and 8 channels (ResNeXt's layer2 groups): one lane computes 16 neighbouring dx columns, both
// column phases, from one 9-column dy window per (r, k) (3 quads instead of 9), and stores them as
// 4 vec4s a channel instead of 16 scalars: with small groups the per-lane stores of the phase kernel
// above took a third of the pass (NOTES §49). Row phases stay workgroup-uniform as above.
const bwdInputSgS2 = (K: number) => kernel(`conv2d_bwd_input_sg_s2_k${K}`, /* wgsl */ `enable subgroups;
override WG: u32 = ${SG_WG};
${GEOMETRY}
@group(0) @binding(0) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> mask4: array<vec4f>;   // u.relu: dx = 0 where mask ≤ 0
@group(0) @binding(4) var<storage, read_write> dx4: array<vec4f>;
@group(0) @binding(5) var<uniform> u: Conv;
${SG_HEAD}
  let hp = (u.h + u.sh - 1u) / u.sh;                         // largest row phase; blocks of 16 columns
  let wb = (u.w + 15u) / 16u;
  let spg = (hp * wb + WG - 1u) / WG;
  let cbn = (u.c + ${K - 1}u) / ${K}u;
  let py = (grp / spg) % u.sh;                                // row phase, workgroup-uniform
  let c0 = ((grp / (spg * u.sh)) % cbn) * ${K}u;
  let b = min(grp / (spg * u.sh * cbn), u.n - 1u);
  let si = (grp % spg) * WG + lid;
  let iyp = si / wb;
  let x0 = (si % wb) * 16u;                                   // dx columns x0 … x0 + 15; dy columns x0/2 …
  let iy = py + iyp * u.sh;
  let valid = si < hp * wb && iy < u.h && grp < u.n * spg * u.sh * cbn;
  let rs = u.r * 3u;
  let wg = (b % u.groups) * u.k * u.c * rs;
  ${laneRows('cw', K, 'c0', 'u.c - 1u', 'rs')}
  var a0 = array<array<vec4f, ${K / 4}>, ${SG_J}>();         // a0[j]: dx column x0 + 2j, a1[j]: x0 + 2j + 1
  var a1 = array<array<vec4f, ${K / 4}>, ${SG_J}>();
  var wv: array<vec4f, ${K / 4}>;
  var w3: array<array<vec4f, ${K / 4}>, 3>;
  for (var r = 0u; r < u.r; r++) {
    let t0 = i32(py + u.ph) - i32(r * u.dh);
    if (((t0 % i32(u.sh)) + i32(u.sh)) % i32(u.sh) != 0) { continue; }
    let oy = i32(iyp) + t0 / i32(u.sh);
    let rowok = valid && oy >= 0 && oy < i32(u.oh);
    for (var k = 0u; k < u.k; k++) {
      for (var s = 0u; s < 3u; s++) {
        let wi = wg + k * u.c * rs + r * 3u + s;
        ${laneLoads(K, (i) => `wi + cw${i}`)}
        ${broadcastBlock(lanes(K), K)}
        w3[s] = wv;
      }
      if (rowok) {
        let base = (((b * u.k + k) * u.oh + u32(oy)) * u.ow) / 4u;
        let q0 = i32(x0 / 8u);                                 // dy column x0/2 = 4·q0
        let nq = i32(u.ow / 4u);
        let v0 = select(vec4f(), dy4[base + u32(min(q0, nq - 1))], q0 < nq);
        let v1 = select(vec4f(), dy4[base + u32(min(q0 + 1, nq - 1))], q0 + 1 < nq);
        let v2 = select(vec4f(), dy4[base + u32(min(q0 + 2, nq - 1))], q0 + 2 < nq);
        let g = array<f32, 9>(v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w, v2.x);
        ${Array.from({ length: SG_J }, (_, j) => Array.from({ length: K / 4 }, (_, v) =>
          `a0[${j}][${v}] += g[${j}] * w3[1][${v}]; a1[${j}][${v}] += g[${j + 1}] * w3[0][${v}] + g[${j}] * w3[2][${v}];`).join(' ')).join('\n        ')}
      }
    }
  }
  if (!valid) { return; }
  ${Array.from({ length: K }, (_, q) => `if (c0 + ${q}u < u.c) {
    var bq = 0.0;
    if (u.has_bias != 0u) { bq = bias[(b % u.groups) * u.c + c0 + ${q}u]; }
    let row = (((b * u.c + c0 + ${q}u) * u.h + iy) * u.w + x0) / 4u;
    ${[0, 1, 2, 3].map((m) => `{
      var v = vec4f(a0[${2 * m}][${q >> 2}][${q & 3}], a1[${2 * m}][${q >> 2}][${q & 3}], a0[${2 * m + 1}][${q >> 2}][${q & 3}], a1[${2 * m + 1}][${q >> 2}][${q & 3}]) + bq;
      if (u.relu != 0u) { v = select(vec4f(), v, mask4[row + ${m}u] > vec4f()); }
      dx4[row + ${m}u] = v;
    }`).join(' ')}
  }`).join('\n  ')}
}`, { WG: SG_WG });
const CONV2D_BWD_INPUT_SG_S2: Record<number, Kernel> = { 4: bwdInputSgS2(4), 8: bwdInputSgS2(8) };

// dw[k0..k0+KB−1, c, r, s] for all taps at once, one input channel c per lane: at each position
// (b, oy, ox), uniform for the whole workgroup, the KB dy values are loaded one per lane and
// broadcast, and each tap reads one x per lane. A 3×1 tap set then costs 5 loads per 48 FMAs
// (the portable kernel: 12 per 32). The tap loop is unrolled per (R, S), so each shape of
// kernel gets its own pipeline. No split over positions: enough lanes on a CPU; GPUs want split-K.
// With has_bias, the bias gradient Σ dy comes along: lane l already holds dy for channel k0 + l.
/** Bindings and entry of both subgroup weight-gradient kernels (dw, and db when has_bias). */
const BWD_WEIGHT_SG_HEAD = /* wgsl */ `enable subgroups;
override WG: u32 = ${SG_WG};
${GEOMETRY}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(3) var<storage, read_write> db: array<f32>;
@group(0) @binding(4) var<uniform> u: Conv;
${SG_HEAD}`;
/** db[k0 + l] = Σ dy of lane l's channels (sa: first 8, sb: next 8), one writer per channel: the first workgroup of each k-block. */
const writeBiasGrad = (firstOfBlock: string, two: boolean, KB = 16) => /* wgsl */ `
  if (u.has_bias != 0u && ${firstOfBlock} && lid == sid && sid < ${Math.min(KB, 8)}u) {
    if (k0 + sid < u.k) { db[gi * u.k + k0 + sid] = sa; }
    ${two ? 'if (k0 + 8u + sid < u.k) { db[gi * u.k + k0 + 8u + sid] = sb; }' : ''}
  }`;
const bwdWeightSg = new Map<string, ReturnType<typeof kernel>>();
function conv2dBwdWeightSg(R: number, S: number): { kernel: ReturnType<typeof kernel>; kb: number } {
  const T = R * S, KB = T <= 4 ? 16 : 8, V = KB / 4, key = `${R}x${S}`;
  let k = bwdWeightSg.get(key);
  if (!k) {
    const taps = Array.from({ length: T }, (_, t) => [Math.floor(t / S), t % S]);
    const lanes = KB === 16 ? ['la', 'lb'] : ['la'];
    k = kernel(`conv2d_bwd_weight_sg_${key}`, `${BWD_WEIGHT_SG_HEAD}
  let cbg = (u.c + WG - 1u) / WG;
  let kbg = (u.k + ${KB - 1}u) / ${KB}u;
  let c = (grp % cbg) * WG + lid;
  let k0 = ((grp / cbg) % kbg) * ${KB}u;
  let gi = min(grp / (cbg * kbg), u.groups - 1u);            // group: the images b ≡ gi (mod G)
  let valid = c < u.c && grp < cbg * kbg * u.groups;
  let cc = min(c, u.c - 1u);
  let hw = u.h * u.w;
  let ohw = u.oh * u.ow;
  let ka = min(k0 + (sid & 7u), u.k - 1u);
  ${KB === 16 ? 'let kb = min(k0 + 8u + (sid & 7u), u.k - 1u);' : ''}
  ${taps.map((_, t) => Array.from({ length: V }, (_, v) => `var a${t}_${v} = vec4f(0.0);`).join(' ')).join('\n  ')}
  var wv: array<vec4f, ${V}>;
  var sa = 0.0;
  var sb = 0.0;
  for (var b = gi; b < u.n; b += u.groups) {
    let xb = (b * u.c + cc) * hw;
    for (var oy = 0u; oy < u.oh; oy++) {
      for (var ox = 0u; ox < u.ow; ox++) {
        let p = oy * u.ow + ox;
        let la = dy[(b * u.k + ka) * ohw + p];
        ${KB === 16 ? 'let lb = dy[(b * u.k + kb) * ohw + p]; sb += lb;' : ''}
        sa += la;
        ${Array.from({ length: V }, (_, v) => `wv[${v}] = vec4f(${[0, 1, 2, 3].map((i) => `subgroupBroadcast(${lanes[v >> 1]}, ${(v % 2) * 4 + i}u)`).join(', ')});`).join('\n        ')}
        ${taps.map(([r, s2], t) => `{
          let iy = i32(oy * u.sh + ${r}u * u.dh) - i32(u.ph);
          let ix = i32(ox * u.sw + ${s2}u * u.dw) - i32(u.pw);
          if (iy >= 0 && iy < i32(u.h) && ix >= 0 && ix < i32(u.w)) {
            let xv = x[xb + u32(iy) * u.w + u32(ix)];
            ${Array.from({ length: V }, (_, v) => `a${t}_${v} += xv * wv[${v}];`).join(' ')}
          }
        }`).join('\n        ')}
      }
    }
  }
${writeBiasGrad('grp % cbg == 0u && grp < cbg * kbg * u.groups', KB === 16)}
  if (!valid) { return; }
  ${taps.map((_, t) => Array.from({ length: V }, (_, v) => `for (var i = 0u; i < 4u; i++) {
    let kq = k0 + ${4 * v}u + i;
    if (kq < u.k) { dw[((gi * u.k + kq) * u.c + c) * ${T}u + ${t}u] = a${t}_${v}[i]; }
  }`).join('\n  ')).join('\n  ')}
}`, { WG: SG_WG });
    bwdWeightSg.set(key, k);
  }
  return { kernel: k, kb: KB };
}

// Weight gradient for layers with few input channels (the RGB layer: c = 3), where one channel per
// lane would leave most lanes idle: one (c, r, s) entry per lane instead, KB output channels per
// workgroup (16; 4 or 8 for small groups, NOTES §49). At each position the KB dy values are loaded
// one per lane and broadcast, and each lane reads its one x: 3 loads per 16 FMAs a lane. The bias
// gradient comes along as in the kernel above.
const bwdWeightTaps = (KB: 4 | 8 | 16) => kernel(`conv2d_bwd_weight_sg_taps${KB === 16 ? '' : `_k${KB}`}`, `${BWD_WEIGHT_SG_HEAD}
  let crs = u.c * u.r * u.s;
  let jg = (crs + WG - 1u) / WG;
  let kbg = (u.k + ${KB - 1}u) / ${KB}u;
  let j = (grp % jg) * WG + lid;                              // this lane's (c, r, s)
  let k0 = ((grp / jg) % kbg) * ${KB}u;
  let gi = min(grp / (jg * kbg), u.groups - 1u);             // group: the images b ≡ gi (mod G)
  let valid = j < crs && grp < jg * kbg * u.groups;
  let jj = min(j, crs - 1u);
  let c = jj / (u.r * u.s);
  let r = (jj / u.s) % u.r;
  let s = jj % u.s;
  let hw = u.h * u.w;
  let ohw = u.oh * u.ow;
  let ka = min(k0 + (sid & ${Math.min(KB, 8) - 1}u), u.k - 1u);
  ${KB === 16 ? 'let kb = min(k0 + 8u + (sid & 7u), u.k - 1u);' : ''}
  var acc: array<vec4f, ${KB / 4}>;                                   // acc[v][i] = dw[k0 + 4v + i, j]
  var wv: array<vec4f, ${KB / 4}>;
  var sa = 0.0;
  var sb = 0.0;
  for (var b = gi; b < u.n; b += u.groups) {
    let xb = (b * u.c + c) * hw;
    for (var oy = 0u; oy < u.oh; oy++) {
      let iy = i32(oy * u.sh + r * u.dh) - i32(u.ph);
      let rowok = iy >= 0 && iy < i32(u.h);
      for (var ox = 0u; ox < u.ow; ox++) {
        let p = oy * u.ow + ox;
        let la = dy[(b * u.k + ka) * ohw + p];
        sa += la;
        ${KB === 16 ? `let lb = dy[(b * u.k + kb) * ohw + p];
        sb += lb;` : ''}
        ${broadcastBlock(KB === 16 ? ['la', 'lb'] : ['la'], KB)}
        let ix = i32(ox * u.sw + s * u.dw) - i32(u.pw);
        if (rowok && ix >= 0 && ix < i32(u.w)) {
          let xv = x[xb + u32(iy) * u.w + u32(ix)];
          ${Array.from({ length: KB / 4 }, (_, v) => `acc[${v}] += xv * wv[${v}];`).join(' ')}
        }
      }
    }
  }
${writeBiasGrad('grp % jg == 0u && grp < jg * kbg * u.groups', KB === 16, KB)}
  if (!valid) { return; }
  for (var q = 0u; q < ${KB}u; q++) {
    if (k0 + q < u.k) { dw[(gi * u.k + k0 + q) * crs + j] = acc[q / 4u][q % 4u]; }
  }
}`, { WG: SG_WG });
const CONV2D_BWD_WEIGHT_SG_TAPS = { 4: bwdWeightTaps(4), 8: bwdWeightTaps(8), 16: bwdWeightTaps(16) };

export type Pair = number | readonly number[];
export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number }
/** conv2d's options: geometry, and `relu` to apply a ReLU in the kernel's store (one pass less). */
export interface Conv2dCallOptions extends Conv2dOptions { relu?: boolean }
export interface ConvTranspose2dOptions extends Conv2dOptions { outputPadding?: Pair }

function pair(p: Pair | undefined, d: number): [number, number] {
  if (p === undefined) return [d, d];
  if (typeof p === 'number') return [p, p];
  if (p.length !== 2) throw new Error(`expected a number or a pair, got ${JSON.stringify(p)}`);
  return [p[0], p[1]];
}

/**
 * Geometry of the underlying convolution ("conv input" x: n,c,h,w; "conv output": n,k,oh,ow), per
 * group: with `groups` G, n is the virtual batch N·G and c, k are C/G and K/G (see the header).
 */
export interface Geometry { n: number; c: number; h: number; w: number; k: number; r: number; s: number;
  oh: number; ow: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; groups: number }

/** The tensors' real shapes: x [N, C, H, W], y [N, K, OH, OW], w [K, C/G, R, S]. */
/** Nominal multiply-adds of a geometry (its forward; a transposed conv's geometry is its adjoint's, the same count). */
export const geometryMacs = (g: Geometry) => g.n * g.k * g.oh * g.ow * g.c * g.r * g.s;
export const xShape = (g: Geometry) => [g.n / g.groups, g.c * g.groups, g.h, g.w];
export const yShape = (g: Geometry) => [g.n / g.groups, g.k * g.groups, g.oh, g.ow];
export const wShape = (g: Geometry) => [g.k * g.groups, g.c, g.r, g.s];

const params = convParams;

function checkInts(op: string, o: Conv2dOptions & { outputPadding?: Pair }) {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    const p = pair(v as Pair, 0);
    const min = k === 'stride' || k === 'dilation' || k === 'groups' ? 1 : 0;
    if (!p.every((d) => Number.isInteger(d) && d >= min)) throw new Error(`${op}: invalid ${k} ${JSON.stringify(v)}`);
  }
}

function checkConvInputs(op: string, x: Tensor, w: Tensor, b: Tensor | null, biasLen: number, cIn: number, groups = 1) {
  if (x.dtype !== 'f16') assertDType(op, x, 'f32', 'x');
  assertDType(op, w, 'f32', 'weight');
  if (x.rank !== 4) throw new Error(`${op}: x must be NCHW (rank 4), got ${x.describe()}`);
  if (w.rank !== 4) throw new Error(`${op}: weight must be rank 4, got ${w.describe()}`);
  if (x.shape[1] !== cIn) {
    throw new Error(`${op}: x ${fmt(x.shape)} has ${x.shape[1]} channels but weight ${fmt(w.shape)} expects ${cIn}${groups > 1 ? ` (${groups} groups of ${w.shape[1]})` : ''}`);
  }
  if (w.shape[0] % groups !== 0) throw new Error(`${op}: weight ${fmt(w.shape)} has ${w.shape[0]} output channels, not a multiple of groups ${groups}`);
  if (b) {
    assertDType(op, b, 'f32', 'bias');
    if (b.rank !== 1 || b.shape[0] !== biasLen) throw new Error(`${op}: bias ${fmt(b.shape)} should be [${biasLen}]`);
  }
}

export function conv2dGeometry(xs: readonly number[], ws: readonly number[], o: Conv2dOptions): Geometry {
  const [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0), [dh, dw] = pair(o.dilation, 1);
  const G = o.groups ?? 1;
  const [n, c, h, w] = xs, [k, , r, s] = ws;
  const oh = Math.floor((h + 2 * ph - dh * (r - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (s - 1) - 1) / sw) + 1;
  if (oh <= 0 || ow <= 0) {
    throw new Error(`conv2d: input ${fmt(xs)} is too small for kernel ${r}x${s} (padding ${ph},${pw}, dilation ${dh},${dw})`);
  }
  return { n: n * G, c: c / G, h, w, k: k / G, r, s, oh, ow, sh, sw, ph, pw, dh, dw, groups: G };
}

/**
 * Kernel family of this launch: subgroup-broadcast (CPU class), workgroup tiles (engine.kernelFamily
 * 'tiled') or portable. With f16 operands (engine.precision) every pass is a tiled GEMM, whose f16
 * variants stage the operands as f16 (tensor-core inputs where the engine has a subgroup-matrix shape).
 */
const family = () => { const e = getEngine(); return e.precision === 'f16' ? 'tiled' : e.kernelFamily; };
/** The family of a launch on activations t: f16 ones (engine.storesHalf) exist in the tiled kernels only. */
function familyFor(op: string, t: Tensor) {
  const f = family();
  if (t.dtype === 'f16' && f !== 'tiled') throw new Error(`${op}: ${t.describe()} is f16, which the ${f} kernels do not take (f16 activations run on the tiled kernels: precision f16)`);
  return f;
}

/** Raw launch (no autograd): y[n,k,oh,ow] = conv(x, w) + bias. */
export function convFwd(g: Geometry, x: Tensor, w: Tensor, b: Tensor | null, relu = false): Tensor {
  if (familyFor('conv2d', x) === 'tiled') return convFwdTiled(g, x, w, b, relu);
  const y = empty(yShape(g), 'f32', 'conv2d');
  if (family() === 'subgroup') {
    const K = blockFor(g.k);
    const groups = g.n * Math.ceil(g.k / K) * Math.ceil((g.oh * Math.ceil(g.ow / SG_J)) / SG_WG);
    const read = rowReadFor(g, g.w);   // bench/NOTES.md §17, §20
    const win3 = K <= 8 && g.s === 3 && g.dw === 1 && (g.sw === 1 || g.sw === 2) && g.w % 4 === 0;   // §49
    run(win3 ? CONV2D_FWD_SG_WIN3[g.sw - 1][K] : CONV2D_FWD_SG[K][read], { inputs: [x, w, b ?? w], outputs: [y], params: params(g, !!b, relu), groups });
    return y;
  }
  const threads = g.n * Math.ceil(g.k / 8) * g.oh * Math.ceil(g.ow / 4);
  run(CONV2D_FWD, { inputs: [x, w, b ?? w], outputs: [y], params: params(g, !!b, relu), threads });
  return y;
}

/**
 * Raw launch (no autograd): dx[n,c,h,w] = convᵀ(dy, w) + bias (bias per c); with `mask` (of dx's
 * shape), zero where mask ≤ 0: the subgroup kernels do it in their store, the others in a pass.
 */
export function convBwdInput(g: Geometry, dy: Tensor, w: Tensor, b: Tensor | null, mask: Tensor | null = null): Tensor {
  if (familyFor('conv2d_bwd_input', dy) === 'subgroup') {
    const dx = empty(xShape(g), 'f32', 'conv2d_bwd_input');
    const phaseBlocks = Math.ceil(g.h / g.sh) * Math.ceil(Math.ceil(g.w / g.sw) / SG_J);
    const K = blockFor(g.c);
    const groups = g.n * Math.ceil(g.c / K) * g.sh * g.sw * Math.ceil(phaseBlocks / SG_WG);
    // rows of dy as vec4 quads (§17, §20); in a stride phase too, neighbouring outputs read
    // neighbouring dy columns (§44)
    const read = g.sw === 1 ? rowReadFor(g, g.ow) : g.ow % 4 === 0 ? 'quads' : 'scalar';
    if (K <= 8 && g.sw === 2 && g.s === 3 && g.pw === 1 && g.dw === 1 && g.w % 16 === 0 && g.ow * 2 === g.w) {   // §49
      const s2 = Math.ceil(g.h / g.sh) * (g.w / 16);
      run(CONV2D_BWD_INPUT_SG_S2[K], { inputs: [dy, w, b ?? w, mask ?? dy], outputs: [dx], params: params(g, !!b, !!mask),
        groups: g.n * Math.ceil(g.c / K) * g.sh * Math.ceil(s2 / SG_WG) });
      return dx;
    }
    run(CONV2D_BWD_INPUT_SG[K][read], { inputs: [dy, w, b ?? w, mask ?? w], outputs: [dx], params: params(g, !!b, !!mask), groups });
    return dx;
  }
  const dx = convBwdInputPlain(g, dy, w, b);
  if (!mask) return dx;
  try { return reluMask(dx, mask); } finally { dx.dispose(); }
}

function convBwdInputPlain(g: Geometry, dy: Tensor, w: Tensor, b: Tensor | null): Tensor {
  // strided: the portable kernel visits only the taps of each output's stride phase, the tiled GEMM
  // all of them (¾ zeros at stride 2); on an H100 the portable one was 1.3–4.5× faster (NOTES §28)
  // (with f16 operands the tiled one takes them all: every GEMM at one precision)
  if (family() === 'tiled' && ((g.sh === 1 && g.sw === 1) || getEngine().precision === 'f16' || dy.dtype === 'f16')) return convBwdInputTiled(g, dy, w, b);
  const dx = empty(xShape(g), 'f32', 'conv2d_bwd_input');
  const threads = g.n * Math.ceil(g.c / 8) * g.h * Math.ceil(g.w / 4);
  run(CONV2D_BWD_INPUT, { inputs: [dy, w, b ?? w], outputs: [dx], params: params(g, !!b), threads });
  return dx;
}

/** Raw launch (no autograd): dw[k,c,r,s] = Σ dy[n,k,·]·x[n,c,·]. */
export function convBwdWeight(g: Geometry, dy: Tensor, x: Tensor): Tensor {
  return convBwdWeightBias(g, dy, x, false)[0];
}

/** dw, and db[k] = Σ dy[n,k,·] when `bias` and the kernel family computes it along (else null: use channelSum). */
export function convBwdWeightBias(g: Geometry, dy: Tensor, x: Tensor, bias: boolean): [Tensor, Tensor | null] {
  if (familyFor('conv2d_bwd_weight', x) === 'tiled') return [convBwdWeightTiled(g, dy, x), null];
  const dw = empty(wShape(g), 'f32', 'conv2d_bwd_weight');
  // few input channels leave most lanes idle (e.g. RGB input): one (c, r, s) per lane instead
  if (family() === 'subgroup' && g.c < 8) {
    const db = bias ? empty([g.k * g.groups], 'f32', 'conv2d_bias_grad') : null;
    const KB = g.k <= 4 ? 4 : g.k <= 8 ? 8 : 16;
    const groups = g.groups * Math.ceil(g.k / KB) * Math.ceil((g.c * g.r * g.s) / SG_WG);
    run(CONV2D_BWD_WEIGHT_SG_TAPS[KB], { inputs: [dy, x], outputs: [dw, db], params: params(g, bias), groups });
    return [dw, db];
  }
  if (family() === 'subgroup') {
    const { kernel: kn, kb } = conv2dBwdWeightSg(g.r, g.s);
    const db = bias ? empty([g.k * g.groups], 'f32', 'conv2d_bias_grad') : null;
    run(kn, { inputs: [dy, x], outputs: [dw, db], params: params(g, bias), groups: g.groups * Math.ceil(g.k / kb) * Math.ceil(g.c / SG_WG) });
    return [dw, db];
  }
  const threads = g.groups * Math.ceil(g.k / 8) * Math.ceil(g.c / 4) * g.r * g.s;
  run(CONV2D_BWD_WEIGHT, { inputs: [dy, x], outputs: [dw], params: params(g, false), threads });
  return [dw, null];
}

// 'autocast': x is cast to f16 when the engine stores activations as f16 (then y, dy and dx are
// f16 too), else to f32; the weights stay f32 (master weights), rounded to f16 as the GEMM stages them
const conv2dOp = defineOp<[Tensor, Tensor, Tensor | null, Conv2dCallOptions], Geometry>('conv2d', {
  half: 'autocast',
  forward(ctx, x, w, b, { relu = false, ...opt }) {
    checkInts('conv2d', opt);
    const G = opt.groups ?? 1;
    checkConvInputs('conv2d', x, w, b, w.shape[0], w.shape[1] * G, G);
    const g = conv2dGeometry(x.shape, w.shape, opt);
    ctx.state = g;
    addMacs(geometryMacs(g));
    const y = convFwd(g, x, w, b, relu);
    if (relu) { ctx.save(x, w, y); markReluOutput(y); } else ctx.save(x, w);
    return y;
  },
  backward(ctx, dyIn) {
    const [x, w, y] = ctx.saved;
    const g = ctx.state;
    // fused ReLU: y > 0 where its input was; skipped when the consumer masked dy already (§42)
    const dy = y && !isMaskedBy(dyIn, y) ? reluMask(dyIn, y) : dyIn;
    try { return conv2dGrads(ctx.needsGrad, g, x, w, dy); } finally { if (dy !== dyIn) dy.dispose(); }
  },
});

function conv2dGrads(needsGrad: readonly boolean[], g: Geometry, x: Tensor, w: Tensor, dy: Tensor): (Tensor | null)[] {
  // x the output of a fused ReLU: its producer's mask pass is done here, in the store
  const mask = needsGrad[0] && family() === 'subgroup' && isReluOutput(x) ? x : null;
  const dx = needsGrad[0] ? convBwdInput(g, dy, w, null, mask) : null;
  if (dx && mask) markMasked(dx, mask);
  let [dw, db] = needsGrad[1] ? convBwdWeightBias(g, dy, x, needsGrad[2]) : [null, null];
  if (needsGrad[2] && !db) db = channelSum(dy);   // db[k] = Σ_{b,y,x} dy
  return [dx, dw, db];
}

/** 2-D convolution, NCHW, weight [out, in/groups, kh, kw], optional bias [out]; `relu` fuses a ReLU after it. */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, opt: Conv2dCallOptions = {}): Tensor {
  return conv2dOp(x, w, b, opt);
}

export function convTranspose2dGeometry(xs: readonly number[], ws: readonly number[], o: ConvTranspose2dOptions): Geometry {
  const [sh, sw] = pair(o.stride, 1), [ph, pw] = pair(o.padding, 0), [dh, dw] = pair(o.dilation, 1);
  const [oph, opw] = pair(o.outputPadding, 0);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) {
    throw new Error(`conv_transpose2d: output_padding ${oph},${opw} must be smaller than stride or dilation`);
  }
  const [n, cin, h, w] = xs, [, cout, r, s] = ws;
  const H = (h - 1) * sh - 2 * ph + dh * (r - 1) + oph + 1;
  const W = (w - 1) * sw - 2 * pw + dw * (s - 1) + opw + 1;
  if (H <= 0 || W <= 0) throw new Error(`conv_transpose2d: output size ${H}x${W} for input ${fmt(xs)} is not positive`);
  // The adjoint convolution maps [n,cout,H,W] → [n,cin,h,w] with weight [cin,cout,r,s].
  return { n, c: cout, h: H, w: W, k: cin, r, s, oh: h, ow: w, sh, sw, ph, pw, dh, dw, groups: 1 };
}

const convTranspose2dOp = defineOp<[Tensor, Tensor, Tensor | null, ConvTranspose2dOptions], Geometry>('convTranspose2d', {
  half: 'autocast',
  forward(ctx, x, w, b, opt) {
    checkInts('conv_transpose2d', opt);
    if ((opt.groups ?? 1) !== 1) throw new Error('conv_transpose2d: groups are not supported');
    checkConvInputs('conv_transpose2d', x, w, b, w.shape[1], w.shape[0]);
    const g = convTranspose2dGeometry(x.shape, w.shape, opt);
    ctx.state = g;
    addMacs(geometryMacs(g));
    ctx.save(x, w);
    return convBwdInput(g, x, w, b);
  },
  backward(ctx, dy) {
    const [x, w] = ctx.saved;
    const g = ctx.state;
    return [
      ctx.needsGrad[0] ? convFwd(g, dy, w, null) : null,
      ctx.needsGrad[1] ? convBwdWeight(g, x, dy) : null,
      ctx.needsGrad[2] ? channelSum(dy) : null,
    ];
  },
});

/** Transposed convolution (PyTorch ConvTranspose2d): weight [in, out, kh, kw], optional bias [out]. */
export function convTranspose2d(x: Tensor, w: Tensor, b: Tensor | null = null, opt: ConvTranspose2dOptions = {}): Tensor {
  return convTranspose2dOp(x, w, b, opt);
}
