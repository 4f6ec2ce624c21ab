// Workgroup-memory tiled GEMM for GPU-class devices (engine.kernelFamily 'tiled'; platform.md B6 recipe):
// C[m, n] = Σ_t A(m, t)·B(t, n) over 64×64 output tiles, 16-deep slices of t staged in workgroup
// memory, 256 invocations each computing 4×4 outputs. An instance supplies the operand loads and
// the store as WGSL functions, so matmul and the three convolution passes (implicit GEMM: im2col
// is computed in load_b, never stored) share one kernel. Split-K: workgroups can take a range of
// t each and write partial tiles that `sumSplits` adds up (the conv weight gradient reduces over
// every position of the batch, with few output tiles). A batch of independent GEMMs (grouped
// convolutions: one per group) runs in one launch: the instance reads the batch index from the
// private `gz`. On lavapipe this family is slow (barriers
// are emulated) and runs in tests only; numbers for GPUs are still to be measured.
import type { Param } from '../engine/params.js';
import type { Tensor } from '../engine/tensor.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

export const TILE_M = 64, TILE_N = 64, TILE_K = 16;
const WG = 256;

export interface TiledGemm {
  name: string;
  /** Declarations: bindings (group 0) and the uniform struct `u`, which must end with gm, gn, gt, chunk, gb (the batch). */
  decls: string;
  /** fn load_a(m: u32, t: u32) -> f32, fn load_b(t: u32, n: u32) -> f32, fn store(m: u32, n: u32, split: u32, v: f32). Called in range only; `gz` is the batch index. */
  fns: string;
  /** Which index is contiguous in memory for each operand, so neighbouring invocations load neighbours. */
  aContiguous: 'm' | 't';
  bContiguous: 'n' | 't';
  /**
   * B's index work split in two and hoisted (bContiguous 'n' only): with n contiguous, each
   * invocation stages the same column n of every slice, so `fn b_col(n: u32) -> BCol` runs once
   * per invocation; `fn b_row(t: u32) -> vec3i` runs once per t of a slice (16 invocations, into a
   * workgroup table, double-buffered); `fn load_b_at(r: vec3i, c: BCol) -> f32` then loads with
   * no divisions. Replaces load_b. For implicit GEMMs, whose im2col/col2im index maths (six
   * integer divisions a value) otherwise costs more than the multiply-adds (bench/NOTES.md §29).
   */
  bHoisted?: boolean;
}

/** Operand-slice loads: 1024 values per tile, 4 per invocation; `fast` is the index that varies fastest across invocations. */
const stage = (arr: string, rows: number, cols: number, fast: 'row' | 'col', load: (row: string, col: string) => string) => /* wgsl */ `
    for (var q = 0u; q < 4u; q++) {
      let e = lid + q * ${WG}u;
      let row = ${fast === 'col' ? `e / ${cols}u` : `e % ${rows}u`};
      let col = ${fast === 'col' ? `e % ${cols}u` : `e / ${rows}u`};
      ${arr}[row][col] = ${load('row', 'col')};
    }`;

