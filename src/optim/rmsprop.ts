import type { Tensor } from '../engine/tensor.js';
import { type RmspropHyper, rmspropStep, rmspropStepArena } from '../kernels/optim.js';
import { ParamArena } from './arena.js';
import { Optimizer } from './optimizer.js';

export interface RmspropOptions {
  lr?: number;
  /** Smoothing of the square average (torch `alpha`, TensorFlow `decay`). */
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  /**
   * TensorFlow's RMSPropOptimizer (the multi-scale attention seed's code): the square average starts
   * at 1 instead of 0 and eps goes inside the square root, √(v + eps). Default eps then 1e-10.
   */
  tensorflow?: boolean;
  /** As Adam's: the small parameters in one arena, one dispatch (default true). */
  pack?: boolean | number;
}

/** RMSProp (torch.optim.RMSprop, not centred), or TensorFlow 1's variant with `tensorflow: true`. */
export class RMSprop extends Optimizer {
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly tensorflow: boolean;

  constructor(params: Tensor[], o: RmspropOptions = {}) {
    super(params, o.lr ?? 1e-2);
    this.tensorflow = o.tensorflow ?? false;
    this.alpha = o.alpha ?? 0.99;
    this.eps = o.eps ?? (this.tensorflow ? 1e-10 : 1e-8);
    this.weightDecay = o.weightDecay ?? 0;
    this.momentum = o.momentum ?? 0;
    if (!(this.alpha >= 0 && this.alpha < 1)) throw new Error(`RMSprop: alpha must be in [0, 1), got ${this.alpha}`);
    if (!(this.eps > 0)) throw new Error(`RMSprop: eps must be > 0, got ${this.eps}`);
    if (!(this.momentum >= 0)) throw new Error(`RMSprop: momentum must be ≥ 0, got ${this.momentum}`);
    this.arena = ParamArena.pack(params, o.pack);
  }

  private get hyper(): RmspropHyper {
    return { lr: this.lr, alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum,
      epsInside: this.tensorflow };
  }

  private get init(): number { return this.tensorflow ? 1 : 0; }

  protected update(p: Tensor, g: Tensor): void {
    const v = this.slot(p, 'square_avg', this.init).t;
    rmspropStep(p, g, v, this.momentum > 0 ? this.slot(p, 'momentum_buffer').t : null, this.hyper, this.watch);
  }

  protected override updateArena(a: ParamArena): void {
    const coef = new Float32Array(4 * a.params.length);
    a.params.forEach((p, i) => {
      if (!p.hasGrad) return;                     // skipped: coef.x = 0
      this.slot(p, 'square_avg', this.init);      // the windows, for stateTensors()
      if (this.momentum > 0) this.slot(p, 'momentum_buffer');
      coef[4 * i] = 1;
    });
    rmspropStepArena(a.values, a.grads, a.slot('square_avg', this.init), this.momentum > 0 ? a.slot('momentum_buffer') : null,
      a.owner, a.coefficients(coef), a.block, this.hyper, this.watch);
  }
}
