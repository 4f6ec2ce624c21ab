// WideResNet-38 A2 (wider_resnet38_a2, dilation=True) as NVIDIA's DeepWV3Plus uses it (NVIDIA
// network/wider_resnet.py, after mapillary/inplace_abn; seed-specs §4.2, §4.6): pre-activation
// "identity" residual blocks whose norm_act is BN + ReLU (`bn1.0`, `convs.bn2.0`, …), six modules
// of [3, 3, 6, 3, 1, 1] blocks, channels (128,128) (256,256) (512,512) (512,1024) (512,1024,2048)
// (1024,2048,4096). mod1 is one 3×3 conv at full resolution; pool2 and pool3 (max 3 s2 p1) halve;
// mod4's first block has stride 2. Output stride 8: mod5 dilated 2, mod6/7 dilated 4; output stride
// 16: mod5's first block strided instead, mod6/7 dilated 2. mod6 and mod7 are bottlenecks with
// channel dropout (0.3, 0.5) before their last 1×1 (the reference patches nn.Dropout to Dropout2d).
// DeepWV3Plus takes mod2's output (stride 2, 128 channels) as the decoder's skip and mod7's raw
// output (no bn_out) into ASPP. Initialisation: PyTorch's defaults (the reference loads ImageNet
// weights into this part).
import { Module } from '../engine/module.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { add } from '../kernels/elementwise.js';
import { maxPool2d } from '../kernels/pool.js';
import { BatchNorm2d, Conv2d, Sequential, layer } from './layers.js';

const STRUCTURE = [3, 3, 6, 3, 1, 1];
const CHANNELS = [[128, 128], [256, 256], [512, 512], [512, 1024], [512, 1024, 2048], [1024, 2048, 4096]];

/** The residual branch: conv1, bn2 (BN+ReLU), conv2 [, bn3, conv3 for bottlenecks]. */
class Convs extends Module {
  readonly conv1: Conv2d;
  readonly bn2: Sequential;
  readonly conv2: Conv2d;
  readonly bn3: Sequential | null;
  readonly conv3: Conv2d | null;
  constructor(cin: number, ch: number[], stride: number, dil: number, rng?: Rng) {
    super();
    const bottleneck = ch.length === 3;
    this.conv1 = bottleneck ? new Conv2d(cin, ch[0], 1, { stride, bias: false, rng })
      : new Conv2d(cin, ch[0], 3, { stride, padding: dil, dilation: dil, bias: false, rng });
    this.bn2 = new Sequential([new BatchNorm2d(ch[0])]);
    this.conv2 = new Conv2d(ch[0], ch[1], 3, { padding: dil, dilation: dil, bias: false, rng });
    this.bn3 = bottleneck ? new Sequential([new BatchNorm2d(ch[1])]) : null;
    this.conv3 = bottleneck ? new Conv2d(ch[1], ch[2], 1, { bias: false, rng }) : null;
  }
}

/** Pre-activation block: a = relu(bn1(x)); out = convs(a) + (proj_conv(a) or x). */
export class IdentityResidualBlock extends Module {
  readonly bn1: Sequential;
  readonly convs: Convs;
  readonly proj_conv: Conv2d | null;
  constructor(cin: number, ch: number[], stride: number, dil: number, readonly dropout: number, rng?: Rng) {
    super();
    this.bn1 = new Sequential([new BatchNorm2d(cin)]);
    this.convs = new Convs(cin, ch, stride, dil, rng);
    this.proj_conv = stride !== 1 || cin !== ch[ch.length - 1] ? new Conv2d(cin, ch[ch.length - 1], 1, { stride, bias: false, rng }) : null;
  }
  forward(x: Tensor): Tensor {
    const bnrelu = (s: Sequential, v: Tensor, drop = 0) => (s.at(0) as BatchNorm2d).forward(v, true, drop);
    const a = bnrelu(this.bn1, x);
    const c = this.convs;
    let y = bnrelu(c.bn2, c.conv1.forward(a));
    y = c.conv2.forward(y);
    if (c.bn3 && c.conv3) y = c.conv3.forward(bnrelu(c.bn3, y, this.dropout));   // dropout (training) in bn3's kernels
    return add(y, this.proj_conv ? this.proj_conv.forward(a) : x);
  }
}

