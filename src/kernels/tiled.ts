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
import { type Engine, type MatrixShape, getEngine } from '../engine/engine.js';
import type { Param } from '../engine/params.js';
import type { Kernel } from '../engine/pipeline-cache.js';
import type { Tensor } from '../engine/tensor.js';
import { TO_H } from '../engine/builtins.js';
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
  /**
   * The instance binds f16 arrays (activations stored as f16, engine.storesHalf): the shader enables
   * f16 and gets `to_h` for its store. `aHalf`/`bHalf`: load_a / load_b (load_b_at) return f16,
   * staged as they are in the f16 variants and widened in the f32 one.
   */
  f16?: boolean;
  aHalf?: boolean;
  bHalf?: boolean;
}

/**
 * The output tile and each invocation's block of it: TM×TN outputs, RM×RN per invocation at
 * strides TM/RM and TN/RN (256 invocations). SQUARE is the family's tile; NARROW (engine.narrowTiles)
 * is for GEMMs of at most 16 rows, the 16-channel layers, where three quarters of a square tile's
 * rows would be padding (bench/NOTES.md "Next" 2). The subgroup-matrix variant is square only.
 */
export interface TileShape { TM: number; TN: number; RM: number; RN: number }
export const SQUARE: TileShape = { TM: TILE_M, TN: TILE_N, RM: 4, RN: 4 };
export const NARROW: TileShape = { TM: 16, TN: 256, RM: 1, RN: 16 };
/** The square tile with contiguous 4×4 blocks per invocation and vec4 workgroup reads (engine.vecTiles; f32 only). */
export const SQUARE_VEC: TileShape = { TM: TILE_M, TN: TILE_N, RM: 4, RN: 4 };
/**
 * 128×128 tiles, 8×8 outputs per invocation (engine.largeTiles, bench/NOTES.md "Next" 2): twice the
 * multiply-adds per workgroup-memory read of the square tile's 4×4, for GEMMs of at least 128 rows.
 * Needs 16.5 KiB of workgroup memory with the hoisted rows (f32), beyond WebGPU's default 16 KiB.
 */
export const LARGE: TileShape = { TM: 128, TN: 128, RM: 8, RN: 8 };
/** Workgroup memory of a tile's f32 variant: both operand slices and the hoisted-row table. */
export const tileBytes = (g: TileShape): number => TILE_K * (g.TM + g.TN) * 4 + 2 * TILE_K * 16;

/** Operand-slice loads: rows×cols values, rows·cols/256 per invocation; `fast` is the index that varies fastest across invocations. */
const stage = (arr: string, rows: number, cols: number, fast: 'row' | 'col', load: (row: string, col: string) => string, half: boolean, conv: (e: string) => string) => /* wgsl */ `
    for (var q = 0u; q < ${(rows * cols) / WG}u; q++) {
      let e = lid + q * ${WG}u;
      let row = ${fast === 'col' ? `e / ${cols}u` : `e % ${rows}u`};
      let col = ${fast === 'col' ? `e % ${cols}u` : `e / ${rows}u`};
      ${half ? `${arr}[row * ${cols}u + col] = ${conv(load('row', 'col'))};` : `${arr}[row][col] = ${conv(load('row', 'col'))};`}
    }`;

/** How a loaded operand value becomes a staged one: f32 → f16 rounds (to_h), f16 → f32 widens, else as is. */
const staging = (half: boolean, loadsHalf: boolean) => (e: string) => (half === loadsHalf ? e : half ? `to_h(${e})` : `f32(${e})`);

/**
 * Operand precision of a GEMM kernel: f32 (the original), f16 operands with f32 sums on the
 * scalar core, or f16 operands on subgroup matrices (tensor cores) of the given shape.
 */
export type GemmVariant = { kind: 'f32' } | { kind: 'f16' } | { kind: 'mma'; shape: MatrixShape };

/** Workgroup memory of the subgroup-matrix variant: f16 operand slices, the f32 result tile, the hoisted rows. */
export const MMA_WORKGROUP_BYTES = 2 * TILE_K * TILE_M * 2 + TILE_M * TILE_N * 4 + 2 * TILE_K * 16;

