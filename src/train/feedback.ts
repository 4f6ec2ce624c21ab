// Spatial feedback learning (Rai et al., BMVC 2020; seed-specs §1.5): a restoration U-Net in front
// of ERFNet, run for 3 feedback iterations after one plain pass. Iteration k feeds
// [Δ·R_r | Δ·R_g | Δ·R_b] (Δ = change of the segmentation logits, R = previous restored image, both
// detached) into the U-Net bottleneck; the U-Net takes an Adam step on its own L1 loss after every
// iteration; ERFNet sees the detached restored image and takes one step on Σ_k loss_k (iFL / CB-iFL:
// focal with γ_k = 0, 0.1, 0.2). The end-to-end variant instead back-propagates the segmentation loss
// through the warp into the U-Net and steps both networks once on Σ_k (seg_k + L1_k).
import { backward, noGrad } from '../engine/autograd.js';
import { scope } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { add, scale, sub } from '../kernels/elementwise.js';
import { inverseField } from '../sim/inverse.js';
import { sliceChannels } from '../kernels/slice.js';
import { crossEntropy, focalLoss, l1Loss } from '../kernels/losses.js';
import type { Module } from '../engine/module.js';
import type { ERFNet } from '../models/erfnet.js';
import { FeedbackModel } from '../models/feedback.js';
import { type RestorationUNet, feedbackInput } from '../models/restoration-unet.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { LossScaler } from '../optim/loss-scaler.js';
import { type EvalOut, type StepData, type StepOut, type System, scaledBackward } from './system.js';

export type SegLoss = 'ce' | 'focal' | 'ifl' | 'cbifl';

export interface FeedbackOptions {
  iterations?: number;
  /** Per-iteration γ for iFL / CB-iFL (reference 0, 0.1, 0.2); `focal` uses gammas[last] throughout. */
  gammas?: number[];
  loss?: SegLoss;
  /** false: the restoration net runs without the feedback branch (the "restoration pre-network" variant). */
  feedback?: boolean;
  endToEnd?: boolean;
  /**
   * Back-propagate each iteration's segmentation loss as soon as it is computed (default true;
   * not with endToEnd). The gradient of the sum is the sum of the gradients, which accumulate in
   * the parameters until the one optimizer step, so the update is the reference's; but only one
   * iteration's ERFNet activations are alive at a time instead of all of them (bench/NOTES.md §34).
   */
  backwardPerIteration?: boolean;
  /**
   * Flow supervision (beyond the paper): the U-Net's loss adds flowWeight · L1 between its flows
   * and the simulator's exact inverse fields (default 0: the reference's photometric L1 alone).
   */
  flowWeight?: number;
  /**
   * Restoration pre-training (beyond the paper): the first N training epochs (of --epochs) step the
   * U-Net alone on its own loss (L1, plus the flow term), one plain forward per batch on fresh
   * distortions, and leave ERFNet untouched; the feedback loop trains from epoch N + 1. Default 0.
   */
  pretrainEpochs?: number;
  /**
   * The segmenter's differentiable full-resolution logits (another registered segmenter's
   * System.predict); absent: `seg` is ERFNet and its forward gives them.
   */
  segForward?: (x: Tensor) => Tensor;
  /** Input sides must be multiples of this (default: the U-Net's, at least 8). */
  multiple?: number;
  ignoreIndex: number;
  /** Class weights of the segmentation loss (CE, focal, CB-iFL); owned by the system once given. */
  weight?: Tensor | null;
}

/** CB weights from effective numbers (Cui et al.; seed-specs §1.6): n_c = 100 / w_c, w' = (1 − β)/(1 − β^n_c). */
export function cbWeights(base: ArrayLike<number>, beta = 0.9999): Float32Array {
  return Float32Array.from(base, (w) => (w > 0 ? (1 - beta) / (1 - beta ** (100 / w)) : 0));
}

/** detach: same storage, no autograd history. */
export const detach = (t: Tensor): Tensor => t.view(t.shape);

export interface FeedbackResult { restored: Tensor[]; flows: Tensor[]; logits: Tensor[]; l1: Tensor[]; seg: Tensor | null }

