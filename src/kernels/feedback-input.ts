// The feedback system's input: y = [Δ·R_0 | Δ·R_1 | Δ·R_2], the change of the logits Δ [N,K,H,W]
// times each colour plane of the restored image R [N,3,H,W], concatenated along channels
// [N,3K,H,W]. One dispatch instead of three broadcasting products and a concat (the generic
// broadcast kernel divides per element, which lavapipe does one lane at a time: NOTES §38).
import { defineOp } from '../engine/autograd.js';
import type { Kernel } from '../engine/pipeline-cache.js';
import { type Tensor, assertDType, empty } from '../engine/tensor.js';
import { type Elem, MAIN_PER_GROUP, PLANE_CHUNK, PLANE_FIELDS, elemSuffix, kernel, planeLayout, run, vecOf } from './wgsl.js';

/**
 * f32 and vec4 kernels over the planes (b, c) of the tensor they write (plane layout, wgsl.ts; u.c
 * channels, b = plane / u.c), reading `a` and `b_`; `body` runs per plane offset p.
 */
const planeKernels = (name: string, [a, b_, out]: string[], body: (T: Elem) => string): Record<Elem, Kernel> => {
  const make = (T: Elem) => kernel(`${name}${elemSuffix(T)}`, /* wgsl */ `
override WG: u32 = 64;
struct P { ${PLANE_FIELDS}, k: u32 }
@group(0) @binding(0) var<storage, read> ${a}: array<${T}>;
@group(0) @binding(1) var<storage, read> ${b_}: array<${T}>;
@group(0) @binding(2) var<storage, read_write> ${out}: array<${T}>;
@group(0) @binding(3) var<uniform> u: P;
${MAIN_PER_GROUP}
${PLANE_CHUNK}
  let b = plane / u.c;
  for (var p = start + lid % u.span; p < end; p += u.span) {
    ${body(T)}
  }
}`);
  return { f32: make('f32'), vec4f: make('vec4f') };
};

// y[b, j·K + c] = Δ[b, c] · R[b, j], over the planes of Δ (u.c = K)
const FWD = planeKernels('feedback_input', ['d', 'r', 'y'], () => `let dv = d[i0 + p];
    for (var j = 0u; j < 3u; j++) { y[((b * 3u + j) * u.c + c) * u.hw + p] = dv * r[(b * 3u + j) * u.hw + p]; }`);
// dΔ[b, c] = Σ_j dy[b, j·K + c] · R[b, j], over the planes of Δ (u.c = K)
const GRAD_DELTA = planeKernels('feedback_input_grad_delta', ['dy', 'r', 'dd'], (T) => `var acc = ${T}(0.0);
    for (var j = 0u; j < 3u; j++) { acc += dy[((b * 3u + j) * u.c + c) * u.hw + p] * r[(b * 3u + j) * u.hw + p]; }
    dd[i0 + p] = acc;`);
// dR[b, j] = Σ_k dy[b, j·K + k] · Δ[b, k], over the planes of R (u.c = 3, u.k = K)
const GRAD_RESTORED = planeKernels('feedback_input_grad_restored', ['dy', 'd', 'dr'], (T) => `var acc = ${T}(0.0);
    for (var k = 0u; k < u.k; k++) { acc += dy[((b * 3u + c) * u.k + k) * u.hw + p] * d[(b * u.k + k) * u.hw + p]; }
    dr[i0 + p] = acc;`);

interface FbState { n: number; k: number; hw: number }

/** Runs one of the kernels over `channels` planes per image, writing `out`. */
function launch(ks: Record<Elem, Kernel>, s: FbState, channels: number, inputs: Tensor[], out: Tensor): Tensor {
  const [T, hw] = vecOf(s.hw);
  const l = planeLayout(s.n * channels, channels, hw);
  run(ks[T], { inputs, outputs: [out], params: [...l.params, s.k], groups: l.groups });
  return out;
}

const feedbackInputOp = defineOp<[Tensor, Tensor], FbState>('feedbackInput', {
  forward(ctx, delta, restored) {
    assertDType('feedbackInput', delta, 'f32', 'delta');
    assertDType('feedbackInput', restored, 'f32', 'restored');
    if (restored.rank !== 4 || restored.shape[1] !== 3 || delta.rank !== 4 || delta.shape[0] !== restored.shape[0] ||
      delta.shape[2] !== restored.shape[2] || delta.shape[3] !== restored.shape[3]) {
      throw new Error(`feedback: logits change ${delta.describe()} and restored image ${restored.describe()} do not match`);
    }
    const [n, k, h, w] = delta.shape;
    ctx.state = { n, k, hw: h * w };
    ctx.save(delta, restored);
    return launch(FWD, ctx.state, k, [delta, restored], empty([n, 3 * k, h, w], 'f32', 'feedback_input'));
  },
  backward(ctx, dy) {
    const s = ctx.state, [delta, restored] = ctx.saved;
    return [
      ctx.needsGrad[0] ? launch(GRAD_DELTA, s, s.k, [dy, restored], empty(delta.shape, 'f32', 'feedback_input_grad')) : null,
      ctx.needsGrad[1] ? launch(GRAD_RESTORED, s, 3, [dy, delta], empty(restored.shape, 'f32', 'feedback_input_grad')) : null,
    ];
  },
});

/** Feedback input: channel blocks [Δ·R_red | Δ·R_green | Δ·R_blue] (3·classes channels, full resolution). */
export const feedbackInput = (delta: Tensor, restored: Tensor): Tensor => feedbackInputOp(delta, restored);
