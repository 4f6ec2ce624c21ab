// ResNet-18/34 (torchvision BasicBlock, for BiSeNet), ResNet-50/101 (torchvision / NVIDIA network/Resnet.py) and SE-ResNeXt-50/101 32×4d (NVIDIA
// network/SEresnext.py, after Cadene's pretrained-models) as dilated segmentation backbones, with
// their state-dict names, so ImageNet weights and NVIDIA's checkpoints load strictly (seed-specs
// §4.2, §4.6). Both use the torchvision bottleneck (stride on the 3×3); SE-ResNeXt's 3×3 is
// grouped (32 groups, width planes·2) and each block ends in a squeeze-and-excitation gate.
//   output stride 8 (NVIDIA's variant D): layer3 stride 1 with every 3×3 dilated 2, layer4 stride 1
//     dilated 4 (the first block's too);
//   output stride 16: layer3 stride 2, layer4 stride 1 dilated 2.
// NVIDIA builds SE-ResNeXt's layer3/4 with stride 1 whatever the variant, so its models are always
// stride 8; here stride 16 is the same net with layer3's stride put back (Cadene's original).
// Initialisation (no ImageNet weights can be downloaded here): Kaiming normal (fan_out) convs as
// torchvision's ResNet, BN 1/0; the SE gate's 1×1 convs PyTorch's default.
import { type HostTensor, Module } from '../engine/module.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { addRelu, mul, sigmoid } from '../kernels/elementwise.js';
import { maxPool2d } from '../kernels/pool.js';
import { mean } from '../kernels/reduce.js';
import { BatchNorm2d, Conv2d, Sequential, convBn, kaimingNormal, layer } from './layers.js';

export type ResNetKind = 'resnet18' | 'resnet34' | 'resnet50' | 'resnet101' | 'seresnext50' | 'seresnext101';
export const RESNET_BLOCKS: Record<ResNetKind, number[]> = {
  resnet18: [2, 2, 2, 2], resnet34: [3, 4, 6, 3],
  resnet50: [3, 4, 6, 3], resnet101: [3, 4, 23, 3], seresnext50: [3, 4, 6, 3], seresnext101: [3, 4, 23, 3],
};
const isSe = (k: ResNetKind) => k.startsWith('seresnext');
/** ResNet-18/34: torchvision's BasicBlock (two 3×3, expansion 1); the others the bottleneck (expansion 4). */
const isBasic = (k: ResNetKind) => k === 'resnet18' || k === 'resnet34';

/** Squeeze-and-excitation: x ⊙ σ(fc2(relu(fc1(mean_hw x)))), fc1/fc2 1×1 convs with bias, reduction 16. */
export class SEModule extends Module {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;
  constructor(channels: number, reduction: number, rng?: Rng) {
    super();
    this.fc1 = new Conv2d(channels, Math.floor(channels / reduction), 1, { rng });
    this.fc2 = new Conv2d(Math.floor(channels / reduction), channels, 1, { rng });
  }
  forward(x: Tensor): Tensor {
    const gate = sigmoid(this.fc2.forward(this.fc1.forward(mean(x, [2, 3], true), true)));
    return mul(x, gate);
  }
}

interface BlockOptions { inplanes: number; planes: number; stride: number; dilation: number; se: boolean; downsample: boolean; rng?: Rng }

/** Bottleneck: 1×1 → 3×3 (stride, dilation; grouped for ResNeXt) → 1×1 (×4), [SE], + shortcut, ReLU. */
export class Bottleneck extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly se_module: SEModule | null;
  readonly downsample: Sequential | null;
  constructor(o: BlockOptions) {
    super();
    const { rng } = o;
    const width = o.se ? o.planes * 2 : o.planes, groups = o.se ? 32 : 1, out = o.planes * 4;
    this.conv1 = new Conv2d(o.inplanes, width, 1, { bias: false, rng });
    this.bn1 = new BatchNorm2d(width);
    this.conv2 = new Conv2d(width, width, 3, { stride: o.stride, padding: o.dilation, dilation: o.dilation, groups, bias: false, rng });
    this.bn2 = new BatchNorm2d(width);
    this.conv3 = new Conv2d(width, out, 1, { bias: false, rng });
    this.bn3 = new BatchNorm2d(out);
    this.se_module = o.se ? new SEModule(out, 16, rng) : null;
    this.downsample = o.downsample
      ? new Sequential([new Conv2d(o.inplanes, out, 1, { stride: o.stride, bias: false, rng }), new BatchNorm2d(out)]) : null;
  }
  forward(x: Tensor): Tensor {
    let y = this.bn1.forward(this.conv1.forward(x), true);
    y = this.bn2.forward(this.conv2.forward(y), true);
    y = this.bn3.forward(this.conv3.forward(y));
    if (this.se_module) y = this.se_module.forward(y);
    const shortcut = this.downsample
      ? convBn(this.downsample, x, false) : x;
    return addRelu(y, shortcut);
  }
}

/** BasicBlock (ResNet-18/34): 3×3 (stride, dilation) → 3×3 (dilation), + shortcut, ReLU. */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(o: BlockOptions) {
    super();
    const { rng } = o;
    this.conv1 = new Conv2d(o.inplanes, o.planes, 3, { stride: o.stride, padding: o.dilation, dilation: o.dilation, bias: false, rng });
    this.bn1 = new BatchNorm2d(o.planes);
    this.conv2 = new Conv2d(o.planes, o.planes, 3, { padding: o.dilation, dilation: o.dilation, bias: false, rng });
    this.bn2 = new BatchNorm2d(o.planes);
    this.downsample = o.downsample
      ? new Sequential([new Conv2d(o.inplanes, o.planes, 1, { stride: o.stride, bias: false, rng }), new BatchNorm2d(o.planes)]) : null;
  }
  forward(x: Tensor): Tensor {
    const y = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x), true)));
    return addRelu(y, this.downsample ? convBn(this.downsample, x, false) : x);
  }
}

