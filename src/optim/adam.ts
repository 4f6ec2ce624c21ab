import type { Tensor } from '../engine/tensor.js';
import { adamStep, adamStepArena } from '../kernels/optim.js';
import { ParamArena } from './arena.js';
import { Optimizer } from './optimizer.js';

export interface AdamOptions {
  lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number;
  /**
   * Pack the small parameters into one arena updated by one dispatch (default true: those of at
   * most ARENA_MAX_ELEMENTS values, see arena.ts); a number sets that limit, false packs none.
   */
  pack?: boolean | number;
}

/** Adam with L2 weight decay added to the gradient and bias correction (torch.optim.Adam). */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;
  private readonly counts = new Map<Tensor, number>();

  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, o.lr ?? 1e-3);
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    const [b1, b2] = this.betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new Error(`Adam: betas must be in [0, 1), got ${this.betas}`);
    this.arena = ParamArena.pack(params, o.pack);
  }

  private get hyper() {
    return { lr: this.lr, beta1: this.betas[0], beta2: this.betas[1], eps: this.eps, weightDecay: this.weightDecay,
      decoupled: this.decoupled };
  }

  protected update(p: Tensor, g: Tensor): void {
    const t = (this.counts.get(p) ?? 0) + 1;   // per-parameter step, as PyTorch's state['step']
    this.counts.set(p, t);
    adamStep(p, g, this.slot(p, 'exp_avg').t, this.slot(p, 'exp_avg_sq').t, t, this.hyper, this.watch);
  }

  protected override updateArena(a: ParamArena): void {
    const [b1, b2] = this.betas;
    const coef = new Float32Array(4 * a.params.length);
    a.params.forEach((p, i) => {
      if (!p.hasGrad) return;                    // skipped: coef.z = 0
      this.slot(p, 'exp_avg'); this.slot(p, 'exp_avg_sq');   // windows, for stateTensors()
      const t = (this.counts.get(p) ?? 0) + 1;
      this.counts.set(p, t);
      coef.set([this.lr / (1 - b1 ** t), Math.sqrt(1 - b2 ** t), 1], 4 * i);
    });
    adamStepArena(a.values, a.grads, a.slot('exp_avg'), a.slot('exp_avg_sq'), a.owner, a.coefficients(coef), a.block, this.hyper, this.watch);
  }

  override loadState(tensors: Parameters<Optimizer['loadState']>[0], steps: number): void {
    super.loadState(tensors, steps);
    for (const p of this.params) this.counts.set(p, steps);
  }
}

/** AdamW: decoupled weight decay (torch.optim.AdamW). */
export class AdamW extends Adam {
  protected override readonly decoupled = true;
  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, { weightDecay: 1e-2, ...o });
  }
}
