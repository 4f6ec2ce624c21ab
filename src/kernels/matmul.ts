// matmul: C[m,n] = Σ_k A[m,k]·B[k,n], operands read through (row, col) strides so transposes are
// free; each invocation computes a register block of C from global memory (fast on lavapipe, see
// platform.md): 8×8 in the portable kernel, 8 rows × 16 columns in the subgroup one; or, with
// the tiled family, the workgroup-memory tiled GEMM meant for GPUs (tiled.ts).
// linear: y = x·Wᵀ + b (PyTorch Linear, W: [out, in]).
import { defineOp } from '../engine/autograd.js';
import { addMacs } from '../engine/flops.js';
import { fmt } from '../engine/shape.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { getEngine } from '../engine/engine.js';
import { add } from './elementwise.js';
import { SG_HEAD, SG_J, SG_K, SG_WG, broadcast16, fma16 } from './subgroup.js';
import { runTiled, tiledGemm } from './tiled.js';
import { MAIN_1D, kernel, run } from './wgsl.js';

/** Params and bindings of the portable and subgroup matmul kernels (same launch arguments). */
const MATMUL_DECLS = /* wgsl */ `
struct P { m: u32, n: u32, k: u32, sam: u32, sak: u32, sbk: u32, sbn: u32, tiles_n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> u: P;`;

const MATMUL = kernel('matmul', /* wgsl */ `
override WG: u32 = 64;
${MATMUL_DECLS}
${MAIN_1D}
  let m0 = (idx / u.tiles_n) * 8u;                  // idx = tile_row·tiles_n + tile_col; 8×8 block of C
  let n0 = (idx % u.tiles_n) * 8u;
  if (m0 >= u.m) { return; }
  var lo: array<vec4f, 8>;                          // lo[i] = C[m0+i, n0..n0+3]
  var hi: array<vec4f, 8>;                          // hi[i] = C[m0+i, n0+4..n0+7]
  for (var kk = 0u; kk < u.k; kk++) {
    var b0 = vec4f(0.0);
    var b1 = vec4f(0.0);
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < u.n) { b0[j] = b[kk * u.sbk + (n0 + j) * u.sbn]; }
      if (n0 + 4u + j < u.n) { b1[j] = b[kk * u.sbk + (n0 + 4u + j) * u.sbn]; }
    }
    for (var i = 0u; i < 8u; i++) {
      if (m0 + i < u.m) {
        let av = a[(m0 + i) * u.sam + kk * u.sak];
        lo[i] += av * b0;
        hi[i] += av * b1;
      }
    }
  }
  for (var i = 0u; i < 8u; i++) {
    for (var j = 0u; j < 8u; j++) {
      if (m0 + i < u.m && n0 + j < u.n) { c[(m0 + i) * u.n + n0 + j] = select(hi[i][j % 4u], lo[i][j % 4u], j < 4u); }
    }
  }
}`);

// Subgroup variant (engine.subgroups, as the conv kernels): the 16-column block of B is uniform per
// workgroup, so each lane loads 2 of its values per k and broadcasts them; each lane computes
// 8 rows × 16 columns: 10 loads per 128 FMAs (the portable kernel: 16 per 64).
const MATMUL_SG = kernel('matmul_sg', /* wgsl */ `enable subgroups;
override WG: u32 = ${SG_WG};
${MATMUL_DECLS}
${SG_HEAD}
  let n0 = (grp % u.tiles_n) * ${SG_K}u;                       // grp = row_group·tiles_n + tile_col
  let m0 = ((grp / u.tiles_n) * WG + lid) * ${SG_J}u;         // this lane's rows m0..m0+7
  let na = min(n0 + (sid & 7u), u.n - 1u) * u.sbn;             // this lane's B columns
  let nb = min(n0 + 8u + (sid & 7u), u.n - 1u) * u.sbn;
  var acc: array<array<vec4f, 4>, ${SG_J}>;                    // acc[j][v][i] = C[m0 + j, n0 + 4v + i]
  var wv: array<vec4f, 4>;
  for (var kk = 0u; kk < u.k; kk++) {
    let la = b[kk * u.sbk + na];
    let lb = b[kk * u.sbk + nb];
    ${broadcast16('la', 'lb')}
    for (var j = 0u; j < ${SG_J}u; j++) {
      let av = a[min(m0 + j, u.m - 1u) * u.sam + kk * u.sak];   // clamped: every lane must reach the broadcasts
      ${fma16('av')}
    }
  }
  for (var j = 0u; j < ${SG_J}u; j++) {
    if (m0 + j >= u.m) { break; }
    for (var q = 0u; q < ${SG_K}u; q++) {
      if (n0 + q < u.n) { c[(m0 + j) * u.n + n0 + q] = acc[j][q / 4u][q % 4u]; }
    }
  }
}`, { WG: SG_WG });