/** Whether a subgroup-matrix shape fits the 64×64×16 tile: whole blocks, and every subgroup the same number of them. */
export function matrixFits(s: { M: number; N: number; K: number; lanes: number }): boolean {
  const blocks = (TILE_M / s.M) * (TILE_N / s.N), subgroups = WG / s.lanes;
  return TILE_M % s.M === 0 && TILE_N % s.N === 0 && TILE_K % s.K === 0 && WG % s.lanes === 0 &&
    blocks % subgroups === 0 && (TILE_N / s.N) % (blocks / subgroups) === 0;
}

/** The subgroup-matrix core: per 16-deep slice, each subgroup multiplies its R result blocks (one block row). */
function mmaCore(s: MatrixShape) {
  const BN = TILE_N / s.N, R = (TILE_M / s.M) * BN / (WG / s.lanes);
  const left = `subgroup_matrix_left<f16, ${s.K}, ${s.M}>`, right = `subgroup_matrix_right<f16, ${s.N}, ${s.K}>`, result = `subgroup_matrix_result<f32, ${s.N}, ${s.M}>`;
  const load = (type: string, arr: string, off: string, colMajor: boolean) => s.syntax === 'template'
    ? `subgroupMatrixLoad<${type}, ${colMajor ? 'col_major' : 'row_major'}>(&${arr}, ${off}, ${TILE_M}u)`
    : `subgroupMatrixLoad<${type}>(&${arr}, ${off}, ${colMajor}, ${TILE_M}u)`;
  const store = (off: string, v: string) => s.syntax === 'template'
    ? `subgroupMatrixStore<row_major>(&Cs, ${off}, ${v}, ${TILE_N}u);`
    : `subgroupMatrixStore(&Cs, ${off}, ${v}, false, ${TILE_N}u);`;
  const rs = Array.from({ length: R }, (_, r) => r);
  return {
    // the subgroup's blocks q = sg·R + r lie in block row bm, columns bn0 … bn0 + R − 1
    init: /* wgsl */ `
  let sg = lid / ${s.lanes}u;
  let bm = (sg * ${R}u) / ${BN}u;
  let bn0 = (sg * ${R}u) % ${BN}u;
  ${rs.map((r) => `var acc${r} = ${result}();`).join(' ')}`,
    // As[t][m]: the left block (m, k) at (kk + k)·64 + bm·M + m is column-major; Bs[t][n] row-major
    body: /* wgsl */ `
    for (var kk = 0u; kk < ${TILE_K}u; kk += ${s.K}u) {
      let l = ${load(left, 'As', `kk * ${TILE_M}u + bm * ${s.M}u`, true)};
      ${rs.map((r) => `acc${r} = subgroupMatrixMultiplyAccumulate(l, ${load(right, 'Bs', `kk * ${TILE_N}u + (bn0 + ${r}u) * ${s.N}u`, false)}, acc${r});`).join('\n      ')}
    }`,
    epilogue: /* wgsl */ `
  ${rs.map((r) => store(`bm * ${s.M * TILE_N}u + (bn0 + ${r}u) * ${s.N}u`, `acc${r}`)).join('\n  ')}
  workgroupBarrier();`,
  };
}

/** The entry point up to this workgroup's tile (m0, n0), split (t_begin … t_end) and GEMM of the batch (gz). */
const PROLOGUE = (TM: number, TN: number) => /* wgsl */ `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let grp = wid.y * nwg.x + wid.x;
  let tiles_n = (u.gn + ${TN - 1}u) / ${TN}u;
  let tiles_m = (u.gm + ${TM - 1}u) / ${TM}u;
  let nsplit = (u.gt + u.chunk - 1u) / u.chunk;
  let split = (grp / (tiles_m * tiles_n)) % nsplit;
  let zi = grp / (tiles_m * tiles_n * nsplit);
  if (zi >= u.gb) { return; }                                  // spare workgroups of a 2-D dispatch (uniform per workgroup)
  gz = zi;
  let m0 = ((grp / tiles_n) % tiles_m) * ${TM}u;
  let n0 = (grp % tiles_n) * ${TN}u;
  let t_begin = split * u.chunk;
  let t_end = min(t_begin + u.chunk, u.gt);`;

