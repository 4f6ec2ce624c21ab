// ERFNet (Romera et al., T-ITS 2018) as in Eromera/erfnet_pytorch train/erfnet.py: layer table,
// dropout rates, dilations, BatchNorm eps 1e-3 and state-dict names identical (seed-specs §2).
import { Module } from '../engine/module.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { addRelu } from '../kernels/elementwise.js';
import { maxPool2d } from '../kernels/pool.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, layer } from './layers.js';

/** relu(bn(concat[conv3x3 s2 (in → out−in), maxpool2x2(x)])). */
export class DownsamplerBlock extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(inC: number, outC: number, rng?: Rng) {
    super();
    this.conv = new Conv2d(inC, outC - inC, 3, { stride: 2, padding: 1, rng });
    this.bn = new BatchNorm2d(outC, { eps: 1e-3 });
  }
  forward(x: Tensor): Tensor {
    return this.bn.forward(concat([this.conv.forward(x), maxPool2d(x, 2, 2)]), true);
  }
}

/** Factorised residual block: 3×1, 1×3 (+BN), dilated 3×1, 1×3 (+BN), dropout, relu(out + x). */
export class NonBottleneck1d extends Module {
  readonly conv3x1_1: Conv2d;
  readonly conv1x3_1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv3x1_2: Conv2d;
  readonly conv1x3_2: Conv2d;
  readonly bn2: BatchNorm2d;
  constructor(readonly channels: number, readonly dropprob: number, readonly dilated: number, rng?: Rng) {
    super();
    const c = channels, d = dilated;
    this.conv3x1_1 = new Conv2d(c, c, [3, 1], { padding: [1, 0], rng });
    this.conv1x3_1 = new Conv2d(c, c, [1, 3], { padding: [0, 1], rng });
    this.bn1 = new BatchNorm2d(c, { eps: 1e-3 });
    this.conv3x1_2 = new Conv2d(c, c, [3, 1], { padding: [d, 0], dilation: [d, 1], rng });
    this.conv1x3_2 = new Conv2d(c, c, [1, 3], { padding: [0, d], dilation: [1, d], rng });
    this.bn2 = new BatchNorm2d(c, { eps: 1e-3 });
  }
  forward(x: Tensor): Tensor {
    let y = this.conv3x1_1.forward(x, true);   // relu fused into the conv
    y = this.bn1.forward(this.conv1x3_1.forward(y), true);
    y = this.conv3x1_2.forward(y, true);
    y = this.bn2.forward(this.conv1x3_2.forward(y), false, this.dropprob);   // dropout (training) in bn2's kernels
    return addRelu(y, x);
  }
}

/** relu(bn(convTranspose 3×3 s2 p1 op1)): exact ×2 upsampling. */
export class UpsamplerBlock extends Module {
  readonly conv: ConvTranspose2d;
  readonly bn: BatchNorm2d;
  constructor(inC: number, outC: number, rng?: Rng) {
    super();
    this.conv = new ConvTranspose2d(inC, outC, 3, { stride: 2, padding: 1, outputPadding: 1, rng });
    this.bn = new BatchNorm2d(outC, { eps: 1e-3 });
  }
  forward(x: Tensor): Tensor { return this.bn.forward(this.conv.forward(x), true); }
}

export interface ErfnetOptions {
  numClasses?: number;
  /** Keep encoder.output_conv (PyTorch Net always has it; the SFL variant does not). */
  encoderOutputConv?: boolean;
  /** Dropout of the 64- and 128-channel encoder blocks (reference: 0.03 and 0.3). */
  dropout?: [number, number];
  rng?: Rng;
}

export class Encoder extends Module {
  readonly initial_block: DownsamplerBlock;
  readonly layers: Module[];
  readonly output_conv: Conv2d | null;
  constructor(numClasses: number, o: ErfnetOptions = {}) {
    super();
    const rng = o.rng;
    const [p64, p128] = o.dropout ?? [0.03, 0.3];
    this.initial_block = new DownsamplerBlock(3, 16, rng);
    this.layers = [new DownsamplerBlock(16, 64, rng)];
    for (let i = 0; i < 5; i++) this.layers.push(new NonBottleneck1d(64, p64, 1, rng));
    this.layers.push(new DownsamplerBlock(64, 128, rng));
    for (let k = 0; k < 2; k++) for (const d of [2, 4, 8, 16]) this.layers.push(new NonBottleneck1d(128, p128, d, rng));
    this.output_conv = o.encoderOutputConv === false ? null : new Conv2d(128, numClasses, 1, { rng });
  }
  /** Features at 1/8 resolution, or class logits through output_conv when `predict`. */
  forward(x: Tensor, predict = false): Tensor {
    let y = layer('encoder.initial_block', () => this.initial_block.forward(x));
    this.layers.forEach((l, i) => { y = layer(`encoder.layers.${i}`, () => (l as DownsamplerBlock | NonBottleneck1d).forward(y)); });
    if (!predict) return y;
    if (!this.output_conv) throw new Error('ERFNet encoder: built without output_conv, cannot predict at 1/8');
    return layer('encoder.output_conv', () => this.output_conv!.forward(y));
  }
}

export class Decoder extends Module {
  readonly layers: Module[];
  readonly output_conv: ConvTranspose2d;
  constructor(numClasses: number, rng?: Rng) {
    super();
    this.layers = [new UpsamplerBlock(128, 64, rng), new NonBottleneck1d(64, 0, 1, rng), new NonBottleneck1d(64, 0, 1, rng),
      new UpsamplerBlock(64, 16, rng), new NonBottleneck1d(16, 0, 1, rng), new NonBottleneck1d(16, 0, 1, rng)];
    this.output_conv = new ConvTranspose2d(16, numClasses, 2, { stride: 2, rng });
  }
  forward(x: Tensor): Tensor {
    let y = x;
    this.layers.forEach((l, i) => { y = layer(`decoder.layers.${i}`, () => (l as UpsamplerBlock | NonBottleneck1d).forward(y)); });
    return layer('decoder.output_conv', () => this.output_conv.forward(y));
  }
}

/** ERFNet: encoder + decoder; `forward(x, true)` gives the encoder-only 1/8-resolution logits. */
export class ERFNet extends Module {
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly numClasses: number;
  constructor(o: ErfnetOptions = {}, encoder?: Encoder) {
    super();
    this.numClasses = o.numClasses ?? 20;
    this.encoder = encoder ?? new Encoder(this.numClasses, o);
    this.decoder = new Decoder(this.numClasses, o.rng);
  }
  forward(x: Tensor, onlyEncode = false): Tensor {
    if (x.rank !== 4 || x.shape[1] !== 3 || x.shape[2] % 8 !== 0 || x.shape[3] % 8 !== 0) {
      throw new Error(`ERFNet: input must be [N,3,H,W] with H and W multiples of 8, got ${x.describe()}`);
    }
    return onlyEncode ? this.encoder.forward(x, true) : this.decoder.forward(this.encoder.forward(x));
  }
}
