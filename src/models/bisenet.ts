// BiSeNet as the MSSA seed's code releases it (abhinavsagar/mssa, mssa.py; seed-specs §3.2, §3.5),
// in the torchvision layout: a spatial path of three stride-2 ConvBlocks (64, 128, 256 channels, to
// 1/8), a context path (ResNet-18 or -101 at its classification strides), attention refinement on
// its 1/16 and 1/32 maps (layer3, layer4), the 1/32 map scaled by its own global mean, both
// upsampled to 1/8 and joined with the spatial path by the feature fusion module (num_classes
// filters), then bilinear ×8 and a 1×1 classifier.
//   ConvBlock: conv (bias) → BN → ReLU. The head's BNs have no learned scale and eps 1e-3 (slim's
//   batch_norm defaults); slim's 1×1 convs carry a ReLU (the attention and fusion gates' too).
//   Differences from the release, by design (§3.5): PyTorch padding (TF SAME is asymmetric at
//   stride 2), bilinear with align_corners false in PyTorch's pixel mapping, and batch norm in eval
//   mode at test time (the release keeps batch statistics, which makes a gate constant at batch 1).
//   Inputs: multiples of 32 (the release cannot run 360×480 either).
import { type HostTensor, Module, loadChecked } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { add, mul, sigmoid } from '../kernels/elementwise.js';
import { mean } from '../kernels/reduce.js';
import { resizeBilinear } from '../kernels/resize.js';
import { BatchNorm2d, type BatchNormLayerOptions, Conv2d, layer } from './layers.js';
import { ResNetBackbone, imagenetToBackbone, resnetParameters } from './resnet.js';

export type BiSeNetTrunk = 'resnet18' | 'resnet101';
const SLIM_BN = { eps: 1e-3, scale: false } as const;
const STAGE_CHANNELS: Record<BiSeNetTrunk, [number, number]> = { resnet18: [256, 512], resnet101: [1024, 2048] };

export interface ConvBlockOptions {
  dilation?: number;
  /** Conv bias (default true, as slim's conv2d). */
  bias?: boolean;
  /** The batch norm (default slim's: no learned scale, eps 1e-3). */
  bn?: BatchNormLayerOptions;
}

/** conv k×k (stride, dilation, "same" padding, bias) → BN (default: no scale, eps 1e-3) → ReLU. */
export class ConvBlock extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, k: number, stride: number, rng?: Rng, o: ConvBlockOptions = {}) {
    super();
    const dilation = o.dilation ?? 1;
    this.conv = new Conv2d(cin, cout, k, { stride, padding: (dilation * (k - 1)) >> 1, dilation, bias: o.bias ?? true, rng });
    this.bn = new BatchNorm2d(cout, o.bn ?? SLIM_BN);
  }
  forward(x: Tensor): Tensor { return this.bn.forward(this.conv.forward(x), true); }
}

/**
 * Channel attention with the attention refinement gate a(x) = σ(BN(relu(conv1×1(mean_hw x)))):
 * x ⊙ a(x) (BiSeNet's refinement), or x + x ⊙ a(x) with `residual` (the MSSA paper's channel
 * attention module, images/ss5.png).
 */
export class AttentionRefinement extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(channels: number, rng?: Rng, readonly residual = false) {
    super();
    this.conv = new Conv2d(channels, channels, 1, { rng });
    this.bn = new BatchNorm2d(channels, SLIM_BN);
  }
  forward(x: Tensor): Tensor {
    const y = mul(x, sigmoid(this.bn.forward(this.conv.forward(mean(x, [2, 3], true), true))));
    return this.residual ? add(x, y) : y;
  }
}

/** Feature fusion: f = ConvBlock3×3(concat(a, b)); g = σ(relu(conv(relu(conv(mean_hw f))))); f + f ⊙ g. */
export class FeatureFusion extends Module {
  readonly convblock: ConvBlock;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  constructor(cin: number, n: number, rng?: Rng) {
    super();
    this.convblock = new ConvBlock(cin, n, 3, 1, rng);
    this.conv1 = new Conv2d(n, n, 1, { rng });
    this.conv2 = new Conv2d(n, n, 1, { rng });
  }
  forward(a: Tensor, b: Tensor): Tensor {
    const f = this.convblock.forward(concat([a, b]));
    const g = sigmoid(this.conv2.forward(this.conv1.forward(mean(f, [2, 3], true), true), true));
    return add(f, mul(f, g));
  }
}

