import type { Tensor } from '../engine/tensor.js';
import { type SgdHyper, sgdStep } from '../kernels/optim.js';
import { Optimizer } from './optimizer.js';

export interface SgdOptions { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }

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
  }

  protected update(p: Tensor, g: Tensor): void {
    const h: SgdHyper = { lr: this.lr, momentum: this.momentum, dampening: this.dampening,
      weightDecay: this.weightDecay, nesterov: this.nesterov };
    if (this.momentum === 0) { sgdStep(p, g, null, false, h); return; }
    const buf = this.slot(p, 'momentum_buffer');
    sgdStep(p, g, buf.t, buf.fresh, h);
  }
}
