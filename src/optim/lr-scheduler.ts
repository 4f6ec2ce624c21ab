import type { Optimizer } from './optimizer.js';

/** Sets optimizer.lr from the epoch index; call step() once per epoch (after training it). */
export abstract class LRScheduler {
  readonly baseLr: number;
  epoch = 0;
  constructor(readonly optimizer: Optimizer) {
    this.baseLr = optimizer.lr;
  }
  abstract lrAt(epoch: number): number;
  step(): number {
    this.epoch++;
    this.optimizer.lr = this.lrAt(this.epoch);
    return this.optimizer.lr;
  }
  /** Jumps to an epoch (resume). */
  setEpoch(epoch: number): void {
    this.epoch = epoch;
    this.optimizer.lr = this.lrAt(epoch);
  }
}

/** lr = base·(1 − e/N)^power, the ERFNet schedule (power 0.9). */
export class PolyLR extends LRScheduler {
  constructor(opt: Optimizer, readonly maxEpochs: number, readonly power = 0.9) {
    super(opt);
    if (!(maxEpochs > 0)) throw new Error(`PolyLR: maxEpochs must be > 0, got ${maxEpochs}`);
  }
  lrAt(e: number): number { return this.baseLr * Math.pow(Math.max(0, 1 - e / this.maxEpochs), this.power); }
}

/** lr = base·γ^⌊e/stepSize⌋ (torch StepLR). */
export class StepLR extends LRScheduler {
  constructor(opt: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(opt);
    if (!(stepSize >= 1)) throw new Error(`StepLR: stepSize must be ≥ 1, got ${stepSize}`);
  }
  lrAt(e: number): number { return this.baseLr * Math.pow(this.gamma, Math.floor(e / this.stepSize)); }
}

/** lr = base·γ^e (torch ExponentialLR). */
export class ExponentialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly gamma: number) { super(opt); }
  lrAt(e: number): number { return this.baseLr * Math.pow(this.gamma, e); }
}