/** A module of blocks named block1, block2, … (the reference's OrderedDict names). */
export class Blocks extends Module {
  readonly #blocks: IdentityResidualBlock[];
  constructor(blocks: IdentityResidualBlock[]) {
    super();
    this.#blocks = blocks;
    blocks.forEach((b, i) => { (this as unknown as Record<string, Module>)[`block${i + 1}`] = b; });
  }
  get blocks(): readonly IdentityResidualBlock[] { return this.#blocks; }
}

/** mod1: one 3×3 conv, 3 → 64, at full resolution. */
class Mod1 extends Module {
  readonly conv1: Conv2d;
  constructor(rng?: Rng) { super(); this.conv1 = new Conv2d(3, 64, 3, { padding: 1, bias: false, rng }); }
}

/** mod1 … mod7 with pool2, pool3; forward gives mod2's output (the skip, stride 2) and mod7's. */
export class WiderResNet38 extends Module {
  readonly mod1: Mod1;
  readonly mod2: Blocks;
  readonly mod3: Blocks;
  readonly mod4: Blocks;
  readonly mod5: Blocks;
  readonly mod6: Blocks;
  readonly mod7: Blocks;
  constructor(outputStride: 8 | 16, rng?: Rng) {
    super();
    this.mod1 = new Mod1(rng);
    let cin = 64;
    const mods = STRUCTURE.map((blocks, m) => new Blocks(Array.from({ length: blocks }, (_, i) => {
      const dil = m === 3 ? (outputStride === 8 ? 2 : 1) : m > 3 ? (outputStride === 8 ? 4 : 2) : 1;
      const stride = i === 0 && (m === 2 || (m === 3 && outputStride === 16)) ? 2 : 1;
      const b = new IdentityResidualBlock(cin, CHANNELS[m], stride, dil, m === 4 ? 0.3 : m === 5 ? 0.5 : 0, rng);
      cin = CHANNELS[m][CHANNELS[m].length - 1];
      return b;
    })));
    [this.mod2, this.mod3, this.mod4, this.mod5, this.mod6, this.mod7] = mods;
  }
  forward(x: Tensor): { skip: Tensor; out: Tensor } {
    let y = layer('mod1', () => this.mod1.conv1.forward(x));
    const stage = (name: string, mod: Blocks) => mod.blocks.forEach((b, i) => { y = layer(`${name}.block${i + 1}`, () => b.forward(y)); });
    y = layer('pool2', () => maxPool2d(y, 3, 2, 1));
    stage('mod2', this.mod2);
    const skip = y;
    y = layer('pool3', () => maxPool2d(y, 3, 2, 1));
    for (const [name, blocks] of [['mod3', this.mod3], ['mod4', this.mod4], ['mod5', this.mod5], ['mod6', this.mod6], ['mod7', this.mod7]] as const) stage(name, blocks);
    return { skip, out: y };
  }
}

/** Trainable parameters of mod1 … mod7. */
export function widerResnetParameters(): number {
  let n = 3 * 64 * 9, cin = 64;
  STRUCTURE.forEach((blocks, m) => {
    const ch = CHANNELS[m], out = ch[ch.length - 1];
    for (let i = 0; i < blocks; i++) {
      n += 2 * cin + 2 * ch[0] + (ch.length === 3
        ? cin * ch[0] + ch[0] * ch[1] * 9 + 2 * ch[1] + ch[1] * ch[2]
        : cin * ch[0] * 9 + ch[0] * ch[1] * 9);
      if (cin !== out || (i === 0 && m === 2)) n += cin * out;
      cin = out;
    }
  });
  return n;
}
