// MSSA as the paper describes it (Sagar & Soundrapandiyan, arXiv 2007.12685v3 / ICCVW 2021;
// seed-specs §3.1): the v3 figure (README images/ss3.png) draws
//   Input → ResNet → dil-conv1 (1/1, 8) → dil-conv2 (1/2, 48) → dil-conv3 (1/4, 96) → dil-conv4 (1/8, 192)
//   → attention1 (1/8, 192); each of these joins by concat the mirrored decoder block
//   attention2 → atr-conv4 → atr-conv3 → atr-conv2 → atr-conv1 → output segmentation,
// with the channel attention module of images/ss5.png: out = x + x ⊙ a(x).
// The paper body (kernel sizes, dilation rates, the ResNet's depth) was not found, and the code the
// authors released is a BiSeNet (bisenet.ts). Choices made here, each a constructor option:
//   - "ResNet feature extractor" (`resBlocks`, default 1): the figure keeps full resolution and 8
//     channels up to dil-conv1, which a classification ResNet (1/4 after its stem) cannot, so it is
//     a residual extractor at full resolution: ConvBlock 3 → w₀, then `resBlocks` ResNet basic
//     blocks (torchvision's BasicBlock, w₀ channels).
//   - dil-conv1 (1/1): ConvBlock w₀ → w₀ with dilation d₀. dil-conv i > 1: a stride-2 ConvBlock
//     w_{i−1} → w_i (the downsampling), then a ConvBlock w_i → w_i with dilation d_i.
//   - attention1 / attention2: the channel attention module x + x ⊙ σ(BN(relu(conv1×1(mean_hw x))))
//     (the gate of the released code's attention module, residual as images/ss5.png draws it);
//     attention2 takes attention1's output.
//   - atr-conv4 (1/8): ConvBlock(attention2 ‖ dil-conv4) with dilation d₃. atr-conv i < 4: a
//     transposed 3×3 stride-2 conv w_{i+1} → w_i with BN and ReLU (the v1/v2 abstract's "transposed
//     convolutional layers in the upsampling layers"), then ConvBlock(up ‖ dil-conv i) with
//     dilation d_{i−1} (the v3 abstract's "atrous convolutional layers in the upsampling part").
//   - output: a 1×1 conv w₀ → classes on atr-conv1, at full resolution.
//   - `widths` 8, 48, 96, 192 (as drawn); `dilations` 1, 2, 4, 8 (default: each dilated tap spans
//     d·2^i = 1, 4, 16, 64 input pixels at its scale — the multi-scale series); `kernel` 3.
//   ConvBlocks here are conv (no bias) → BN (PyTorch defaults: scale, eps 1e-5) → ReLU.
// Inputs: height and width multiples of 8. Parameters at the defaults: 19 classes 1,808,163, 11 classes 1,808,091
// (test/mssa.test.ts);
// the paper claims 5.5 M parameters and 1.8 GFLOPs at 1024×1024, which no choice of the unknowns
// recovers from widths this narrow (README, the FPS table).
import { Module } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { AttentionRefinement, ConvBlock, type ConvBlockOptions } from './bisenet.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, layer } from './layers.js';
import { BasicBlock } from './resnet.js';

export interface MssaOptions {
  numClasses: number;
  /** Channels at 1/1, 1/2, 1/4, 1/8 (default 8, 48, 96, 192). */
  widths?: readonly number[];
  /** Dilation of the dil-conv / atr-conv at each scale (default 1, 2, 4, 8). */
  dilations?: readonly number[];
  /** Kernel size of the dilated and atrous convs (odd; default 3). */
  kernel?: number;
  /** ResNet basic blocks in the full-resolution feature extractor (default 1). */
  resBlocks?: number;
  seed?: number;
}

export const MSSA_DEFAULTS = { widths: [8, 48, 96, 192], dilations: [1, 2, 4, 8], kernel: 3, resBlocks: 1 } as const;
const BN: ConvBlockOptions = { bias: false, bn: {} };

/** Checked options with defaults filled in; errors name the option. */
export function mssaConfig(o: Omit<MssaOptions, 'numClasses' | 'seed'>): Required<Omit<MssaOptions, 'numClasses' | 'seed'>> {
  const widths = [...(o.widths ?? MSSA_DEFAULTS.widths)], dilations = [...(o.dilations ?? MSSA_DEFAULTS.dilations)];
  const kernel = o.kernel ?? MSSA_DEFAULTS.kernel, resBlocks = o.resBlocks ?? MSSA_DEFAULTS.resBlocks;
  if (widths.length !== 4 || !widths.every((w) => Number.isInteger(w) && w >= 1)) throw new Error(`mssa: widths ${widths.join(',')}: give 4 positive integers (1/1, 1/2, 1/4, 1/8)`);
  if (dilations.length !== 4 || !dilations.every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`mssa: dilations ${dilations.join(',')}: give 4 positive integers`);
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) throw new Error(`mssa: kernel ${kernel}: must be an odd positive integer`);
  if (!Number.isInteger(resBlocks) || resBlocks < 0) throw new Error(`mssa: res-blocks ${resBlocks}: must be a non-negative integer`);
  return { widths, dilations, kernel, resBlocks };
}

