// strided copy: y[out_off + Σ c_d·so_d] = alpha · x[in_off + Σ c_d·si_d] over a copy shape (rank ≤ 6).
// Serves expand (stride 0), slicing and concatenation. Shape contract: any; buffers are flat.
import { f32, slots8 } from '../engine/params.js';
import { type Shape, contiguousStrides, numel } from '../engine/shape.js';
import { type Tensor, empty } from '../engine/tensor.js';
import { MAIN_1D, at, kernel, run, storage, storeIdx } from './wgsl.js';

// (f32, or f16 activations: concat of f16 tensors)
const stridedCopyKernel = (half: boolean) => { const h = storage('f32', half); return kernel(`strided_copy${h.sfx}`, /* wgsl */ `${h.head}
override WG: u32 = 64;
struct P { n: u32, rank: u32, in_off: u32, out_off: u32, alpha: f32, p0: u32, p1: u32, p2: u32,
           shape: array<vec4u, 2>, si: array<vec4u, 2>, so: array<vec4u, 2> }
@group(0) @binding(0) var<storage, read> x: array<${h.S}>;
@group(0) @binding(1) var<storage, read_write> y: array<${h.S}>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  var rem = idx;
  var ii = u.in_off;
  var oo = u.out_off;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {   // row-major unravel of idx over u.shape
    let k = u32(d);
    let c = rem % ${at('shape', 'k')};
    rem = rem / ${at('shape', 'k')};
    ii += c * ${at('si', 'k')};
    oo += c * ${at('so', 'k')};
  }
  y[oo] = ${h.st(`u.alpha * ${h.ld('x[ii]')}`)};
}`); };
const STRIDED_COPY = [stridedCopyKernel(false), stridedCopyKernel(true)];

export interface CopySpec {
  shape: Shape;
  inStrides: readonly number[];
  outStrides: readonly number[];
  inOffset?: number;
  outOffset?: number;
  alpha?: number;
}

/** Raw strided copy between existing buffers (no autograd); both f32 or both f16. */
export function stridedCopy(x: Tensor, y: Tensor, s: CopySpec): void {
  const n = numel(s.shape);
  run(STRIDED_COPY[storeIdx('strided_copy', x, y)], {
    inputs: [x], outputs: [y], threads: n,
    params: [n, s.shape.length, s.inOffset ?? 0, s.outOffset ?? 0, f32(s.alpha ?? 1), 0, 0, 0,
      ...slots8(s.shape, 1), ...slots8(s.inStrides), ...slots8(s.outStrides)],
  });
}

/** Broadcasts x (strides 0 on broadcast dims) into a new contiguous tensor of `shape`, times alpha. */
export function expandRaw(x: Tensor, shape: Shape, inStrides: readonly number[], alpha = 1): Tensor {
  const y = empty(shape, 'f32', 'expand');
  stridedCopy(x, y, { shape, inStrides, outStrides: contiguousStrides(shape), alpha });
  return y;
}
