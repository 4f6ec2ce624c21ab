// Restoration measured against its ceiling, per evaluation: for heat-distorted inputs, the PSNR and
// L1 of the model's input and of each restored output against the clean image, the end-point error
// of each output's flow against the simulator's exact inverse field, and the same numbers for the
// exact inverse warp itself (the ceiling a warp can reach: bilinear resampling loses detail, and
// where the field folds no warp undoes it). Means over images; the sums are read back per batch.
import { noGrad } from '../engine/autograd.js';
import { keep } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { scale } from '../kernels/elementwise.js';
import { flowEpeSum, imageErrors } from '../kernels/restoration-metrics.js';
import { sliceChannels } from '../kernels/slice.js';
import { warp } from '../kernels/warp.js';
import { inverseField } from '../sim/inverse.js';
import type { EvalOut } from './system.js';

/** Per-image PSNR (dB, images in [0, 1]; capped at 100) from a summed squared error over m values. */
export const psnr = (sq: number, m: number): number => Math.min(100, 10 * Math.log10(1 / Math.max(sq / m, 1e-10)));

/** A queued per-image sum: an image's errors (psnr_<name>, l1_<name>) or a flow's end-point error (<name>). */
interface Pending { name: string; t: Tensor; kind: 'image' | 'epe'; m: number }

export class RestorationMeter {
  private sums = new Map<string, number>();
  private images = 0;
  private pending: Pending[] = [];

  /**
   * Queues the metrics of one batch (call inside the batch's scope): `input` is what the model got
   * ([N, 3·K, H, W] frames or a fused [N, 3, H, W]), `field` every frame's field [N, 2K, H, W].
   */
  add(input: Tensor, clean: Tensor, field: Tensor, out: EvalOut): void {
    noGrad(() => {
      const [n, , h, w] = clean.shape, m = 3 * h * w, frames = field.shape[1] / 2;
      const push = (name: string, t: Tensor, kind: 'image' | 'epe', mm = m) => this.pending.push({ name, t: keep(t), kind, m: mm });
      const u = inverseField(field);
      const d0 = frames > 1 ? sliceChannels(field, 0, 2) : field, u0 = frames > 1 ? sliceChannels(u, 0, 2) : u;
      // the input the model saw (frame 0 of several), and the exact inverse warp of frame 0 (no blur stage)
      push('input', imageErrors(input.shape[1] === 3 ? input : sliceChannels(input, 0, 3), clean), 'image');
      push('ceiling', imageErrors(warp(warp(clean, d0), u0), clean), 'image');
      // the inverse's own residual ‖u(p) + d(p + u(p))‖, and the error of not warping at all
      push('epe_ceiling', flowEpeSum(scale(warp(d0, u0), -1), u0), 'epe', h * w);
      push('epe_zero', flowEpeSum(scale(u, 0), u), 'epe', frames * h * w);
      const outs = out.restoration ?? [];
      outs.forEach((r, k) => {
        const tag = outs.length > 1 ? `_${k + 1}` : '';
        push(`restored${tag}`, imageErrors(r.restored, clean), 'image');   // psnr_restored[_k], l1_restored[_k]
        push(`epe${tag}`, flowEpeSum(r.flow, u), 'epe', frames * h * w);
      });
      this.images += n;
    });
  }

  /** Reads the queued batches' sums (after their scope; frees them). */
  async flush(): Promise<void> {
    const jobs = this.pending;
    this.pending = [];
    for (const p of jobs) {
      const v = await p.t.read();
      p.t.dispose();
      const add = (k: string, x: number) => this.sums.set(k, (this.sums.get(k) ?? 0) + x);
      if (p.kind === 'epe') {
        // [N, K] sums over pixels; the divisor m counts the pixels of all K frames of an image
        for (let b = 0; b < v.length / p.t.shape[1]; b++) {
          let s = 0;
          for (let k = 0; k < p.t.shape[1]; k++) s += v[b * p.t.shape[1] + k];
          add(p.name, s / p.m);
        }
      } else {
        for (let b = 0; b < v.length / 2; b++) {
          add(`psnr_${p.name}`, psnr(v[2 * b], p.m));
          add(`l1_${p.name}`, v[2 * b + 1] / p.m);
        }
      }
    }
  }

  /** Means over images: psnr_input, l1_input, psnr_ceiling, l1_ceiling, epe_ceiling, epe_zero, and per output psnr_restored[_k], l1_restored[_k], epe[_k]. */
  result(): Record<string, number> {
    return Object.fromEntries([...this.sums].map(([k, v]) => [k, v / Math.max(1, this.images)]));
  }

  dispose(): void { for (const p of this.pending) p.t.dispose(); this.pending = []; }
}
