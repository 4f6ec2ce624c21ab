// DeepLabV3+ as NVIDIA's CVPR 2019 code builds it (network/deepv3.py, branch sdcnet; seed-specs
// §4.2, §4.6): a dilated backbone, ASPP with image pooling, `bot_aspp` (1×1 1280 → 256, no BN),
// `bot_fine` (1×1 skip → 48, no BN), concat, `final` (3×3 304 → 256 BN ReLU, 3×3 256 → 256 BN
// ReLU, 1×1 → classes), every upsampling bilinear with align_corners true. Backbones: ResNet-50/101
// and SE-ResNeXt-50/101 (DeepV3Plus, skip 'm1' = layer1, stride 4) and WideResNet-38 (DeepWV3Plus,
// skip mod2, stride 2). ASPP rates (6, 12, 18), doubled at output stride 8 (NVIDIA always builds
// ASPP for stride 8, even in its 'D16' variant; here stride 16 uses 6/12/18 as DeepLab does).
// Inputs are normalised with ImageNet's mean and std inside the model (`normalize`), so the data
// pipeline stays in [0, 1] and imported ImageNet/NVIDIA weights see what they were trained on.
// Initialisation: `initialize_weights` (Kaiming normal fan_in, BN 1/0) on aspp, bot_aspp, bot_fine
// and final for the ResNet family; only `final` for WideResNet-38, as the reference.
import { type HostTensor, Module, loadChecked } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { mean } from '../kernels/reduce.js';
import { resizeBilinear } from '../kernels/resize.js';
import { BatchNorm2d, Conv2d, ImageNetNormalize, Sequential, convBn, kaimingNormal, layer } from './layers.js';
import { type ResNetKind, ResNetBackbone, imagenetToBackbone, resnetParameters } from './resnet.js';
import { WiderResNet38, widerResnetParameters } from './wider-resnet.js';

export type Trunk = Exclude<ResNetKind, 'resnet18' | 'resnet34'> | 'wrn38';

/** conv + BN (+ ReLU in the BN's kernel), as the reference's nn.Sequential(conv, Norm2d, ReLU). */
const convBnSeq = (cin: number, cout: number, k: number, dil: number, rng: Rng) =>
  new Sequential([new Conv2d(cin, cout, k, { padding: k === 3 ? dil : 0, dilation: dil, bias: false, rng }), new BatchNorm2d(cout)]);

/** ASPP: [image pooling, 1×1, three dilated 3×3], 256 channels each, concatenated (1280). */
export class ASPP extends Module {
  readonly features: Sequential[];
  readonly img_conv: Sequential;
  constructor(inDim: number, rates: number[], rng: Rng) {
    super();
    this.features = [convBnSeq(inDim, 256, 1, 1, rng), ...rates.map((r) => convBnSeq(inDim, 256, 3, r, rng))];
    this.img_conv = convBnSeq(inDim, 256, 1, 1, rng);
  }
  forward(x: Tensor): Tensor {
    const [h, w] = [x.shape[2], x.shape[3]];
    const img = layer('aspp.img_conv', () => resizeBilinear(convBn(this.img_conv, mean(x, [2, 3], true), true), h, w, true));
    return concat([img, ...this.features.map((f, i) => layer(`aspp.features.${i}`, () => convBn(f, x, true)))]);
  }
}

export interface DeepLabOptions { trunk: Trunk; numClasses: number; outputStride?: 8 | 16; normalize?: boolean; seed?: number }

export class DeepLabV3Plus extends Module {
  // property order = the reference's state-dict order
  readonly layer0?: Module; readonly layer1?: Module[]; readonly layer2?: Module[]; readonly layer3?: Module[]; readonly layer4?: Module[];
  readonly mod1?: Module; readonly mod2?: Module; readonly mod3?: Module; readonly mod4?: Module;
  readonly mod5?: Module; readonly mod6?: Module; readonly mod7?: Module;
  readonly aspp: ASPP;
  readonly bot_fine: Conv2d;
  readonly bot_aspp: Conv2d;
  readonly final: Sequential;
  readonly outputStride: 8 | 16;
  // a true private field: Object.entries (Module.children) must not see the backbone twice
  readonly #backbone: { forward(x: Tensor): { skip: Tensor; out: Tensor } };
  private readonly norm: ImageNetNormalize | null;

