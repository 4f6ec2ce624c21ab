// What the trainer, the evaluator, `predict`, `profile` and `bench` drive: a model with its loss
// and its way of stepping its optimizers. A registry entry (src/models/registry.ts) builds one;
// single-network models use SegmentationSystem, the feedback model its own (train/feedback.ts).
import { backward } from '../engine/autograd.js';
import type { Module } from '../engine/module.js';
import { noGrad } from '../engine/autograd.js';
import { type Tensor, full } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { add, scale } from '../kernels/elementwise.js';
import { crossEntropy, focalLoss } from '../kernels/losses.js';
import { LossScaler } from '../optim/loss-scaler.js';
import type { Optimizer } from '../optim/optimizer.js';

export interface StepData {
  /** The network input: the image, heat-distorted when the run distorts. */
  input: Tensor;
  /** The undistorted image (the restoration target); the input itself when nothing distorts. */
  clean: Tensor;
  /** i32 class labels at the input's size divided by `labelDownscale`. */
  labels: Tensor;
  /** The simulator's displacement fields of the input's frames [N, 2·frames, H, W], when it is distorted. */
  field?: Tensor;
  /**
   * Loss scaling (--precision f16): backward starts from the scale instead of 1 (`scaledBackward`);
   * the optimizers, which hold the same scaler, unscale and may skip. Only systems with
   * `lossScaling` get one.
   */
  scaler?: LossScaler;
}

/**
 * The loss scaler of a run with f16 GEMM operands, attached to every optimizer (the trainer, bench
 * and profile step alike); null at f32. Refuses systems whose steps cannot scale their losses.
 */
export function lossScalerFor(system: System, opts: Record<string, Optimizer>, precision: 'f32' | 'f16', name: string): LossScaler | null {
  if (precision !== 'f16') return null;
  if (!system.lossScaling) throw new Error(`--precision f16: ${name}'s training step does not scale its losses (StepData.scaler); use --precision f32`);
  const sc = new LossScaler();
  for (const o of Object.values(opts)) o.scaler = sc;
  return sc;
}

/** backward(loss), from the loss scale when the step has a scaler. */
export function scaledBackward(loss: Tensor, d: StepData): void {
  backward(loss, d.scaler ? d.scaler.seed(loss) : undefined);
}

export interface StepOut {
  /** The step's scalar loss: what progress bars, logs and the divergence check watch. */
  loss: Tensor;
  /** Further scalars to log per epoch, by column name (e.g. the restoration L1). */
  extras?: Record<string, Tensor>;
  /** Logits of each output, when the step has them (training-set IoU). */
  logits?: Tensor[];
}

export interface EvalOut {
  /** Class logits of each output (one per iteration of iterative models); the last is the prediction. */
  logits: Tensor[];
  /** Loss (and extras) when labels were given. */
  loss?: Tensor;
  extras?: Record<string, Tensor>;
  /** Images shown beside the segmentation by `predict`, e.g. the restored input, [N,3,H,W]. */
  images?: Record<string, Tensor>;
  /** Models that restore: per output (iteration), the restored image [N,3,H,W] and the flow [N,2·frames,H,W] that made it. */
  restoration?: { restored: Tensor; flow: Tensor }[];
}

export interface System {
  /** Everything a checkpoint's state dict holds. */
  readonly module: Module;
  /** Parameter groups by name, one optimizer each, the main group first. */
  readonly groups: Record<string, Tensor[]>;
  /** Names of the evaluated outputs, e.g. ['logits'] or ['iteration 1', …]. */
  readonly outputs: string[];
  /** Labels come at the input size divided by this (ERFNet's encoder stage: 8). */
  readonly labelDownscale: number;
  /** Input height and width must be multiples of this. */
  readonly multiple: number;
  /** Heat-distorted frames per sample it takes, [N, 3·frames, H, W] (default 1). */
  readonly frames?: number;
  /** Its trainStep honours StepData.scaler (one backward from the scaled loss), so it can train with --precision f16. */
  readonly lossScaling?: boolean;
  train(mode: boolean): void;
  /** Called before each training epoch (0-based), for losses that change with the epoch. */
  setEpoch?(epoch: number): void;
  /** Forward, loss, backward and optimizer steps on one batch. Call inside scope(). */
  trainStep(d: StepData, opt: Record<string, Optimizer>): StepOut;
  /**
   * The prediction's class logits (the last output) at the label resolution, differentiable, in
   * mirage's C-class layout: what a model in front of this one (the feedback system's U-Net) trains
   * through. Single-network systems have it.
   */
  predict?(x: Tensor): Tensor;
  /** Forward without updates or gradients; labels (and clean images) add the loss. Call inside scope(). */
  evalStep(input: Tensor, labels: Tensor | null, clean: Tensor | null): EvalOut;
  dispose(): void;
}

export type SegLossName = 'ce' | 'focal';