export class FeedbackSystem implements System {
  readonly iterations: number;
  readonly gammas: number[];
  readonly loss: SegLoss;
  /** 'restore.*' (the U-Net) and 'seg.*' (ERFNet) in one state dict. */
  readonly module: FeedbackModel;
  /** ERFNet's optimizer first (the main group: --lr), then the U-Net's. */
  readonly groups: Record<string, Tensor[]>;
  readonly outputs: string[];
  readonly labelDownscale = 1;
  readonly multiple: number;
  readonly frames: number;
  // every backward of its step starts from the loss scale (--precision f16)
  readonly lossScaling = true;
  /** The segmenter's logits at full resolution. */
  private readonly segmenter: (x: Tensor) => Tensor;
  constructor(readonly unet: RestorationUNet, readonly seg: Module, readonly o: FeedbackOptions) {
    this.segmenter = o.segForward ?? ((x) => (seg as ERFNet).forward(x));
    this.iterations = o.iterations ?? 3;
    this.gammas = o.gammas ?? [0, 0.1, 0.2];
    this.loss = o.loss ?? 'cbifl';
    if (this.gammas.length < this.iterations) throw new Error(`feedback: ${this.iterations} iterations need ${this.iterations} gammas`);
    this.module = new FeedbackModel(unet, seg);
    this.groups = { seg: seg.parameters(), restore: unet.parameters() };
    this.outputs = Array.from({ length: this.iterations }, (_, k) => `iteration ${k + 1}`);
    this.multiple = o.multiple ?? Math.max(8, 2 ** (unet.depth - 1));
    this.frames = unet.frames;
  }

  /** True in the restoration pre-training epochs (set by the trainer through setEpoch). */
  private pretraining = false;

  train(mode: boolean): void { this.module.train(mode); }

  setEpoch(epoch: number): void { this.pretraining = epoch < (this.o.pretrainEpochs ?? 0); }

  trainStep(d: StepData, opt: Record<string, Optimizer>): StepOut {
    const target = (this.o.flowWeight ?? 0) > 0 ? this.flowTarget(d) : null;
    if (this.pretraining) {
      // the U-Net alone: restore the distorted frames toward the clean image (and the exact inverse flow)
      const out = this.unet.forward(d.input), l1 = l1Loss(out.restored, d.clean), loss = this.restoreLoss(l1, out.flow, target);
      scaledBackward(loss, d); opt.restore.step(); opt.restore.zeroGrad();
      return { loss, extras: { l1 } };
    }
    const o = this.run(d.input, d.clean, d.labels, this.o.weight ?? null, { restore: opt.restore, seg: opt.seg }, target, d.scaler);
    return { loss: o.seg!, extras: { l1: o.l1[o.l1.length - 1] }, logits: o.logits };
  }

  /** The U-Net's own loss: its photometric L1, plus flowWeight · L1 of its flows to the exact inverse when supervised. */
  private restoreLoss(l1: Tensor, flow: Tensor, target: Tensor | null): Tensor {
    return target ? add(l1, scale(l1Loss(flow, target), this.o.flowWeight!)) : l1;
  }

  /** The exact inverse of the batch's distortion fields, the target of flow supervision. */
  private flowTarget(d: StepData): Tensor {
    if (!d.field) throw new Error('feedback: --flow-loss needs the simulator\'s fields with each batch (train on distortion simulated on the fly)');
    return inverseField(d.field);
  }

  evalStep(input: Tensor, labels: Tensor | null, clean: Tensor | null): EvalOut {
    const o = this.run(input, clean, labels, this.o.weight ?? null);
    return { logits: o.logits, loss: o.seg ?? undefined, extras: clean ? { l1: o.l1[o.l1.length - 1] } : undefined,
      restoration: o.restored.map((r, k) => ({ restored: r, flow: o.flows[k] })),
      images: { distorted: this.frames > 1 ? sliceChannels(input, 0, 3) : input, restored: o.restored[o.restored.length - 1] } };
  }

  dispose(): void {
    this.module.dispose();
    this.o.weight?.dispose();
  }

