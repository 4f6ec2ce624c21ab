// The TAS500 seed's iterative networks (chokladmousse/Semantic_Segmentation models/iterativeV*.py;
// seed-specs §5.4, §5.8): a pre-net distils the image to a hidden state of f channels, one shared
// base network (ResUnet) refines it S times, and every step's segmentation
// seg_i = LReLU(norm(classifier(h_i))) is an output (deep supervision, per-iteration mIoU).
// Done so far: IterativeV6 (residual only; the seed's final configuration):
//   step 0: h = iter_net(α·P); step i > 0: h = iter_net(β·r + α·h + h_prev), h_prev the hidden
//   state before the previous step (P at step 1); r = LReLU(norm(declassifier(seg))).
//   α, β scalar gates initialised to 0; `extractor` is unused but kept, as the reference's state
//   dict has it (strict loading).
import { Module } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import { type Tensor, zeros } from '../engine/tensor.js';
import { add, mul } from '../kernels/elementwise.js';
import { BatchNorm2d, Conv2d, LayerNorm, layer } from './layers.js';
import { type Dim, Prenet, type PrenetKind, ResUnet, type TasNorm, normAct, prenetParameters, resUnetParameters, tasNorm, tasNormParameters } from './tas-base.js';

export interface IterativeOptions {
  numClasses: number;
  prenet: PrenetKind;
  /** Input [H, W] the layer norms are built for (the seed: 384×768). */
  inputSize: Dim;
  /** Hidden channels f (60), width ratio per level (1.5), hourglass levels M (4), steps S (3). */
  f: number; increaseRatio: number; levels: number; steps: number;
  norm: TasNorm;
  seed?: number;
}

export class IterativeV6 extends Module {
  readonly alpha: Tensor;
  readonly beta: Tensor;
  readonly prenet: Prenet;
  readonly iter_net: ResUnet;
  readonly extractor: Conv2d;
  readonly classifier: Conv2d;
  readonly declassifier: Conv2d;
  readonly bn1: LayerNorm | BatchNorm2d;
  readonly bn2: LayerNorm | BatchNorm2d;
  constructor(readonly o: IterativeOptions) {
    super();
    if (!(Number.isInteger(o.steps) && o.steps >= 1)) throw new Error(`iterative: steps ${o.steps} must be a positive integer`);
    const rng = new Rng(o.seed ?? 1);
    this.alpha = this.registerParameter('alpha', zeros([]));
    this.beta = this.registerParameter('beta', zeros([]));
    this.prenet = new Prenet(o.prenet, o.f, o.inputSize, o.norm, rng);
    const dim = this.prenet.outDim;
    this.iter_net = new ResUnet({ f: o.f, increaseRatio: o.increaseRatio, levels: o.levels, norm: o.norm, dim }, rng);
    this.extractor = new Conv2d(2 * o.f, o.f, 1, { rng });
    this.classifier = new Conv2d(o.f, o.numClasses, 1, { rng });
    this.declassifier = new Conv2d(o.numClasses, o.f, 1, { rng });
    this.bn1 = tasNorm(o.norm, o.numClasses, dim);
    this.bn2 = tasNorm(o.norm, o.f, dim);
  }

  /** The segmentation of every step, [N, classes, H/scale, W/scale] each. */
  forward(x: Tensor): Tensor[] {
    const [, , H, W] = x.shape;
    if (H !== this.o.inputSize[0] || W !== this.o.inputSize[1]) {
      throw new Error(`iterative: input ${H}x${W}, but the network was built for ${this.o.inputSize[0]}x${this.o.inputSize[1]} (its layer norms are per position)`);
    }
    let hidden = layer('prenet', () => this.prenet.forward(x));
    let prev = hidden, residual: Tensor | null = null;
    const out: Tensor[] = [];
    for (let i = 0; i < this.o.steps; i++) {
      const before = hidden;
      const input: Tensor = i > 0 ? add(add(mul(residual!, this.beta), mul(hidden, this.alpha)), prev) : mul(hidden, this.alpha);
      hidden = layer(`iter_net.${i}`, () => this.iter_net.forward(input));
      const seg = normAct(this.bn1, this.classifier.forward(hidden));
      out.push(seg);
      if (i < this.o.steps - 1) residual = normAct(this.bn2, this.declassifier.forward(seg));
      prev = before;
    }
    return out;
  }
}

/** Parameters of IterativeV6 without building it (seed-specs §5.8: x8 7,458,433; x2 8,016,373 at the final config). */
export function iterativeV6Parameters(o: Omit<IterativeOptions, 'seed' | 'steps'>): number {
  const s = { x1: 1, x2: 2, x4: 4, x8: 8 }[o.prenet], dim: Dim = [o.inputSize[0] / s, o.inputSize[1] / s];
  const conv = (i: number, k: number) => i * k + k;
  return 2 + prenetParameters(o.prenet, o.f, o.inputSize, o.norm) +
    resUnetParameters({ f: o.f, increaseRatio: o.increaseRatio, levels: o.levels, norm: o.norm, dim }) +
    conv(2 * o.f, o.f) + conv(o.f, o.numClasses) + conv(o.numClasses, o.f) + tasNormParameters(o.norm, o.numClasses, dim) + tasNormParameters(o.norm, o.f, dim);
}