export interface SegmentationOptions {
  /** Parameter groups (default: all parameters as 'model'). */
  groups?: Record<string, Tensor[]>;
  /** The network's logits for an input (default: module.forward). */
  forward: (x: Tensor) => Tensor;
  weight: Tensor | null;
  ignoreIndex: number;
  loss?: SegLossName;
  gamma?: number;
  labelDownscale?: number;
  multiple: number;
  /** A training loss of its own (e.g. label relaxation), on the network's raw logits; validation then uses plain CE. */
  lossFn?: (logits: Tensor, labels: Tensor) => Tensor;
  /** Called before each training epoch. */
  onEpoch?: (epoch: number) => void;
  /**
   * The network has no channel for the ignore class (NVIDIA's layout: 19 Cityscapes classes, ignore
   * 255); it must be the last class, and outputs get a constant −1e4 channel there, so argmax,
   * softmax and IoU see mirage's C-class layout unchanged.
   */
  noVoidChannel?: boolean;
}

/** A single network trained on one loss: forward, loss, backward, step every optimizer. */
export class SegmentationSystem implements System {
  readonly groups: Record<string, Tensor[]>;
  readonly outputs = ['logits'];
  readonly labelDownscale: number;
  readonly multiple: number;
  readonly lossScaling = true;

  constructor(readonly module: Module, private readonly o: SegmentationOptions) {
    this.groups = o.groups ?? { model: module.parameters() };
    this.labelDownscale = o.labelDownscale ?? 1;
    this.multiple = o.multiple;
  }

  /** The outputs' logits: the network's, with the constant ignore channel where it has none. */
  private present(raw: Tensor): Tensor {
    if (!this.o.noVoidChannel) return raw;
    const [n, , h, w] = raw.shape;
    const pad = full([n, 1, h, w], -1e4);
    try { return concat([raw, pad]); } finally { pad.dispose(); }
  }

  setEpoch(epoch: number): void { this.o.onEpoch?.(epoch); }

  predict(x: Tensor): Tensor { return this.present(this.o.forward(x)); }

  private loss(logits: Tensor, labels: Tensor, training = true): Tensor {
    const { weight, ignoreIndex } = this.o;
    if (this.o.lossFn) return training ? this.o.lossFn(logits, labels) : crossEntropy(logits, labels, { ignoreIndex });
    return this.o.loss === 'focal' ? focalLoss(logits, labels, { weight, gamma: this.o.gamma ?? 2, ignoreIndex })
      : crossEntropy(logits, labels, { weight, ignoreIndex });
  }

  train(mode: boolean): void { this.module.train(mode); }

  trainStep(d: StepData, opt: Record<string, Optimizer>): StepOut {
    const raw = this.o.forward(d.input);
    const loss = this.loss(raw, d.labels);
    scaledBackward(loss, d);
    for (const o of Object.values(opt)) { o.step(); o.zeroGrad(); }
    return { loss, logits: [noGrad(() => this.present(raw))] };
  }

  evalStep(input: Tensor, labels: Tensor | null): EvalOut {
    return noGrad(() => {
      const raw = this.o.forward(input);
      return { logits: [this.present(raw)], loss: labels ? this.loss(raw, labels, false) : undefined };
    });
  }

  dispose(): void {
    this.module.dispose();
    this.o.weight?.dispose();
  }
}

export interface DeepSupervisionOptions {
  /** Every output's logits, first to last (the last is the prediction). */
  forward: (x: Tensor) => Tensor[];
  /** Names of the outputs, e.g. ['iteration 1', 'iteration 2', …]. */
  names: string[];
  /** The loss of one output. */
  loss: (logits: Tensor, labels: Tensor) => Tensor;
  labelDownscale: number;
  multiple: number;
  groups?: Record<string, Tensor[]>;
}

/** A network with several outputs (iterations, stacks), trained on the mean of their losses (deep supervision). */
export class DeepSupervisionSystem implements System {
  readonly groups: Record<string, Tensor[]>;
  readonly outputs: string[];
  readonly labelDownscale: number;
  readonly multiple: number;
  readonly lossScaling = true;
  constructor(readonly module: Module, private readonly o: DeepSupervisionOptions) {
    this.groups = o.groups ?? { model: module.parameters() };
    this.outputs = o.names;
    this.labelDownscale = o.labelDownscale;
    this.multiple = o.multiple;
  }
  train(mode: boolean): void { this.module.train(mode); }
  predict(x: Tensor): Tensor { const outs = this.o.forward(x); return outs[outs.length - 1]; }
  private loss(outs: Tensor[], labels: Tensor): Tensor {
    const total = outs.map((l) => this.o.loss(l, labels)).reduce((a, b) => add(a, b));
    return outs.length > 1 ? scale(total, 1 / outs.length) : total;
  }
  trainStep(d: StepData, opt: Record<string, Optimizer>): StepOut {
    const outs = this.o.forward(d.input);
    const loss = this.loss(outs, d.labels);
    scaledBackward(loss, d);
    for (const o of Object.values(opt)) { o.step(); o.zeroGrad(); }
    return { loss, logits: outs };
  }
  evalStep(input: Tensor, labels: Tensor | null): EvalOut {
    return noGrad(() => {
      const outs = this.o.forward(input);
      return { logits: outs, loss: labels ? this.loss(outs, labels) : undefined };
    });
  }
  dispose(): void { this.module.dispose(); }
}