export function tiledGemm(o: TiledGemm) {
  const hoist = o.bHoisted ?? false;
  if (hoist && o.bContiguous !== 'n') throw new Error(`${o.name}: bHoisted needs B contiguous in n`);
  // the B stage with the column hoisted: this invocation's column is lid % TILE_N in every slice
  const stageB = hoist ? /* wgsl */ `
    for (var q = 0u; q < 4u; q++) {
      let row = lid / ${TILE_N}u + q * ${WG / TILE_N}u;
      Bs[row][bcol_i] = select(0.0, load_b_at(Tr[slot][row], bcol), bcol_ok && t0 + row < t_end);
    }` : stage('Bs', TILE_K, TILE_N, o.bContiguous === 't' ? 'row' : 'col', (r, c) => `select(0.0, load_b(min(t0 + ${r}, u.gt - 1u), min(n0 + ${c}, u.gn - 1u)), n0 + ${c} < u.gn && t0 + ${r} < t_end)`);
  // As[t][m], Bs[t][n]: TILE_K rows of one tile's m (or n) range
  const wgsl = /* wgsl */ `
override WG: u32 = ${WG};
${o.decls}
var<workgroup> As: array<array<f32, ${TILE_M}>, ${TILE_K}>;
var<workgroup> Bs: array<array<f32, ${TILE_N}>, ${TILE_K}>;
${hoist ? `var<workgroup> Tr: array<array<vec3i, ${TILE_K}>, 2>;       // b_row of this slice and the next` : ''}
var<private> gz: u32;                                        // this workgroup's GEMM of the batch
${o.fns}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let grp = wid.y * nwg.x + wid.x;
  let tiles_n = (u.gn + ${TILE_N - 1}u) / ${TILE_N}u;
  let tiles_m = (u.gm + ${TILE_M - 1}u) / ${TILE_M}u;
  let nsplit = (u.gt + u.chunk - 1u) / u.chunk;
  let split = (grp / (tiles_m * tiles_n)) % nsplit;
  let zi = grp / (tiles_m * tiles_n * nsplit);
  if (zi >= u.gb) { return; }                                  // spare workgroups of a 2-D dispatch (uniform per workgroup)
  gz = zi;
  let m0 = ((grp / tiles_n) % tiles_m) * ${TILE_M}u;
  let n0 = (grp % tiles_n) * ${TILE_N}u;
  let t_begin = split * u.chunk;
  let t_end = min(t_begin + u.chunk, u.gt);
  let tx = lid % 16u;                                          // outputs m0 + ty + 16i, n0 + tx + 16j
  let ty = lid / 16u;
  var acc: array<vec4f, 4>;                                    // acc[i][j]
${hoist ? /* wgsl */ `  let bcol_i = lid % ${TILE_N}u;
  let bcol_ok = n0 + bcol_i < u.gn;
  let bcol = b_col(min(n0 + bcol_i, u.gn - 1u));
  if (lid < ${TILE_K}u) { Tr[0][lid] = b_row(min(t_begin + lid, u.gt - 1u)); }
  workgroupBarrier();
  var slot = 0u;` : ''}
  for (var t0 = t_begin; t0 < t_end; t0 += ${TILE_K}u) {
${stage('As', TILE_K, TILE_M, o.aContiguous === 't' ? 'row' : 'col', (r, c) => `select(0.0, load_a(min(m0 + ${c}, u.gm - 1u), min(t0 + ${r}, u.gt - 1u)), m0 + ${c} < u.gm && t0 + ${r} < t_end)`)}
${stageB}
    workgroupBarrier();
${hoist ? `    if (lid < ${TILE_K}u) { Tr[slot ^ 1u][lid] = b_row(min(t0 + ${TILE_K}u + lid, u.gt - 1u)); }   // next slice's rows
    slot = slot ^ 1u;` : ''}
    for (var t = 0u; t < ${TILE_K}u; t++) {
      let a = vec4f(As[t][ty], As[t][ty + 16u], As[t][ty + 32u], As[t][ty + 48u]);
      let b = vec4f(Bs[t][tx], Bs[t][tx + 16u], Bs[t][tx + 32u], Bs[t][tx + 48u]);
      acc[0] += a[0] * b; acc[1] += a[1] * b; acc[2] += a[2] * b; acc[3] += a[3] * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (m < u.gm && n < u.gn) { store(m, n, split, acc[i][j]); }
    }
  }
}`;
  return kernel(o.name, wgsl, { WG });
}

/** Splits of the t range: enough workgroups to fill a large GPU, each with at least 64 values of t. */
export function chooseSplits(m: number, n: number, t: number): number {
  const tiles = Math.ceil(m / TILE_M) * Math.ceil(n / TILE_N);
  return Math.max(1, Math.min(Math.ceil(256 / tiles), Math.floor(t / 64)));
}

/** The per-split t range, a multiple of TILE_K, and the number of splits actually used. */
export function splitChunk(t: number, splits: number): { chunk: number; splits: number } {
  const chunk = Math.ceil(Math.ceil(t / splits) / TILE_K) * TILE_K;
  return { chunk, splits: Math.ceil(t / chunk) };
}

/** Launches a tiled GEMM instance (`batch` of them): uniform params = instance fields, then gm, gn, gt, chunk, gb. */
export function runTiled(k: ReturnType<typeof tiledGemm>, r: { inputs: Tensor[]; outputs: (Tensor | null)[]; params: Param[]; m: number; n: number; t: number; splits?: number; batch?: number }): number {
  const { chunk, splits } = splitChunk(r.t, r.splits ?? 1);
  const batch = r.batch ?? 1;
  const groups = Math.ceil(r.m / TILE_M) * Math.ceil(r.n / TILE_N) * splits * batch;
  run(k, { inputs: r.inputs, outputs: r.outputs, params: [...r.params, r.m, r.n, r.t, chunk, batch], groups });
  return splits;
}

const SUM_SPLITS = kernel('sum_splits', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, splits: u32 }
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  var s = 0.0;
  for (var k = 0u; k < u.splits; k++) { s += part[k * u.n + idx]; }
  y[idx] = s;
}`);

/** y[i] = Σ_s part[s·n + i]: adds the partial results of a split-K launch. */
export function sumSplits(part: Tensor, y: Tensor, splits: number): void {
  run(SUM_SPLITS, { inputs: [part], outputs: [y], params: [y.size, splits], threads: y.size });
}