/** A dil-conv block: [stride-2 ConvBlock w_in → w] then ConvBlock w → w with dilation d. */
export class DilConv extends Module {
  readonly down: ConvBlock | null;
  readonly conv: ConvBlock;
  constructor(cin: number, cout: number, k: number, dilation: number, downsample: boolean, rng: Rng) {
    super();
    this.down = downsample ? new ConvBlock(cin, cout, k, 2, rng, BN) : null;
    this.conv = new ConvBlock(downsample ? cout : cin, cout, k, 1, rng, { ...BN, dilation });
  }
  forward(x: Tensor): Tensor { return this.conv.forward(this.down ? this.down.forward(x) : x); }
}

/** An atr-conv block: [transposed 3×3 s2 w_up → w, BN, ReLU] then ConvBlock(up ‖ skip) with dilation d. */
export class AtrConv extends Module {
  readonly up: ConvTranspose2d | null;
  readonly up_bn: BatchNorm2d | null;
  readonly conv: ConvBlock;
  constructor(cup: number, cout: number, k: number, dilation: number, upsample: boolean, rng: Rng) {
    super();
    this.up = upsample ? new ConvTranspose2d(cup, cout, 3, { stride: 2, padding: 1, outputPadding: 1, bias: false, rng }) : null;
    this.up_bn = upsample ? new BatchNorm2d(cout) : null;
    this.conv = new ConvBlock((upsample ? cout : cup) + cout, cout, k, 1, rng, { ...BN, dilation });
  }
  forward(x: Tensor, skip: Tensor): Tensor {
    const u = this.up ? this.up_bn!.forward(this.up.forward(x), true) : x;
    return this.conv.forward(concat([u, skip]));
  }
}

export class MSSA extends Module {
  readonly resnet: Module[];
  readonly dil_conv: DilConv[];
  readonly attention1: AttentionRefinement;
  readonly attention2: AttentionRefinement;
  readonly atr_conv: AtrConv[];
  readonly classifier: Conv2d;
  readonly config: ReturnType<typeof mssaConfig>;
  constructor(o: MssaOptions) {
    super();
    const c = this.config = mssaConfig(o);
    const rng = new Rng(o.seed ?? 1);
    const [w, d, k] = [c.widths, c.dilations, c.kernel];
    this.resnet = [new ConvBlock(3, w[0], k, 1, rng, BN),
      ...Array.from({ length: c.resBlocks }, () => new BasicBlock({ inplanes: w[0], planes: w[0], stride: 1, dilation: 1, se: false, downsample: false, rng }))];
    this.dil_conv = w.map((wi, i) => new DilConv(i ? w[i - 1] : w[0], wi, k, d[i], i > 0, rng));
    this.attention1 = new AttentionRefinement(w[3], rng, true);
    this.attention2 = new AttentionRefinement(w[3], rng, true);
    this.atr_conv = w.map((wi, i) => new AtrConv(i < 3 ? w[i + 1] : w[3], wi, k, d[i], i < 3, rng));
    this.classifier = new Conv2d(w[0], o.numClasses, 1, { rng });
  }

  forward(x: Tensor): Tensor {
    const [, , H, W] = x.shape;
    if (H % 8 || W % 8) throw new Error(`mssa: input ${H}x${W}: height and width must be multiples of 8`);
    const f = layer('resnet', () => this.resnet.reduce((y, m) => (m as ConvBlock | BasicBlock).forward(y), x));
    const enc: Tensor[] = [];
    this.dil_conv.forEach((b, i) => enc.push(layer(`dil_conv.${i}`, () => b.forward(i ? enc[i - 1] : f))));
    const a1 = layer('attention1', () => this.attention1.forward(enc[3]));
    let y = layer('attention2', () => this.attention2.forward(a1));
    for (let i = 3; i >= 0; i--) { const prev = y; y = layer(`atr_conv.${i}`, () => this.atr_conv[i].forward(prev, enc[i])); }
    return layer('classifier', () => this.classifier.forward(y));
  }
}

/** Trainable parameters without building the network. */
export function mssaParameters(o: Omit<MssaOptions, 'numClasses' | 'seed'>, numClasses: number): number {
  const { widths: w, kernel: k, resBlocks } = mssaConfig(o);
  const block = (cin: number, cout: number, kk: number) => cin * cout * kk * kk + 2 * cout;   // conv (no bias) + BN
  let n = block(3, w[0], k) + resBlocks * 2 * block(w[0], w[0], 3);
  n += block(w[0], w[0], k);
  for (let i = 1; i < 4; i++) n += block(w[i - 1], w[i], k) + block(w[i], w[i], k);
  n += 2 * (w[3] * w[3] + 2 * w[3]);   // attention: conv1×1 with bias, BN shift only
  n += block(2 * w[3], w[3], k);
  for (let i = 0; i < 3; i++) n += block(w[i + 1], w[i], 3) + block(2 * w[i], w[i], k);
  return n + w[0] * numClasses + numClasses;
}
