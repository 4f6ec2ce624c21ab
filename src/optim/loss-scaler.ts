// Dynamic loss scaling for training with f16 GEMM operands (torch.cuda.amp.GradScaler's rule): the
// loss's gradient starts at `scale` instead of 1, so small gradients survive the f16 rounding of
// the backward GEMMs' operands; each optimizer divides its gradients by the scale before its
// update and skips the step if one is not finite (an f16 overflow); after the step the scale
// halves if any optimizer skipped, and doubles after `growthInterval` steps without a skip.
// Everything runs on the GPU (src/kernels/amp.ts): no read-back per step. Differences from
// PyTorch: a skipped step still counts in the optimizers' step counters (Adam's bias correction),
// since the host does not learn of the skip until it reads the state.
import { keep } from '../engine/scope.js';
import { type Tensor, empty, tensor } from '../engine/tensor.js';
import { ampBegin, ampCollect, ampSeed, ampUnscaleAll, ampUpdate } from '../kernels/amp.js';

export interface LossScalerOptions { initScale?: number; growthInterval?: number; backoff?: number; growth?: number }

/** Scale, steps since the last skip, and skipped steps, as read from the GPU. */
export interface LossScaleState { scale: number; goodSteps: number; skipped: number }

export class LossScaler {
  /** f32 [4]: scale, steps since the last skip, found (this step), skipped steps. */
  readonly state: Tensor;
  readonly growthInterval: number;
  readonly backoff: number;
  readonly growth: number;

  constructor(o: LossScalerOptions = {}) {
    const init = o.initScale ?? 2 ** 16;
    this.growthInterval = o.growthInterval ?? 2000;
    this.backoff = o.backoff ?? 0.5;
    this.growth = o.growth ?? 2;
    if (!(init > 0 && Number.isFinite(init))) throw new Error(`loss scaler: initial scale must be a positive number, got ${init}`);
    if (!(Number.isInteger(this.growthInterval) && this.growthInterval >= 1)) throw new Error(`loss scaler: growth interval must be an integer ≥ 1, got ${this.growthInterval}`);
    if (!(this.backoff > 0 && this.backoff < 1 && this.growth > 1)) throw new Error(`loss scaler: backoff must be in (0, 1) and growth above 1, got ${this.backoff} and ${this.growth}`);
    this.state = keep(tensor(Float32Array.from([init, 0, 0, 0]), [4], { label: 'loss scale' }));
  }

  /** The seed gradient of `loss` for backward: the current scale, on the GPU. Call inside scope(). */
  seed(loss: Tensor): Tensor {
    const y = empty(loss.shape, 'f32', 'loss scale seed');
    ampSeed(this.state, y);
    return y;
  }

  /** An optimizer's step begins: its skip flag is lowered. */
  begin(skip: Tensor): void { ampBegin(skip); }
  /** g /= scale for every gradient, a few launches in all; a non-finite value raises the skip flag. */
  unscaleAll(gs: readonly Tensor[], skip: Tensor): void { ampUnscaleAll(this.state, gs, skip); }
  /** The optimizer's step is done: a skip is noted for `update`. */
  collect(skip: Tensor): void { ampCollect(skip, this.state); }
  /** After every optimizer of the step: back off or grow the scale. */
  update(): void { ampUpdate(this.state, this.growthInterval, this.backoff, this.growth); }

  async read(): Promise<LossScaleState> {
    const [scale, goodSteps, , skipped] = await this.state.read();
    return { scale, goodSteps, skipped };
  }

  /** Restores a state saved from `read()` (a resumed run). */
  load(s: LossScaleState): void { this.state.write([s.scale, s.goodSteps, 0, s.skipped]); }

  dispose(): void { this.state.dispose(); }
}
