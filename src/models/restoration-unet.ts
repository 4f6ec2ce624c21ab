// The spatial-feedback restoration network (Rai et al., BMVC 2020; seed-specs §1.2): a U-Net
// (jvanvugt/pytorch-unet layout: depth 5, wf 6, padding, batch norm, up_mode 'upconv') whose
// 2-channel output becomes a displacement field tanh(·)·10 that warps the distorted input. With
// feedback, the bottleneck gets + 0.001·TransBlockRes([Δ·R_r, Δ·R_g, Δ·R_b]), where Δ is the change
// of the segmentation logits between the last two iterations and R the previous restored image.
import { Module } from '../engine/module.js';
import type { Rng } from '../engine/rng.js';
import { type Tensor, full } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { add, mul, scale, tanh } from '../kernels/elementwise.js';
import { avgPool2d, maxPool2d } from '../kernels/pool.js';
import { warp } from '../kernels/warp.js';
import { sliceChannels } from '../kernels/slice.js';
import { MAX_FRAMES } from '../kernels/temporal.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, layer } from './layers.js';

/** [conv3×3 → ReLU → BN] × 2 (ReLU before BN, as the reference); state-dict indices block.0/2/3/5. */
export class UNetConvBlock extends Module {
  readonly block: Module[];
  constructor(inC: number, outC: number, rng?: Rng) {
    super();
    // indices 1 and 4 are the parameter-free ReLUs of the reference nn.Sequential
    const b: Module[] = [new Conv2d(inC, outC, 3, { padding: 1, rng }), new Module(), new BatchNorm2d(outC),
      new Conv2d(outC, outC, 3, { padding: 1, rng }), new Module(), new BatchNorm2d(outC)];
    this.block = b;
  }
  forward(x: Tensor): Tensor {
    const [c1, , b1, c2, , b2] = this.block as [Conv2d, Module, BatchNorm2d, Conv2d, Module, BatchNorm2d];
    return b2.forward(c2.forward(b1.forward(c1.forward(x, true)), true));   // ReLUs fused into the convs
  }
}

/** ConvTranspose 2×2 s2, concatenation with the skip, then a conv block. */
export class UNetUpBlock extends Module {
  readonly up: ConvTranspose2d;
  readonly conv_block: UNetConvBlock;
  constructor(inC: number, outC: number, rng?: Rng) {
    super();
    this.up = new ConvTranspose2d(inC, outC, 2, { stride: 2, rng });
    this.conv_block = new UNetConvBlock(inC, outC, rng);
  }
  forward(x: Tensor, bridge: Tensor): Tensor {
    return this.conv_block.forward(concat([this.up.forward(x), bridge]));   // padding keeps sizes: no crop
  }
}

/**
 * Feedback branch (reference class TransBlockRes): AvgPool → conv3×3 (C→C) → BN → ReLU →
 * conv3×3 (C→bottleneck) → BN → AvgPool, pooling by 2^(depth−1) in all (4·4 at depth 5).
 * The reference's attribute names are not in the public spec; these are ours.
 */
export class FeedbackBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly pools: [number, number];
  constructor(inC: number, outC: number, depth: number, rng?: Rng) {
    super();
    this.conv1 = new Conv2d(inC, inC, 3, { padding: 1, rng });
    this.bn1 = new BatchNorm2d(inC);
    this.conv2 = new Conv2d(inC, outC, 3, { padding: 1, rng });
    this.bn2 = new BatchNorm2d(outC);
    this.pools = [2 ** Math.ceil((depth - 1) / 2), 2 ** Math.floor((depth - 1) / 2)];
  }
  forward(f: Tensor): Tensor {
    let y = this.pools[0] > 1 ? avgPool2d(f, this.pools[0]) : f;
    y = this.bn1.forward(this.conv1.forward(y), true);
    y = this.bn2.forward(this.conv2.forward(y));
    return this.pools[1] > 1 ? avgPool2d(y, this.pools[1]) : y;
  }
}

export { feedbackInput } from '../kernels/feedback-input.js';

export interface RestorationOptions {
  depth?: number;
  /** First layer has 2^wf filters (reference 6 → 64; use 2–4 on a CPU). */
  wf?: number;
  /** Segmentation classes (the feedback branch takes 3·classes channels). */
  numClasses?: number;
  /** Maximum displacement in pixels (reference: tanh · 10). */
  maxShift?: number;
  feedbackScale?: number;
  /**
   * Frames of the scene it restores from (default 1, the reference): the input is [N, 3K, H, W],
   * the last layer gives one flow per frame (2K channels), and the restored image is the mean of
   * the K frames each warped by its flow.
   */
  frames?: number;
  /**
   * A learnable gate on the feedback branch (beyond the paper): the branch enters multiplied by a
   * parameter `feedback_gate` that starts at feedbackScale and trains with the U-Net, instead of the
   * fixed 0.001 at which the branch stays inert at small budgets (README, hot weather).
   */
  feedbackGate?: boolean;
  rng?: Rng;
}

