// dropout2d: y[b,c,·] = x[b,c,·]·m[b,c]/(1−p), m[b,c] = 1 with probability 1−p, drawn from a
// counter-based hash of (seed, b·C+c), so backward regenerates the same mask from the seed.
import { defineOp } from '../engine/autograd.js';
import { getEngine } from '../engine/engine.js';
import { type Param, f32 } from '../engine/params.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { DROP_FACTOR, type Elem, MAIN_PER_GROUP, PLANE_CHUNK, PLANE_FIELDS, elemSuffix, kernel, planeLayout, run, vecOf } from './wgsl.js';

/** The WGSL hash; `dropKeep` in JS must match it bit for bit (tests rely on that). One draw per
 * (b, c) plane, made once per invocation (plane layout: wgsl.ts, bench/NOTES.md §27); f32 and, for
 * planes of a multiple of 4 values, vec4. */
const dropoutKernel = (T: Elem) => kernel(`dropout2d${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { ${PLANE_FIELDS}, seed: u32, p: f32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> y: array<${T}>;
@group(0) @binding(2) var<uniform> u: P;
${DROP_FACTOR}
${MAIN_PER_GROUP}
${PLANE_CHUNK}
  let s = drop_factor(u.seed, plane, u.p, u.scale);
  for (var p = start + lid % u.span; p < end; p += u.span) { let i = i0 + p; y[i] = x[i] * s; }
}`);
const DROPOUT = { f32: dropoutKernel('f32'), vec4f: dropoutKernel('vec4f') };

function mix(a: number): number {
  let v = a >>> 0;
  v = Math.imul(v ^ (v >>> 16), 0x7feb352d) >>> 0;
  v = Math.imul(v ^ (v >>> 15), 0x846ca68b) >>> 0;
  return (v ^ (v >>> 16)) >>> 0;
}

/** Whether plane (b·C + c) is kept for this seed and p — the host mirror of the kernel's draw. */
export const dropKeep = (seed: number, plane: number, p: number): boolean =>
  Math.fround((mix(mix(seed) ^ plane) >>> 8) * (1 / 16777216)) >= Math.fround(p);

interface DropState { seed: number; p: number; planes: number; hw: number }

/** The draw's uniform values [seed, p, scale]: kept planes are scaled by 1/(1−p); p = 0 keeps all as they are. */
export const dropUniforms = (p: number, seed: number): Param[] => [seed, f32(p), f32(p >= 1 ? 0 : 1 / (1 - p))];

function dropRaw(x: Tensor, s: DropState): Tensor {
  const y = empty(x.shape, 'f32', 'dropout2d');
  const [T, hw] = vecOf(s.hw);
  const plane = planeLayout(s.planes, 1, hw);
  run(DROPOUT[T], { inputs: [x], outputs: [y], params: [...plane.params, ...dropUniforms(s.p, s.seed)], groups: plane.groups });
  return y;
}

const dropoutOp = defineOp<[Tensor, number, number], DropState>('dropout2d', {
  forward(ctx, x, p, seed) {
    assertDType('dropout2d', x, 'f32');
    if (x.rank < 2) throw new Error(`dropout2d: x must have a channel axis, got ${x.describe()}`);
    const planes = x.shape[0] * x.shape[1];
    ctx.state = { seed, p, planes, hw: x.size / planes };
    return dropRaw(x, ctx.state);
  },
  backward(ctx, dy) { return [dropRaw(dy, ctx.state)]; },   // linear in x: same mask
});

/**
 * Zeroes whole channels with probability p in training (PyTorch Dropout2d); identity otherwise.
 * The seed defaults to the engine's seeded counter, so runs with the same engine seed repeat.
 */
export function dropout2d(x: Tensor, p: number, training = true, seed?: number): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout2d: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return dropoutOp(x, 0, 0);
  return dropoutOp(x, p, seed ?? getEngine().nextSeed());
}
