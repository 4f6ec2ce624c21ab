// Non-finite watch: a u32 flag on the GPU that kernels lower (atomicMin) to the tag of the first step
// that produced an Inf or NaN, so a training loop learns where a run diverged without reading
// anything back per step. `accumulateScalar` adds a scalar (a step's loss) into a running sum and
// watches it; the optimizer kernels (optim.ts) watch the parameters they write with NOT_FINITE.
import { assertDType } from '../engine/tensor.js';
import type { Tensor } from '../engine/tensor.js';
import { type Elem, kernel, run } from './wgsl.js';

/** No step flagged: the flag's value until a watched value is not finite. */
export const FINITE = 0xffffffff;

/** WGSL `not_finite(x)` for f32 or vec4f: true if (any lane of) x is ±Inf or NaN (exponent bits all set). */
export const notFinite = (T: Elem): string => {
  const U = T === 'f32' ? 'u32' : 'vec4u';
  return /* wgsl */ `
fn not_finite(x: ${T}) -> bool { return any((bitcast<${U}>(x) & ${U}(0x7f800000u)) == ${U}(0x7f800000u)); }`;
};

const ACCUMULATE = kernel('accumulate_scalar', /* wgsl */ `
override WG: u32 = 64;
struct P { tag: u32, slot: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> sum: array<f32>;
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> u: P;
${notFinite('f32')}
@compute @workgroup_size(1)
fn main() {
  let v = x[0];
  sum[0] += v;
  if (not_finite(v)) { atomicMin(&flag[u.slot], u.tag); }
}`);

/**
 * sum += x (both f32 scalars, sum updated in place, outside autograd); if x is not finite,
 * flag[slot] = min(flag[slot], tag). One dispatch.
 */
export function accumulateScalar(sum: Tensor, x: Tensor, flag: Tensor, tag: number, slot = 0): void {
  assertDType('accumulateScalar', x, 'f32', 'x');
  assertDType('accumulateScalar', sum, 'f32', 'sum');
  assertDType('accumulateScalar', flag, 'u32', 'flag');
  if (x.size !== 1 || sum.size !== 1) throw new Error(`accumulateScalar: x and sum must hold one value, got ${x.describe()} and ${sum.describe()}`);
  if (!(slot >= 0 && slot < flag.size)) throw new Error(`accumulateScalar: slot ${slot} outside the flag ${flag.describe()}`);
  if (!(tag >= 0 && tag < FINITE)) throw new Error(`accumulateScalar: tag ${tag} must be a u32 below ${FINITE}`);
  run(ACCUMULATE, { inputs: [x], outputs: [sum, flag], params: [tag, slot], groups: 1 });
}