export interface RestorationOutput { restored: Tensor; flow: Tensor }

export class RestorationUNet extends Module {
  readonly down_path: UNetConvBlock[] = [];
  readonly up_path: UNetUpBlock[] = [];
  readonly last: Conv2d;
  readonly feedback: FeedbackBlock;
  readonly depth: number;
  readonly wf: number;
  readonly maxShift: number;
  readonly feedbackScale: number;
  readonly frames: number;
  readonly feedback_gate: Tensor | null;

  constructor(o: RestorationOptions = {}) {
    super();
    this.depth = o.depth ?? 5;
    this.wf = o.wf ?? 6;
    this.maxShift = o.maxShift ?? 10;
    this.feedbackScale = o.feedbackScale ?? 0.001;
    this.frames = o.frames ?? 1;
    if (!(Number.isInteger(this.frames) && this.frames >= 1 && this.frames <= MAX_FRAMES)) throw new Error(`restoration U-Net: frames ${this.frames} must be an integer from 1 to ${MAX_FRAMES}`);
    if (!(this.depth >= 2 && this.depth <= 7) || !(this.wf >= 0 && this.wf <= 8)) {
      throw new Error(`restoration U-Net: depth ${this.depth} (2–7) or wf ${this.wf} (0–8) out of range`);
    }
    let prev = 3 * this.frames;
    for (let i = 0; i < this.depth; i++) { this.down_path.push(new UNetConvBlock(prev, 2 ** (this.wf + i), o.rng)); prev = 2 ** (this.wf + i); }
    for (let i = this.depth - 2; i >= 0; i--) { this.up_path.push(new UNetUpBlock(prev, 2 ** (this.wf + i), o.rng)); prev = 2 ** (this.wf + i); }
    this.last = new Conv2d(prev, 2 * this.frames, 1, { rng: o.rng });
    this.feedback = new FeedbackBlock(3 * (o.numClasses ?? 20), 2 ** (this.wf + this.depth - 1), this.depth, o.rng);
    this.feedback_gate = o.feedbackGate ? this.registerParameter('feedback_gate', full([1], this.feedbackScale)) : null;
  }

  /** The displacement fields (one per frame) and the restored image; `feedback` is the 3·classes-channel tensor (or none). */
  forward(x: Tensor, feedback: Tensor | null = null): RestorationOutput {
    const m = 2 ** (this.depth - 1), c = 3 * this.frames;
    if (x.rank !== 4 || x.shape[1] !== c || x.shape[2] % m || x.shape[3] % m) {
      throw new Error(`restoration U-Net (depth ${this.depth}, ${this.frames} frame${this.frames > 1 ? 's' : ''}): input must be [N,${c},H,W] ` +
        `with H, W multiples of ${m}, got ${x.describe()}`);
    }
    const skips: Tensor[] = [];
    let y = x;
    this.down_path.forEach((blk, i) => {
      y = layer(`unet.down_path.${i}`, () => blk.forward(y));
      if (i < this.depth - 1) { skips.push(y); y = layer(`unet.pool.${i}`, () => maxPool2d(y, 2)); }
    });
    if (feedback) {
      const gate = this.feedback_gate;
      y = add(y, layer('unet.feedback', () => gate ? mul(this.feedback.forward(feedback), gate) : scale(this.feedback.forward(feedback), this.feedbackScale)));
    }
    this.up_path.forEach((blk, i) => { y = layer(`unet.up_path.${i}`, () => blk.forward(y, skips[skips.length - 1 - i])); });
    const flow = layer('unet.last', () => scale(tanh(this.last.forward(y)), this.maxShift));
    if (this.frames === 1) return { flow, restored: layer('unet.warp', () => warp(x, flow)) };
    // mean of the frames, each warped by its own flow
    const restored = layer('unet.warp', () => {
      let sum: Tensor | null = null;
      for (let k = 0; k < this.frames; k++) {
        const w = warp(sliceChannels(x, 3 * k, 3), sliceChannels(flow, 2 * k, 2));
        sum = sum ? add(sum, w) : w;
      }
      return scale(sum!, 1 / this.frames);
    });
    return { flow, restored };
  }
}
