// Optimizers and learning-rate schedules by name, as recipes and flags write them:
//   "adam:lr=5e-4,weight_decay=1e-4"   "sgd:lr=0.01,momentum=0.9,nesterov=1"   "rmsprop:lr=1e-4,alpha=0.995,tf=1"
//   "poly:power=0.9"   "step:size=1,gamma=0.99"   "exp:gamma=0.995"   "constant"
//   "scl-poly:power=1,repoly=1.5,rescale=1,relax=100"   (NVIDIA seed: poly, then a second poly after epoch `relax`)
// A spec is the name and its options; `format` writes it back, so a checkpoint records exactly what ran.
import type { Tensor } from '../engine/tensor.js';
import { Adam, AdamW } from '../optim/adam.js';
import { ExponentialLR, LRScheduler, PolyLR, StepLR } from '../optim/lr-scheduler.js';
import type { Optimizer } from '../optim/optimizer.js';
import { RMSprop } from '../optim/rmsprop.js';
import { SGD } from '../optim/sgd.js';

export interface Spec { name: string; options: Record<string, number> }

/** Options each name accepts, with their defaults (what `mirage models` and --help print). */
export const OPTIMIZERS: Record<string, Record<string, number>> = {
  adam: { lr: 1e-3, weight_decay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
  adamw: { lr: 1e-3, weight_decay: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
  sgd: { lr: 1e-2, momentum: 0, weight_decay: 0, dampening: 0, nesterov: 0 },
  rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0, momentum: 0, tf: 0 },
};

export const SCHEDULES: Record<string, Record<string, number>> = {
  constant: {},
  poly: { power: 0.9 },
  step: { size: 30, gamma: 0.1 },
  exp: { gamma: 0.99 },
  'scl-poly': { power: 1, repoly: 1.5, rescale: 1, relax: 100 },
};

/** Parses "name[:key=value,...]" against a table of names and their options; `what` names the flag in errors. */
export function parseSpec(text: string, table: Record<string, Record<string, number>>, what: string): Spec {
  const [name, rest] = text.trim().split(/:(.*)/s, 2);
  const known = table[name];
  if (!known) throw new Error(`${what} '${text}': unknown '${name}' (choose from ${Object.keys(table).join(', ')})`);
  const options: Record<string, number> = {};
  for (const part of (rest ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z_][a-z0-9_]*)=(.+)$/.exec(part);
    if (!m) throw new Error(`${what} '${text}': '${part}' is not key=value`);
    if (!(m[1] in known)) {
      throw new Error(`${what} '${text}': ${name} has no option '${m[1]}' (its options: ${Object.keys(known).join(', ') || 'none'})`);
    }
    const v = Number(m[2]);
    if (!Number.isFinite(v)) throw new Error(`${what} '${text}': ${m[1]}=${m[2]} is not a finite number`);
    options[m[1]] = v;
  }
  return { name, options };
}

/**
 * "name:key=value,…" with the options in the table's order. Optimizers show lr and the options that
 * differ from their defaults; schedules, which have few, show all (so does `all`). One spec, one text.
 */
export function formatSpec(s: Spec, table: Record<string, Record<string, number>>, all = false): string {
  const known = table[s.name] ?? {};
  const value = (k: string) => s.options[k] ?? known[k];
  const every = all || table === SCHEDULES;
  const parts = Object.keys(known).filter((k) => every || k === 'lr' || value(k) !== known[k]).map((k) => `${k}=${value(k)}`);
  return parts.length ? `${s.name}:${parts.join(',')}` : s.name;
}

/** A spec with one option replaced (e.g. --lr over the recipe's optimizer). */
export const withOption = (s: Spec, key: string, value: number | undefined): Spec =>
  (value === undefined ? s : { name: s.name, options: { ...s.options, [key]: value } });

export function makeOptimizer(s: Spec, params: Tensor[]): Optimizer {
  const o = { ...OPTIMIZERS[s.name], ...s.options };
  const check = (k: string, ok: boolean) => { if (!ok) throw new Error(`optimizer ${formatSpec(s, OPTIMIZERS)}: ${k}=${o[k]} is out of range`); };
  check('lr', o.lr >= 0);
  check('weight_decay', o.weight_decay >= 0);
  switch (s.name) {
    case 'adam': case 'adamw': {
      const make = s.name === 'adam' ? Adam : AdamW;
      return new make(params, { lr: o.lr, weightDecay: o.weight_decay, betas: [o.beta1, o.beta2], eps: o.eps });
    }
    case 'sgd':
      return new SGD(params, { lr: o.lr, momentum: o.momentum, weightDecay: o.weight_decay, dampening: o.dampening, nesterov: o.nesterov !== 0 });
    case 'rmsprop':
      return new RMSprop(params, { lr: o.lr, alpha: o.alpha, eps: s.options.eps ?? (o.tf ? 1e-10 : 1e-8), weightDecay: o.weight_decay,
        momentum: o.momentum, tensorflow: o.tf !== 0 });
    default: throw new Error(`unknown optimizer '${s.name}'`);
  }
}

/**
 * One optimizer per parameter group from the recipe's spec strings; the specs must name the model's
 * groups in its order (`who`, the model, names it in the error). Built ones are freed if a later one fails.
 */
export function makeOptimizers(groups: Record<string, Tensor[]>, specs: Record<string, string>, who: string): Record<string, Optimizer> {
  const names = Object.keys(groups);
  if (names.join() !== Object.keys(specs).join()) {
    throw new Error(`${who}: the recipe has optimizers for ${Object.keys(specs).join(', ')} but the model's parameter groups are ${names.join(', ')}`);
  }
  const out: Record<string, Optimizer> = {};
  try {
    for (const g of names) out[g] = makeOptimizer(parseSpec(specs[g], OPTIMIZERS, `optimizer of ${g}`), groups[g]);
  } catch (e) {
    for (const o of Object.values(out)) o.dispose();
    throw e;
  }
  return out;
}

/** lr = base·(1 − e/N)^power before epoch `relax`, then rescale·base·(1 − (e − relax)/(N − relax))^repoly (NVIDIA's scl-poly). */
export class SclPolyLR extends LRScheduler {
  constructor(opt: Optimizer, readonly maxEpochs: number, readonly power: number, readonly repoly: number, readonly rescale: number,
    readonly relax: number) { super(opt); }
  lrAt(e: number): number {
    if (e < this.relax) return this.baseLr * Math.pow(Math.max(0, 1 - e / this.maxEpochs), this.power);
    const span = Math.max(1, this.maxEpochs - this.relax);
    return this.rescale * this.baseLr * Math.pow(Math.max(0, 1 - (e - this.relax) / span), this.repoly);
  }
}

class ConstantLR extends LRScheduler {
  lrAt(): number { return this.baseLr; }
}

/** The schedule over `epochs` epochs, setting opt.lr from its base (the optimizer's lr when made). */
export function makeSchedule(s: Spec, opt: Optimizer, epochs: number): LRScheduler {
  const o = { ...SCHEDULES[s.name], ...s.options };
  switch (s.name) {
    case 'constant': return new ConstantLR(opt);
    case 'poly': return new PolyLR(opt, epochs, o.power);
    case 'step': return new StepLR(opt, o.size, o.gamma);
    case 'exp': return new ExponentialLR(opt, o.gamma);
    case 'scl-poly': return new SclPolyLR(opt, epochs, o.power, o.repoly, o.rescale, o.relax);
    default: throw new Error(`unknown schedule '${s.name}'`);
  }
}