  constructor(readonly o: DeepLabOptions) {
    super();
    const rng = new Rng(o.seed ?? 0);
    this.outputStride = o.outputStride ?? 8;
    const wide = o.trunk === 'wrn38';
    if (wide) {
      const b = new WiderResNet38(this.outputStride, rng);
      Object.assign(this, { mod1: b.mod1, mod2: b.mod2, mod3: b.mod3, mod4: b.mod4, mod5: b.mod5, mod6: b.mod6, mod7: b.mod7 });
      this.#backbone = b;
    } else {
      const b = new ResNetBackbone({ kind: o.trunk as ResNetKind, outputStride: this.outputStride, rng });
      Object.assign(this, { layer0: b.layer0, layer1: b.layer1, layer2: b.layer2, layer3: b.layer3, layer4: b.layer4 });
      this.#backbone = b;
    }
    const rates = [6, 12, 18].map((r) => (this.outputStride === 8 ? 2 * r : r));
    this.aspp = new ASPP(wide ? 4096 : 2048, rates, rng);
    this.bot_fine = new Conv2d(wide ? 128 : 256, 48, 1, { bias: false, rng });
    this.bot_aspp = new Conv2d(1280, 256, 1, { bias: false, rng });
    this.final = new Sequential([
      new Conv2d(304, 256, 3, { padding: 1, bias: false, rng }), new BatchNorm2d(256), null,
      new Conv2d(256, 256, 3, { padding: 1, bias: false, rng }), new BatchNorm2d(256), null,
      new Conv2d(256, o.numClasses, 1, { bias: false, rng })]);
    for (const m of wide ? [this.final] : [this.aspp, this.bot_aspp, this.bot_fine, this.final]) kaimingNormal(m, 'fan_in', rng);
    this.norm = o.normalize === false ? null : new ImageNetNormalize();
  }

  forward(input: Tensor): Tensor {
    if (input.rank !== 4 || input.shape[1] !== 3) throw new Error(`DeepLabV3+: input must be [N,3,H,W], got ${input.describe()}`);
    const [H, W] = [input.shape[2], input.shape[3]];
    const x = this.norm ? this.norm.apply(input) : input;
    const { skip, out } = this.#backbone.forward(x);
    const up = layer('bot_aspp', () => {
      const a = this.bot_aspp.forward(this.aspp.forward(out));
      return resizeBilinear(a, skip.shape[2], skip.shape[3], true);
    });
    const f = this.final;
    const dec = layer('final', () => {
      let y = concat([this.bot_fine.forward(skip), up]);
      y = convBn(f, y, true, 0);
      y = convBn(f, y, true, 3);
      return (f.at(6) as Conv2d).forward(y);
    });
    return layer('upsample', () => resizeBilinear(dec, H, W, true));
  }

  /**
   * ImageNet backbone weights, the head left as initialised: torchvision's ResNet names (`conv1`,
   * `bn1` → `layer0.0`, `layer0.1`; `fc` dropped), Cadene's SE-ResNeXt names as NVIDIA's (`last_linear`
   * dropped), NVIDIA's wider_resnet38 (`classifier` dropped). Every backbone tensor must be there
   * and nothing else: missing, unexpected and mis-shaped keys are all listed. Returns the count.
   */
  loadBackbone(file: Map<string, HostTensor>): number {
    const mapped = imagenetToBackbone(file, this.o.trunk === 'resnet50' || this.o.trunk === 'resnet101');
    const own = new Map([...this.stateDict()].filter(([k]) => !/^(aspp|bot_aspp|bot_fine|final)\./.test(k)));
    loadChecked(own, mapped, true, 'file', `not ${this.o.trunk} ImageNet weights`);
    return mapped.size;
  }

  override dispose(): void {
    super.dispose();
    this.norm?.dispose();
  }
}

/** Trainable parameters: backbone + ASPP + bot_fine + bot_aspp + final. */
export function deeplabParameters(trunk: Trunk, numClasses: number): number {
  const wide = trunk === 'wrn38', inDim = wide ? 4096 : 2048;
  const aspp = 2 * (inDim * 256 + 512) + 3 * (inDim * 256 * 9 + 512);
  const head = (wide ? 128 : 256) * 48 + 1280 * 256 + 304 * 256 * 9 + 512 + 256 * 256 * 9 + 512 + 256 * numClasses;
  return (wide ? widerResnetParameters() : resnetParameters(trunk)) + aspp + head;
}
