// Casts between f32 and f16 tensors (mixed precision). f32 → f16 rounds to nearest; values beyond
// f16's range (and NaN) become ±inf, so an overflow shows up as a non-finite value (loss scaling).
// The op's backward casts the gradient back to the input's dtype. autograd.ts inserts this op where
// an op's f16 rules ask for a cast (OpDef.half); models rarely call it themselves.
import { defineOp, setCastOp } from '../engine/autograd.js';
import { TO_H } from '../engine/builtins.js';
import { type Tensor, empty } from '../engine/tensor.js';
import { MAIN_1D, kernel, run, vecOf } from './wgsl.js';

const castKernel = (toHalf: boolean, quads: boolean) => {
  const [h, f] = quads ? ['vec4<f16>', 'vec4f'] : ['f16', 'f32'];
  return kernel(`cast_${toHalf ? 'f32_f16' : 'f16_f32'}${quads ? '_vec4' : ''}`, /* wgsl */ `enable f16;
override WG: u32 = 64;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<${toHalf ? f : h}>;
@group(0) @binding(1) var<storage, read_write> y: array<${toHalf ? h : f}>;
@group(0) @binding(2) var<uniform> u: P;
${TO_H}
${MAIN_1D}
  if (idx >= u.n) { return; }
  y[idx] = ${toHalf ? (quads ? 'to_h4(x[idx])' : 'to_h(x[idx])') : `${f}(x[idx])`};
}`);
};
const CASTS = { f16: [castKernel(true, false), castKernel(true, true)], f32: [castKernel(false, false), castKernel(false, true)] };

/** Raw cast (no autograd) of an f32 tensor to f16 or the reverse, as a new tensor. */
export function castRaw(x: Tensor, to: 'f16' | 'f32'): Tensor {
  if (x.dtype === to || (x.dtype !== 'f16' && x.dtype !== 'f32')) throw new Error(`cast: ${x.describe()} to ${to}: expected an f32 ↔ f16 cast`);
  const y = empty(x.shape, to, x.label);
  const [T, n] = vecOf(x.size);
  run(CASTS[to][T === 'f32' ? 0 : 1], { inputs: [x], outputs: [y], params: [n], threads: n });
  return y;
}

const castOp = defineOp<[Tensor, 'f16' | 'f32'], 'f16' | 'f32'>('cast', {
  half: 'same',
  forward(ctx, x, to) {
    ctx.state = x.dtype as 'f16' | 'f32';
    return castRaw(x, to);
  },
  backward(ctx, dy) { return [castRaw(dy, ctx.state)]; },
});

/** x as an f16 (or f32) tensor, differentiable (its gradient comes back in x's dtype). x must be the other one. */
export const cast = (x: Tensor, to: 'f16' | 'f32'): Tensor => castOp(x, to);
setCastOp(cast);

/** An f32 tensor of x's values for raw (non-autograd) f32 kernels: x itself when it is f32 (`owned` false), else a cast the caller disposes. */
export function asF32(x: Tensor): { t: Tensor; owned: boolean } {
  return x.dtype === 'f16' ? { t: castRaw(x, 'f32'), owned: true } : { t: x, owned: false };
}