/** SE-ResNeXt's stem: conv1 7×7 s2, bn1, relu, max-pool 3 s2 with ceil_mode (Caffe compatible, no padding). */
export class SeStem extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  constructor(rng?: Rng) {
    super();
    this.conv1 = new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false, rng });
    this.bn1 = new BatchNorm2d(64);
  }
  forward(x: Tensor): Tensor { return maxPool2d(this.bn1.forward(this.conv1.forward(x), true), 3, 2, 0, true); }
}

export interface ResNetOptions {
  kind: ResNetKind;
  /** 8 or 16: dilated (segmentation); 32: the classification network's strides (BiSeNet's context path). */
  outputStride: 8 | 16 | 32;
  rng?: Rng;
}

type Block = Bottleneck | BasicBlock;

/** The backbone: layer0 (stem) … layer4; forward gives layer1's output (the decoder's skip) and layer4's. */
export class ResNetBackbone extends Module {
  readonly layer0: Sequential | SeStem;
  readonly layer1: Block[];
  readonly layer2: Block[];
  readonly layer3: Block[];
  readonly layer4: Block[];
  constructor(readonly o: ResNetOptions) {
    super();
    const { rng } = o, se = isSe(o.kind);
    this.layer0 = se ? new SeStem(rng) : new Sequential([new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false, rng }), new BatchNorm2d(64)]);
    const [s3, d3, s4, d4] = o.outputStride === 8 ? [1, 2, 1, 4] : o.outputStride === 16 ? [2, 1, 1, 2] : [2, 1, 2, 1];
    const basic = isBasic(o.kind), ex = basic ? 1 : 4;
    let inplanes = 64;
    const make = (planes: number, blocks: number, stride: number, dilation: number) => Array.from({ length: blocks }, (_, i) => {
      const bo = { inplanes, planes, stride: i === 0 ? stride : 1, dilation, se, downsample: i === 0 && (stride !== 1 || inplanes !== planes * ex), rng };
      inplanes = planes * ex;
      return basic ? new BasicBlock(bo) : new Bottleneck(bo);
    });
    const n = RESNET_BLOCKS[o.kind];
    this.layer1 = make(64, n[0], 1, 1);
    this.layer2 = make(128, n[1], 2, 1);
    this.layer3 = make(256, n[2], s3, d3);
    this.layer4 = make(512, n[3], s4, d4);
    kaimingNormal(this, 'fan_out', rng, (name) => !name.includes('se_module'));
  }
  forward(x: Tensor): { skip: Tensor; out: Tensor } {
    const [l1, , , l4] = this.stages(x);
    return { skip: l1, out: l4 };
  }
  /** The outputs of layer1 … layer4. */
  stages(x: Tensor): [Tensor, Tensor, Tensor, Tensor] {
    let y = layer('layer0', () => (this.layer0 instanceof SeStem ? this.layer0.forward(x)
      : maxPool2d(convBn(this.layer0, x, true), 3, 2, 1)));
    const stage = (name: string, blocks: Block[]) => { blocks.forEach((b, i) => { y = layer(`${name}.${i}`, () => b.forward(y)); }); return y; };
    return [stage('layer1', this.layer1), stage('layer2', this.layer2), stage('layer3', this.layer3), stage('layer4', this.layer4)];
  }
}

/**
 * An ImageNet classification state dict in this backbone's names: the classifier (fc,
 * last_linear, classifier) and num_batches_tracked dropped, and for torchvision's ResNets the stem's
 * conv1 / bn1 renamed layer0.0 / layer0.1 (Cadene's SE-ResNeXt names already match).
 */
export function imagenetToBackbone(file: Map<string, HostTensor>, torchvision: boolean): Map<string, HostTensor> {
  const mapped = new Map<string, HostTensor>();
  for (const [k, v] of file) {
    if (/^(fc|last_linear|classifier)\./.test(k) || k.endsWith('num_batches_tracked')) continue;
    mapped.set(torchvision ? k.replace(/^conv1\./, 'layer0.0.').replace(/^bn1\./, 'layer0.1.') : k, v);
  }
  return mapped;
}

// Parameter arithmetic (the registry's counts; tests check them against built models).
const convP = (cin: number, cout: number, k: number, bias = false, groups = 1) => (cout * cin * k * k) / groups + (bias ? cout : 0);

/** Trainable parameters of the backbone (layer0 … layer4). */
export function resnetParameters(kind: ResNetKind): number {
  const se = isSe(kind), basic = isBasic(kind);
  let n = convP(3, 64, 7) + 128, inplanes = 64;
  RESNET_BLOCKS[kind].forEach((blocks, s) => {
    const planes = 64 * 2 ** s, width = se ? planes * 2 : planes, out = basic ? planes : planes * 4;
    for (let i = 0; i < blocks; i++) {
      n += basic ? convP(inplanes, planes, 3) + 2 * planes + convP(planes, planes, 3) + 2 * planes
        : convP(inplanes, width, 1) + 2 * width + convP(width, width, 3, false, se ? 32 : 1) + 2 * width + convP(width, out, 1) + 2 * out;
      if (se) n += convP(out, out / 16, 1, true) + convP(out / 16, out, 1, true);
      if (i === 0 && (s > 0 || inplanes !== out)) n += convP(inplanes, out, 1) + 2 * out;
      inplanes = out;
    }
  });
  return n;
}
