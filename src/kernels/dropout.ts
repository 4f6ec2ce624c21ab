// dropout2d: y[b,c,·] = x[b,c,·]·m[b,c]/(1−p), m[b,c] = 1 with probability 1−p, drawn from a
// counter-based hash of (seed, b·C+c), so backward regenerates the same mask from the seed.
import { defineOp } from '../engine/autograd.js';
import { getEngine } from '../engine/engine.js';
import { f32 } from '../engine/params.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { HASH_U32, MAIN_1D, kernel, run } from './wgsl.js';

/** The WGSL hash; `dropKeep` in JS must match it bit for bit (tests rely on that). */
const DROPOUT = kernel('dropout2d', /* wgsl */ `
override WG: u32 = 64;
struct P { total: u32, hw: u32, seed: u32, p: f32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: P;
${HASH_U32}
${MAIN_1D}
  if (idx >= u.total) { return; }
  let r = f32(mix(mix(u.seed) ^ (idx / u.hw)) >> 8u) * (1.0 / 16777216.0);   // uniform in [0,1)
  y[idx] = select(0.0, x[idx] * u.scale, r >= u.p);
}`);

function mix(a: number): number {
  let v = a >>> 0;
  v = Math.imul(v ^ (v >>> 16), 0x7feb352d) >>> 0;
  v = Math.imul(v ^ (v >>> 15), 0x846ca68b) >>> 0;
  return (v ^ (v >>> 16)) >>> 0;
}

/** Whether plane (b·C + c) is kept for this seed and p — the host mirror of the kernel's draw. */
export const dropKeep = (seed: number, plane: number, p: number): boolean =>
  Math.fround((mix(mix(seed) ^ plane) >>> 8) * (1 / 16777216)) >= Math.fround(p);

interface DropState { seed: number; p: number; hw: number }

function dropRaw(x: Tensor, s: DropState): Tensor {
  const y = empty(x.shape, 'f32', 'dropout2d');
  const scale = s.p >= 1 ? 0 : 1 / (1 - s.p);
  run(DROPOUT, { inputs: [x], outputs: [y], params: [x.size, s.hw, s.seed, f32(s.p), f32(scale)], threads: x.size });
  return y;
}

const dropoutOp = defineOp<[Tensor, number, number], DropState>('dropout2d', {
  forward(ctx, x, p, seed) {
    assertDType('dropout2d', x, 'f32');
    if (x.rank < 2) throw new Error(`dropout2d: x must have a channel axis, got ${x.describe()}`);
    ctx.state = { seed, p, hw: x.size / (x.shape[0] * x.shape[1]) };
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
