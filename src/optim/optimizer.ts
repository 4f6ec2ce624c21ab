import { fmt, sameShape } from '../engine/shape.js';
import { keep } from '../engine/scope.js';
import { type Tensor, full, zeros } from '../engine/tensor.js';
import { FINITE } from '../kernels/finite.js';
import type { FiniteWatch } from '../kernels/optim.js';
import type { ParamArena } from './arena.js';
import type { LossScaler } from './loss-scaler.js';

/** Host copy of a tensor, as used by state dicts and checkpoints. */
export interface HostTensor { shape: number[]; data: Float32Array }

/** Base class: holds parameters, per-parameter state tensors and the current learning rate. */
export abstract class Optimizer {
  lr: number;
  steps = 0;
  protected readonly state = new Map<Tensor, Record<string, Tensor>>();
  /** Small parameters packed for one-dispatch updates (subclasses that implement `updateArena`). */
  protected arena: ParamArena | null = null;
  /** u32 [1]: the first step whose update left a parameter value non-finite (FINITE: none). */
  private flag: Tensor | null = null;
  /** u32 [1]: non-zero while this step is skipped (loss scaling); stays 0 without a scaler. */
  private skip: Tensor | null = null;
  /**
   * Dynamic loss scaling (f16 GEMM operands): the gradients are the scaled loss's, so each step
   * first divides them by the scale and skips itself if one is not finite. Null: plain steps.
   */
  scaler: LossScaler | null = null;

  constructor(readonly params: Tensor[], lr: number) {
    if (!(lr >= 0)) throw new Error(`optimizer: learning rate must be ≥ 0, got ${lr}`);
    params.forEach((p, i) => {
      if (p.dtype !== 'f32') throw new Error(`optimizer: parameter ${i} is ${p.describe()}, expected f32`);
    });
    this.lr = lr;
  }

  /**
   * Applies one update to every parameter that has a gradient: those in the arena with one
   * dispatch, the others one by one.
   */
  step(): void {
    this.steps++;
    const a = this.arena;
    const own = this.params.filter((p) => !a?.has(p) && p.hasGrad);
    const packed = a?.gatherGrads() ?? false;
    const sc = this.scaler;
    if (sc) {                                  // every gradient unscaled and checked before any update
      const { skip } = this.watch;
      sc.begin(skip);
      sc.unscaleAll([...own.map((p) => p.grad!), ...(packed ? [a!.grads] : [])], skip);
    }
    for (const p of own) this.update(p, p.grad!);
    if (packed) this.updateArena(a!);
    if (sc) sc.collect(this.watch.skip);
  }

  protected abstract update(p: Tensor, g: Tensor): void;
  /** Updates the arena's parameters that have a gradient from `arena.grads`, in one go. */
  protected updateArena(_arena: ParamArena): void { throw new Error(`${this.constructor.name}: no arena update`); }

  /** State slot `name` of p, created filled with `init` (its arena's window for packed parameters). */
  protected slot(p: Tensor, name: string, init = 0): { t: Tensor; fresh: boolean } {
    let s = this.state.get(p);
    if (!s) this.state.set(p, (s = {}));
    if (s[name]) return { t: s[name], fresh: false };
    s[name] = keep(this.arena?.has(p) ? this.arena.slotWindow(name, p, init) : init === 0 ? zeros(p.shape) : full(p.shape, init));
    return { t: s[name], fresh: true };
  }

  /** What this step's kernels write to when a parameter becomes non-finite: the flag and the step (1-based). */
  protected get watch(): FiniteWatch {
    this.flag ??= keep(full([1], FINITE, 'u32'));
    this.skip ??= keep(zeros([1], 'u32'));
    return { flag: this.flag, tag: this.steps, skip: this.skip };
  }

  /**
   * The first step (as counted by `steps`) whose update made a parameter Inf or NaN — because its
   * gradient was, or the update overflowed — or null if none has since the last `clearNonFinite()`.
   * Reads one u32 back; call it at a point where the caller syncs anyway.
   */
  async firstNonFiniteStep(): Promise<number | null> {
    if (!this.flag) return null;
    const v = (await this.flag.read())[0];
    return v === FINITE ? null : v;
  }

  clearNonFinite(): void { this.flag?.write([FINITE]); }

  /** Drops all gradients (the next backward starts from zero). */
  zeroGrad(): void {
    for (const p of this.params) p.clearGrad();
  }

  /** State tensors named "<param index>.<slot>", for checkpoints. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.params.forEach((p, i) => {
      for (const [k, t] of Object.entries(this.state.get(p) ?? {})) out.set(`${i}.${k}`, t);
    });
    return out;
  }

  /** Restores state saved by `stateTensors()` (after reading to host) and the step count. */
  loadState(tensors: Map<string, HostTensor>, steps: number): void {
    for (const [key, h] of tensors) {
      const [i, name] = key.split('.');
      const p = this.params[Number(i)];
      if (!p || !name) throw new Error(`optimizer state: unknown entry '${key}' (${this.params.length} parameters)`);
      if (!sameShape(h.shape, p.shape)) {
        throw new Error(`optimizer state: '${key}' has shape ${fmt(h.shape)} but parameter ${i} is ${fmt(p.shape)}`);
      }
      this.slot(p, name).t.write(h.data);
    }
    this.steps = steps;
  }

  dispose(): void {
    this.flag?.dispose();
    this.flag = null;
    this.skip?.dispose();
    this.skip = null;
    for (const s of this.state.values()) for (const t of Object.values(s)) t.dispose();
    this.state.clear();
    this.arena?.dispose();
    this.arena = null;
  }
}