export interface BiSeNetOptions { trunk: BiSeNetTrunk; numClasses: number; seed?: number }

export class BiSeNet extends Module {
  readonly spatial_path: ConvBlock[];
  readonly context_path: ResNetBackbone;
  readonly attention_refinement_module1: AttentionRefinement;
  readonly attention_refinement_module2: AttentionRefinement;
  readonly feature_fusion_module: FeatureFusion;
  readonly conv: Conv2d;
  constructor(readonly o: BiSeNetOptions) {
    super();
    const rng = new Rng(o.seed ?? 1);
    this.spatial_path = [new ConvBlock(3, 64, 3, 2, rng), new ConvBlock(64, 128, 3, 2, rng), new ConvBlock(128, 256, 3, 2, rng)];
    this.context_path = new ResNetBackbone({ kind: o.trunk, outputStride: 32, rng });
    const [c3, c4] = STAGE_CHANNELS[o.trunk];
    this.attention_refinement_module1 = new AttentionRefinement(c3, rng);
    this.attention_refinement_module2 = new AttentionRefinement(c4, rng);
    this.feature_fusion_module = new FeatureFusion(256 + c3 + c4, o.numClasses, rng);
    this.conv = new Conv2d(o.numClasses, o.numClasses, 1, { rng });
  }

  /**
   * Initialises the context path from a torchvision ResNet ImageNet state dict (.pth or
   * .safetensors, `fc` dropped): every trunk tensor must be there and nothing else, with its shape;
   * all problems are listed. Returns the count of tensors loaded. (The seed feeds [0, 1] images
   * without mean subtraction, and so does this model; fine-tuning adapts the first layers.)
   */
  loadBackbone(file: Map<string, HostTensor>): number {
    const mapped = imagenetToBackbone(file, true);
    loadChecked(this.context_path.stateDict(), mapped, true, 'file', `not ${this.o.trunk} ImageNet weights`);
    return mapped.size;
  }

  forward(x: Tensor): Tensor {
    const [, , H, W] = x.shape;
    if (H % 32 || W % 32) throw new Error(`bisenet: input ${H}x${W}: height and width must be multiples of 32`);
    const sp = layer('spatial_path', () => this.spatial_path.reduce((y, b) => b.forward(y), x));
    const [, , l3, l4] = this.context_path.stages(x);
    const context = layer('context', () => {
      const a = this.attention_refinement_module1.forward(l3);
      let b = this.attention_refinement_module2.forward(l4);
      b = mul(b, mean(b, [2, 3], true));
      const [h, w] = [sp.shape[2], sp.shape[3]];
      return concat([resizeBilinear(a, h, w, false), resizeBilinear(b, h, w, false)]);
    });
    const fused = layer('feature_fusion_module', () => this.feature_fusion_module.forward(sp, context));
    return layer('conv', () => this.conv.forward(resizeBilinear(fused, H, W, false)));
  }
}

/** Trainable parameters (seed-specs §3.5: R18 11 classes 11,978,786; R101 19 classes 48,690,714). */
export function bisenetParameters(trunk: BiSeNetTrunk, numClasses: number): number {
  const [c3, c4] = STAGE_CHANNELS[trunk], n = numClasses;
  const block = (cin: number, cout: number, k: number) => cin * cout * k * k + cout + cout;   // conv + bias, BN shift
  const spatial = block(3, 64, 3) + block(64, 128, 3) + block(128, 256, 3);
  const arm = (c: number) => c * c + c + c;
  const ffm = block(256 + c3 + c4, n, 3) + 2 * (n * n + n);
  return resnetParameters(trunk) + spatial + arm(c3) + arm(c4) + ffm + n * n + n;
}