// Tiled variant (engine.kernelFamily 'tiled'): the shared workgroup-memory GEMM with strided operand loads.
/** Exported for the Node host's subgroup-matrix probe (src/node/device.ts), which builds its tensor-core variant. */
export const MATMUL_TILED = tiledGemm({
  name: 'matmul_tiled',
  decls: /* wgsl */ `
struct P { sam: u32, sak: u32, sbk: u32, sbn: u32, gm: u32, gn: u32, gt: u32, chunk: u32, gb: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> u: P;`,
  fns: /* wgsl */ `
fn load_a(m: u32, t: u32) -> f32 { return a[m * u.sam + t * u.sak]; }
fn load_b(t: u32, n: u32) -> f32 { return b[t * u.sbk + n * u.sbn]; }
fn store(m: u32, n: u32, split: u32, v: f32) { c[m * u.gn + n] = v; }`,
  aContiguous: 't', bContiguous: 'n',
});

/** An operand as (tensor, rows, cols, rowStride, colStride). */
interface Operand { t: Tensor; rows: number; cols: number; rs: number; cs: number }
const plain = (t: Tensor): Operand => ({ t, rows: t.shape[0], cols: t.shape[1], rs: t.shape[1], cs: 1 });
const transposed = (o: Operand): Operand => ({ t: o.t, rows: o.cols, cols: o.rows, rs: o.cs, cs: o.rs });

export function matmulRaw(a: Operand, b: Operand): Tensor {
  const c = empty([a.rows, b.cols], 'f32', 'matmul');
  if (getEngine().subgroups && getEngine().precision === 'f32') {
    const tilesN = Math.ceil(b.cols / SG_K);
    run(MATMUL_SG, {
      inputs: [a.t, b.t], outputs: [c], groups: Math.ceil(a.rows / (SG_J * SG_WG)) * tilesN,
      params: [a.rows, b.cols, a.cols, a.rs, a.cs, b.rs, b.cs, tilesN],
    });
    return c;
  }
  if (getEngine().kernelFamily === 'tiled' || getEngine().precision === 'f16') {   // f16 operands: the tiled GEMM's f16 variant
    runTiled(MATMUL_TILED, { inputs: [a.t, b.t], outputs: [c], params: [a.rs, a.cs, b.rs, b.cs], m: a.rows, n: b.cols, t: a.cols });
    return c;
  }
  const tilesN = Math.ceil(b.cols / 8);
  run(MATMUL, {
    inputs: [a.t, b.t], outputs: [c], threads: Math.ceil(a.rows / 8) * tilesN,
    params: [a.rows, b.cols, a.cols, a.rs, a.cs, b.rs, b.cs, tilesN],
  });
  return c;
}

const matmulOp = defineOp<[Tensor, Tensor, boolean], boolean>('matmul', {
  forward(ctx, a, b, transB) {
    assertDType('matmul', a, 'f32', 'a');
    assertDType('matmul', b, 'f32', 'b');
    if (a.rank !== 2 || b.rank !== 2) throw new Error(`matmul: operands must be 2-D, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
    const B = transB ? transposed(plain(b)) : plain(b);
    if (a.shape[1] !== B.rows) {
      throw new Error(`matmul: inner dimensions differ: ${fmt(a.shape)} @ ${fmt(b.shape)}${transB ? 'ᵀ' : ''}`);
    }
    ctx.state = transB;
    ctx.save(a, b);
    addMacs(a.shape[0] * a.shape[1] * B.cols);
    return matmulRaw(plain(a), B);
  },
  backward(ctx, dy) {
    const [a, b] = ctx.saved;
    const transB = ctx.state;
    const B = transB ? transposed(plain(b)) : plain(b);
    const dA = ctx.needsGrad[0] ? matmulRaw(plain(dy), transposed(B)) : null;          // dA = dC·Bᵀ
    // dB = Aᵀ·dC, or for Bᵀ operands (dB)ᵀ = dCᵀ·A
    const dB = ctx.needsGrad[1] ? (transB ? matmulRaw(transposed(plain(dy)), plain(a)) : matmulRaw(transposed(plain(a)), plain(dy))) : null;
    return [dA, dB];
  },
});

/** 2-D matrix product a @ b. */
export const matmul = (a: Tensor, b: Tensor): Tensor => matmulOp(a, b, false);

/** Fully connected layer: x [batch, in] · Wᵀ (W: [out, in]) + b [out]. */
export function linear(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  const y = matmulOp(x, w, true);
  return b ? add(y, b) : y;
}