  private segLoss(k: number, logits: Tensor, labels: Tensor, weight: Tensor | null): Tensor {
    const ig = this.o.ignoreIndex;
    switch (this.loss) {
      case 'ce': return crossEntropy(logits, labels, { weight, ignoreIndex: ig });
      case 'focal': return focalLoss(logits, labels, { weight, gamma: this.gammas[this.iterations - 1], ignoreIndex: ig });
      case 'ifl': return focalLoss(logits, labels, { gamma: this.gammas[k], ignoreIndex: ig });
      case 'cbifl': return focalLoss(logits, labels, { weight, gamma: this.gammas[k], ignoreIndex: ig });
    }
  }

  /**
   * The unrolled loop on a batch. With optimizers (training) it updates the networks as the
   * reference does; without (evaluation) it only runs forward. Call inside scope() and return what
   * you need from it; everything else is freed there.
   */
  run(turbulent: Tensor, clean: Tensor | null, labels: Tensor | null, weight: Tensor | null,
    opt?: { restore: Optimizer; seg: Optimizer }, flowTarget: Tensor | null = null, scaler?: LossScaler): FeedbackResult {
    const training = opt !== undefined;
    // every backward starts from the loss scale under --precision f16; the optimizers, which hold the
    // same scaler, unscale what accumulated (the seg gradients over the iterations alike)
    const back = (l: Tensor) => backward(l, scaler?.seed(l));
    const useFb = this.o.feedback ?? true, e2e = training && (this.o.endToEnd ?? false);
    const early = training && !e2e && (this.o.backwardPerIteration ?? true);
    const restored: Tensor[] = [], flows: Tensor[] = [], logits: Tensor[] = [], l1s: Tensor[] = [], restoreLosses: Tensor[] = [], segLosses: Tensor[] = [];
    // plain pass: initialises prev = cur = S_plain, so the first feedback Δ is 0
    let rPrev = noGrad(() => this.unet.forward(turbulent).restored);
    let prev = noGrad(() => this.segmenter(rPrev));
    let cur = prev;
    for (let k = 0; k < this.iterations; k++) {
      // One scope per iteration: its intermediates are freed when it ends. Whatever a later
      // backward still needs stays alive through the saved views of its graph.
      const it = scope(() => {
        const fb = useFb ? noGrad(() => feedbackInput(sub(cur, prev), rPrev)) : null;
        const out = training ? this.unet.forward(turbulent, fb) : noGrad(() => this.unet.forward(turbulent, fb)), r = out.restored;
        let l1: Tensor | null = null, restoreLoss: Tensor | null = null;
        if (clean) {
          l1 = training ? l1Loss(r, clean) : noGrad(() => l1Loss(r, clean));
          // the U-Net's own loss: photometric L1, plus the flow term when supervised
          restoreLoss = training ? this.restoreLoss(l1, out.flow, flowTarget) : l1;
          if (training && !e2e) { back(restoreLoss); opt!.restore.step(); opt!.restore.zeroGrad(); }
        }
        const segIn = e2e ? r : detach(r);
        const s = training ? this.segmenter(segIn) : noGrad(() => this.segmenter(segIn));
        let l: Tensor | null = null;
        if (labels) {
          l = training ? this.segLoss(k, s, labels, weight) : noGrad(() => this.segLoss(k, s, labels, weight));
          if (early) back(l);   // frees this iteration's graph; the gradients accumulate
        }
        return { r, s, l1, restoreLoss, l, sOut: detach(s), rOut: detach(r), flow: detach(out.flow) };
      });
      if (it.l1) { l1s.push(it.l1); restoreLosses.push(it.restoreLoss!); }
      if (it.l) segLosses.push(it.l);
      restored.push(it.r); logits.push(it.s); flows.push(it.flow);
      prev = cur; cur = it.sOut; rPrev = it.rOut;
    }
    let seg: Tensor | null = null;
    if (segLosses.length) {
      seg = segLosses.reduce((a, b) => (training && !early ? add(a, b) : noGrad(() => add(a, b))));
      if (training) {
        const total = e2e ? restoreLosses.reduce((a, b) => add(a, b), seg) : seg;
        if (!early) back(total);
        opt!.seg.step(); opt!.seg.zeroGrad();
        if (e2e) { opt!.restore.step(); opt!.restore.zeroGrad(); }
      }
    }
    return { restored, flows, logits, l1: l1s, seg };
  }
}