/**
 * The f32 square tile with vec4 workgroup reads (engine.vecTiles, bench/NOTES.md §54): each
 * invocation owns 4 consecutive rows and 4 consecutive columns, so its operands of one t are one
 * vec4 each in workgroup memory (one 16-byte read instead of four), and each invocation stages
 * one vec4 of A and one of B per slice (4 consecutive m, or n, at one t). Where an operand is
 * contiguous in t, consecutive invocations take consecutive t (coalesced global loads).
 */
function tiledSourceVec(o: TiledGemm): string {
  const hoist = o.bHoisted ?? false;
  const wa = (e: string) => (o.aHalf ? `f32(${e})` : e), wb = (e: string) => (o.bHalf ? `f32(${e})` : e);
  const quad = (v: (c: number) => string) => `vec4f(${[0, 1, 2, 3].map(v).join(', ')})`;
  const aT = o.aContiguous === 't', bT = o.bContiguous === 't';
  return /* wgsl */ `${o.f16 || o.aHalf || o.bHalf ? `enable f16;\n${TO_H}` : ''}
override WG: u32 = ${WG};
${o.decls}
var<workgroup> As: array<array<vec4f, 16>, ${TILE_K}>;    // As[t][q]: rows 4q … 4q + 3 of the tile
var<workgroup> Bs: array<array<vec4f, 16>, ${TILE_K}>;    // Bs[t][q]: columns 4q … 4q + 3
${hoist ? `var<workgroup> Tr: array<array<vec3i, ${TILE_K}>, 2>;` : ''}
var<private> gz: u32;
${o.fns}
${PROLOGUE(TILE_M, TILE_N)}
  let tx = lid % 16u;                                     // outputs m0 + 4ty + i, n0 + 4tx + j
  let ty = lid / 16u;
  let ar = ${aT ? 'lid % 16u' : 'lid / 16u'};             // A staged: t0 + ar, rows m0 + 4aq …
  let aq = ${aT ? 'lid / 16u' : 'lid % 16u'};
  let br = ${bT ? 'lid % 16u' : 'lid / 16u'};             // B staged: t0 + br, columns n0 + 4bq …
  let bq = ${bT ? 'lid / 16u' : 'lid % 16u'};
  var acc: array<vec4f, 4>;
${hoist ? /* wgsl */ `${[0, 1, 2, 3].map((c) => `  let bn${c} = n0 + 4u * bq + ${c}u;
  let bc${c} = b_col(min(bn${c}, u.gn - 1u));`).join('\n')}
  if (lid < ${TILE_K}u) { Tr[0][lid] = b_row(min(t_begin + lid, u.gt - 1u)); }
  workgroupBarrier();
  var slot = 0u;` : ''}
  for (var t0 = t_begin; t0 < t_end; t0 += ${TILE_K}u) {
    let at = t0 + ar;
    As[ar][aq] = ${quad((c) => `select(0.0, ${wa(`load_a(min(m0 + 4u * aq + ${c}u, u.gm - 1u), min(at, u.gt - 1u))`)}, m0 + 4u * aq + ${c}u < u.gm && at < t_end)`)};
    let bt = t0 + br;
${hoist ? `    let tr = Tr[slot][br];
    Bs[br][bq] = ${quad((c) => `select(0.0, ${wb(`load_b_at(tr, bc${c})`)}, bn${c} < u.gn && bt < t_end)`)};`
    : `    Bs[br][bq] = ${quad((c) => `select(0.0, ${wb(`load_b(min(bt, u.gt - 1u), min(n0 + 4u * bq + ${c}u, u.gn - 1u))`)}, n0 + 4u * bq + ${c}u < u.gn && bt < t_end)`)};`}
    workgroupBarrier();
${hoist ? `    if (lid < ${TILE_K}u) { Tr[slot ^ 1u][lid] = b_row(min(t0 + ${TILE_K}u + lid, u.gt - 1u)); }
    slot = slot ^ 1u;` : ''}
    for (var t = 0u; t < ${TILE_K}u; t++) {
      let a = As[t][ty];
      let b = Bs[t][tx];
      acc[0] += a[0] * b; acc[1] += a[1] * b; acc[2] += a[2] * b; acc[3] += a[3] * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * ty + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + 4u * tx + j;
      if (m < u.gm && n < u.gn) { store(m, n, split, acc[i][j]); }
    }
  }
}`;
}

