// What the trainer, the evaluator, `predict`, `profile` and `bench` drive: a model with its loss
// and its way of stepping its optimizers. A registry entry (src/models/registry.ts) builds one;
// single-network models use SegmentationSystem, the feedback model its own (train/feedback.ts).
import { backward } from '../engine/autograd.js';
import type { Module } from '../engine/module.js';
import { noGrad } from '../engine/autograd.js';
import type { Tensor } from '../engine/tensor.js';
import { crossEntropy, focalLoss } from '../kernels/losses.js';
import type { Optimizer } from '../optim/optimizer.js';

export interface StepData {
  /** The network input: the image, heat-distorted when the run distorts. */
  input: Tensor;
  /** The undistorted image (the restoration target); the input itself when nothing distorts. */
  clean: Tensor;
  /** i32 class labels at the input's size divided by `labelDownscale`. */
  labels: Tensor;
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
  train(mode: boolean): void;
  /** Forward, loss, backward and optimizer steps on one batch. Call inside scope(). */
  trainStep(d: StepData, opt: Record<string, Optimizer>): StepOut;
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
}

/** A single network trained on one loss: forward, loss, backward, step every optimizer. */
export class SegmentationSystem implements System {
  readonly groups: Record<string, Tensor[]>;
  readonly outputs = ['logits'];
  readonly labelDownscale: number;
  readonly multiple: number;

  constructor(readonly module: Module, private readonly o: SegmentationOptions) {
    this.groups = o.groups ?? { model: module.parameters() };
    this.labelDownscale = o.labelDownscale ?? 1;
    this.multiple = o.multiple;
  }

  private loss(logits: Tensor, labels: Tensor): Tensor {
    const { weight, ignoreIndex } = this.o;
    return this.o.loss === 'focal' ? focalLoss(logits, labels, { weight, gamma: this.o.gamma ?? 2, ignoreIndex })
      : crossEntropy(logits, labels, { weight, ignoreIndex });
  }

  train(mode: boolean): void { this.module.train(mode); }

  trainStep(d: StepData, opt: Record<string, Optimizer>): StepOut {
    const logits = this.o.forward(d.input);
    const loss = this.loss(logits, d.labels);
    backward(loss);
    for (const o of Object.values(opt)) { o.step(); o.zeroGrad(); }
    return { loss, logits: [logits] };
  }

  evalStep(input: Tensor, labels: Tensor | null): EvalOut {
    return noGrad(() => {
      const logits = this.o.forward(input);
      return { logits: [logits], loss: labels ? this.loss(logits, labels) : undefined };
    });
  }

  dispose(): void {
    this.module.dispose();
    this.o.weight?.dispose();
  }
}
