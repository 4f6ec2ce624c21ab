// A whole ERFNet against its own f32 run (test/precision.test.ts, test/half-storage.test.ts): two
// synthetic scenes, eval-mode logits, the gradients of the loss from a loss scale, and the measures.
import { backward, noGrad } from '../../src/engine/autograd.js';
import { keep, scope } from '../../src/engine/scope.js';
import { type DType, type Tensor, full, tensor } from '../../src/engine/tensor.js';
import { syntheticScene } from '../../src/data/synthetic.js';
import { crossEntropy } from '../../src/kernels/losses.js';
import type { ERFNet } from '../../src/models/erfnet.js';

/** Two synthetic scenes (5 objects, seeds 0 and 1) as images [2, 3, H, W] and labels [2, H, W]. */
export function sceneBatch(H: number, W: number): { x: Tensor; y: Tensor } {
  const scenes = [0, 1].map((i) => syntheticScene(5, i, W, H));
  return {
    x: tensor(Float32Array.from(scenes.flatMap((sc) => [...sc.image])), [2, 3, H, W]),
    y: tensor(Int32Array.from(scenes.flatMap((sc) => [...sc.label])), [2, H, W], { dtype: 'i32' }),
  };
}

export interface NetRun { logits: Float32Array; dtype: DType; grads: Float32Array[] }

/**
 * The net's logits (and their dtype), then the gradients of its cross-entropy from a loss scale of
 * `scale`, unscaled (as training does: unscaled, the per-pixel loss gradients, ~1/pixels, are f16
 * subnormals and the gradients lose several percent); parameters without a gradient give [].
 */
export async function runNet(net: ERFNet, x: Tensor, y: Tensor, scale = 1024): Promise<NetRun> {
  const out = scope(() => keep(noGrad(() => net.forward(x))));
  const dtype = out.dtype, logits = (await out.read()) as Float32Array;
  out.dispose();
  scope(() => backward(crossEntropy(net.forward(x), y, { ignoreIndex: 19 }), full([], scale)));
  const grads = await Promise.all(net.parameters().map(async (p) => (p.grad ? (await p.grad.read()).map((v) => v / scale) : new Float32Array(0))));
  for (const p of net.parameters()) p.clearGrad();
  return { logits, dtype, grads: grads as Float32Array[] };
}

/** ‖a − b‖ / ‖b‖ (0 for an empty or zero b). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i] - b[i]) ** 2; n += b[i] ** 2; }
  return n > 0 ? Math.sqrt(d / n) : 0;
}

/** Pixels of logits [N, C, hw] whose first-maximum class is the same in a and b. */
export function argmaxAgreement(a: ArrayLike<number>, b: ArrayLike<number>, N: number, C: number, hw: number): number {
  const arg = (l: ArrayLike<number>, n: number, p: number) => { let k = 0; for (let c = 1; c < C; c++) if (l[(n * C + c) * hw + p] > l[(n * C + k) * hw + p]) k = c; return k; };
  let agree = 0;
  for (let n = 0; n < N; n++) for (let p = 0; p < hw; p++) if (arg(a, n, p) === arg(b, n, p)) agree++;
  return agree;
}

/** Each parameter's relative gradient error (L2), with their median and worst. */
export function gradErrors(got: NetRun, want: NetRun): { errs: number[]; median: number; worst: number } {
  const errs = want.grads.map((g, k) => relL2(got.grads[k], g));
  return { errs, median: [...errs].sort((p, q) => p - q)[Math.floor(errs.length / 2)], worst: Math.max(...errs) };
}