function tiledSource(o: TiledGemm, v: GemmVariant, g: TileShape = SQUARE): string {
  if (g === SQUARE_VEC) {
    if (v.kind !== 'f32') throw new Error(`${o.name}: vec4 tiles are f32 only`);
    return tiledSourceVec(o);
  }
  const hoist = o.bHoisted ?? false;
  const half = v.kind !== 'f32', mma = v.kind === 'mma' ? mmaCore(v.shape) : null;
  const { TM, TN } = g, square = g === SQUARE;
  if (mma && !square) throw new Error(`${o.name}: the subgroup-matrix variant has square tiles only`);
  const convA = staging(half, o.aHalf ?? false), convB = staging(half, o.bHalf ?? false);
  const bsAt = (row: string, col: string) => (half ? `Bs[${row} * ${TN}u + ${col}]` : `Bs[${row}][${col}]`);
  // the B stage with the column hoisted: this invocation's column is lid % TN in every slice
  const stageB = hoist ? /* wgsl */ `
    for (var q = 0u; q < ${(TILE_K * TN) / WG}u; q++) {
      let row = lid / ${TN}u + q * ${WG / TN}u;
      ${bsAt('row', 'bcol_i')} = ${convB(`select(0.0, load_b_at(Tr[slot][row], bcol), bcol_ok && t0 + row < t_end)`)};
    }` : stage('Bs', TILE_K, TN, o.bContiguous === 't' ? 'row' : 'col', (r, c) => `select(0.0, load_b(min(t0 + ${r}, u.gt - 1u), min(n0 + ${c}, u.gn - 1u)), n0 + ${c} < u.gn && t0 + ${r} < t_end)`, half, convB);
  const h = (e: string) => (half ? `f32(${e})` : e);
  const asAt = (t: string, m: string) => (half ? `As[${t} * ${TM}u + ${m}]` : `As[${t}][${m}]`);
  // other tiles: RM rows × RN columns an invocation, at strides SM and SN; acc[i·RN/4 + q] holds columns 4q…4q+3 of row i
  const SM = TM / g.RM, SN = TN / g.RN, Q = g.RN / 4;
  const genBody = /* wgsl */ `
    for (var t = 0u; t < ${TILE_K}u; t++) {
      ${Array.from({ length: Q }, (_, q) => `let b${q} = vec4f(${[0, 1, 2, 3].map((c) => h(bsAt('t', `tx + ${SN * (4 * q + c)}u`))).join(', ')});`).join('\n      ')}
      ${Array.from({ length: g.RM }, (_, i) => `let a${i} = ${h(asAt('t', `ty + ${SM * i}u`))};`).join(' ')}
      ${Array.from({ length: g.RM }, (_, i) => Array.from({ length: Q }, (_, q) => `acc[${i * Q + q}] += a${i} * b${q};`).join(' ')).join('\n      ')}
    }`;
  const genStore = /* wgsl */ `
  for (var i = 0u; i < ${g.RM}u; i++) {
    let m = m0 + ty + ${SM}u * i;
    for (var j = 0u; j < ${g.RN}u; j++) {
      let n = n0 + tx + ${SN}u * j;
      if (m < u.gm && n < u.gn) { store(m, n, split, acc[i * ${Q}u + j / 4u][j % 4u]); }
    }
  }`;
  const scalarBody = square ? /* wgsl */ `
    for (var t = 0u; t < ${TILE_K}u; t++) {
      let a = vec4f(${['ty', 'ty + 16u', 'ty + 32u', 'ty + 48u'].map((m) => h(asAt('t', m))).join(', ')});
      let b = vec4f(${['tx', 'tx + 16u', 'tx + 32u', 'tx + 48u'].map((n) => h(bsAt('t', n))).join(', ')});
      acc[0] += a[0] * b; acc[1] += a[1] * b; acc[2] += a[2] * b; acc[3] += a[3] * b;
    }` : genBody;
  const scalarStore = !square ? genStore : /* wgsl */ `
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (m < u.gm && n < u.gn) { store(m, n, split, ${mma ? `Cs[(ty + 16u * i) * ${TILE_N}u + tx + 16u * j]` : 'acc[i][j]'}); }
    }
  }`;
  // As[t][m], Bs[t][n]: TILE_K rows of one tile's m (or n) range (flat f16 arrays in the half variants)
  return /* wgsl */ `${half || o.f16 ? 'enable f16;\n' : ''}${mma ? 'enable subgroups;\nenable chromium_experimental_subgroup_matrix;\n' : ''}
override WG: u32 = ${WG};
${o.decls}
${half ? `var<workgroup> As: array<f16, ${TILE_K * TM}>;
var<workgroup> Bs: array<f16, ${TILE_K * TN}>;` : `var<workgroup> As: array<array<f32, ${TM}>, ${TILE_K}>;
var<workgroup> Bs: array<array<f32, ${TN}>, ${TILE_K}>;`}${half || o.f16 ? TO_H : ''}
${mma ? `var<workgroup> Cs: array<f32, ${TILE_M * TILE_N}>;                 // the result tile, row-major` : ''}
${hoist ? `var<workgroup> Tr: array<array<vec3i, ${TILE_K}>, 2>;       // b_row of this slice and the next` : ''}
var<private> gz: u32;                                        // this workgroup's GEMM of the batch
${o.fns}
${PROLOGUE(TM, TN)}
  let tx = lid % ${SN}u;                                          // outputs m0 + ty + ${SM}i, n0 + tx + ${SN}j
  let ty = lid / ${SN}u;
${mma ? mma.init : `  var acc: array<vec4f, ${g.RM * Q}>;                                    // ${square ? 'acc[i][j]' : 'acc[i·RN/4 + j/4][j % 4]'}`}
${hoist ? /* wgsl */ `  let bcol_i = lid % ${TN}u;
  let bcol_ok = n0 + bcol_i < u.gn;
  let bcol = b_col(min(n0 + bcol_i, u.gn - 1u));
  if (lid < ${TILE_K}u) { Tr[0][lid] = b_row(min(t_begin + lid, u.gt - 1u)); }
  workgroupBarrier();
  var slot = 0u;` : ''}
  for (var t0 = t_begin; t0 < t_end; t0 += ${TILE_K}u) {
${stage('As', TILE_K, TM, o.aContiguous === 't' ? 'row' : 'col', (r, c) => `select(0.0, load_a(min(m0 + ${c}, u.gm - 1u), min(t0 + ${r}, u.gt - 1u)), m0 + ${c} < u.gm && t0 + ${r} < t_end)`, half, convA)}
${stageB}
    workgroupBarrier();
${hoist ? `    if (lid < ${TILE_K}u) { Tr[slot ^ 1u][lid] = b_row(min(t0 + ${TILE_K}u + lid, u.gt - 1u)); }   // next slice's rows
    slot = slot ^ 1u;` : ''}
${mma ? mma.body : scalarBody}
    workgroupBarrier();
  }
${mma ? mma.epilogue : ''}
${scalarStore}
}`;
}

/** A GEMM instance; `runTiled` builds (once) and launches the variant of the engine's precision. */
export interface TiledKernel { readonly spec: TiledGemm; readonly variants: Map<string, Kernel> }

export function tiledGemm(o: TiledGemm): TiledKernel {
  if ((o.bHoisted ?? false) && o.bContiguous !== 'n') throw new Error(`${o.name}: bHoisted needs B contiguous in n`);
  return { spec: o, variants: new Map() };
}

/** The engine's variant: f32, f16 operands on the scalar core, or on subgroup matrices where the engine has a shape. */
const F32: GemmVariant = { kind: 'f32' }, F16: GemmVariant = { kind: 'f16' };
export function gemmVariant(e: Engine): GemmVariant {
  if (e.precision === 'f32') return F32;   // (no object per launch on the common paths)
  return e.matrix ? { kind: 'mma', shape: e.matrix } : F16;
}

/**
 * The tile of a GEMM of m rows: NARROW for at most 16 rows, LARGE for at least 128, where the engine
 * asks for them (not with subgroup matrices; LARGE where the device has the workgroup memory), else SQUARE.
 */
export function tileFor(m: number, v: GemmVariant, e: Engine): TileShape {
  if (v.kind === 'mma') return SQUARE;
  if (e.narrowTiles && m <= NARROW.TM) return NARROW;
  if (e.largeTiles && m >= LARGE.TM && e.limits.maxComputeWorkgroupStorageSize >= tileBytes(LARGE)) return LARGE;
  return e.vecTiles && v.kind === 'f32' ? SQUARE_VEC : SQUARE;
}

/** The kernel of one variant and tile (built once per instance, variant and tile). */
export function tiledKernel(k: TiledKernel, v: GemmVariant, g: TileShape = SQUARE): Kernel {
  const key = (v.kind === 'mma' ? `mma${v.shape.M}x${v.shape.N}x${v.shape.K}_${v.shape.lanes}${v.shape.syntax === 'bool' ? 'b' : ''}` : v.kind) +
    (g === SQUARE ? '' : g === SQUARE_VEC ? '_vec4' : `_${g.TM}x${g.TN}`);
  let kn = k.variants.get(key);
  if (!kn) {
    if (v.kind === 'mma' && !matrixFits(v.shape)) throw new Error(`${k.spec.name}: subgroup matrix ${v.shape.M}×${v.shape.N}×${v.shape.K} with ${v.shape.lanes} lanes does not fit a ${TILE_M}×${TILE_N}×${TILE_K} tile`);
    kn = kernel(key === 'f32' ? k.spec.name : `${k.spec.name}_${key.replace(/^f32_/, '')}`, tiledSource(k.spec, v, g), { WG });
    k.variants.set(key, kn);
  }
  return kn;
}

/** Splits of the t range: enough workgroups to fill a large GPU, each with at least 64 values of t. */
export function chooseSplits(m: number, n: number, t: number, g: TileShape = SQUARE): number {
  const tiles = Math.ceil(m / g.TM) * Math.ceil(n / g.TN);
  return Math.max(1, Math.min(Math.ceil(256 / tiles), Math.floor(t / 64)));
}

/** The per-split t range, a multiple of TILE_K, and the number of splits actually used. */
export function splitChunk(t: number, splits: number): { chunk: number; splits: number } {
  const chunk = Math.ceil(Math.ceil(t / splits) / TILE_K) * TILE_K;
  return { chunk, splits: Math.ceil(t / chunk) };
}

/** Launches a tiled GEMM instance (`batch` of them): uniform params = instance fields, then gm, gn, gt, chunk, gb. */
export function runTiled(k: TiledKernel, r: { inputs: Tensor[]; outputs: (Tensor | null)[]; params: Param[]; m: number; n: number; t: number; splits?: number; batch?: number }): number {
  const { chunk, splits } = splitChunk(r.t, r.splits ?? 1);
  const batch = r.batch ?? 1;
  const e = getEngine(), v = gemmVariant(e), g = tileFor(r.m, v, e);
  const groups = Math.ceil(r.m / g.TM) * Math.ceil(r.n / g.TN) * splits * batch;
  run(tiledKernel(k, v, g), { inputs: r.inputs, outputs: r.outputs, params: [...r.params, r.m, r.n, r.t, chunk, batch], groups });
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
