import type { Tensor } from '../engine/tensor.js';
import { type SgdHyper, sgdStep, sgdStepArena } from '../kernels/optim.js';
import { ParamArena } from './arena.js';
import { Optimizer } from './optimizer.js';

export interface SgdOptions {
  lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean;
  /** As Adam's: the small parameters in one arena, one dispatch (default true; a number sets the size limit). */
  pack?: boolean | number;
}

/** SGD with momentum and L2 weight decay (torch.optim.SGD). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[], o: SgdOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
    }
    this.arena = ParamArena.pack(params, o.pack);
  }

  private get hyper(): SgdHyper {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  protected update(p: Tensor, g: Tensor): void {
    if (this.momentum === 0) { sgdStep(p, g, null, false, this.hyper, this.watch); return; }
    const buf = this.slot(p, 'momentum_buffer');
    sgdStep(p, g, buf.t, buf.fresh, this.hyper, this.watch);
  }

  protected override updateArena(a: ParamArena): void {
    const coef = new Float32Array(4 * a.params.length);
    a.params.forEach((p, i) => {
      if (!p.hasGrad) return;                     // skipped: coef.x = 0
      const first = this.momentum !== 0 && this.slot(p, 'momentum_buffer').fresh;   // the window, for stateTensors()
      coef.set([1, first ? 1 : 0], 4 * i);
    });
    sgdStepArena(a.values, a.grads, this.momentum !== 0 ? a.slot('momentum_buffer') : null, a.owner, a.coefficients(coef), a.block, this.hyper, this.watch);
  }
}
