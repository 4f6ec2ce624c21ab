// The TAS500 seed's iterative networks (chokladmousse/Semantic_Segmentation models/iterativeV*.py;
// seed-specs §5.4, §5.8): a pre-net distils the image to a hidden state of f channels, one shared
// base network (ResUnet) refines it S times, and every step's segmentation
// seg_i = LReLU(norm(classifier(h_i))) is an output (deep supervision, per-iteration mIoU).
// The six versions (seed-specs §5.4; each checked in test/tas.test.ts against §5.8's counts), with
// P = prenet(x), E(a, b) = LReLU(norm(extractor(a ‖ b))), seg = LReLU(norm(classifier(h))),
// r = LReLU(norm(declassifier(seg))), α, β scalar gates initialised to 0:
//   V1 (initial net, copy input): h = init_net(E(P, P)); S−1 times: seg, r; h = iter_net(r + α·E(P, h)); final seg.
//   V2 (copy input): h = iter_net(α·E(P, 0)), then S−1 times h = iter_net(r + α·E(P, h)); a seg each step.
//   V3 (initial, copy, residual): V1 with h = iter_net(β·r + α·E₃(P, h) + E_prev), E_prev the previous
//      step's fused input (E(P, P) first), E₃ the extractor with the third norm.
//   V4 (copy, residual): V2 with h = iter_net(β·r + α·E(P, h) + E_prev) from step 2 on.
//   V5 (initial, residual): h = init_net(P); S−1 times: seg, r; h = iter_net(β·r + α·h + h_prev); final seg.
//   V6 (residual): h = iter_net(α·P); then h = iter_net(β·r + α·h + h_prev), h_prev the state before
//      the previous step (P at step 2). `extractor` is unused but kept (the reference's state dict has it).
// V1 and V3 classify their last step through bn1, an f-channel norm, which only works for layerHW
// (channel-agnostic); with 'batch' and 'layerCHW' (where the reference fails) they use bn2, the
// class norm of the other steps.
import { Module } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import { type Tensor, zeros } from '../engine/tensor.js';
import { add, mul } from '../kernels/elementwise.js';
import { concat } from '../kernels/concat.js';
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
  /** ImageNet mean/std on the input (the seed's data loader; default true). */
  normalize?: boolean;
  seed?: number;
}

export type IterativeVersion = 1 | 2 | 3 | 4 | 5 | 6;
const HAS_INIT = (v: IterativeVersion) => v === 1 || v === 3 || v === 5;
const HAS_BETA = (v: IterativeVersion) => v >= 3;
const HAS_EXTRACTOR = (v: IterativeVersion) => v !== 5;
/** V1–V4 have bn1 (f), bn2 (classes), bn3 (f); V5, V6 bn1 (classes), bn2 (f). */
const THREE_NORMS = (v: IterativeVersion) => v <= 4;

export class Iterative extends Module {
  readonly alpha: Tensor;
  readonly beta: Tensor | null;
  readonly prenet: Prenet;
  readonly init_net: ResUnet | null;
  readonly iter_net: ResUnet;
  readonly extractor: Conv2d | null;
  readonly classifier: Conv2d;
  readonly declassifier: Conv2d;
  readonly bn1: LayerNorm | BatchNorm2d;
  readonly bn2: LayerNorm | BatchNorm2d;
  readonly bn3: LayerNorm | BatchNorm2d | null;
  constructor(readonly version: IterativeVersion, readonly o: IterativeOptions) {
    super();
    if (!(Number.isInteger(o.steps) && o.steps >= (HAS_INIT(version) ? 2 : 1))) {
      throw new Error(`iterative-v${version}: steps ${o.steps} must be an integer ≥ ${HAS_INIT(version) ? 2 : 1}`);
    }
    const rng = new Rng(o.seed ?? 1);
    this.alpha = this.registerParameter('alpha', zeros([]));
    this.beta = HAS_BETA(version) ? this.registerParameter('beta', zeros([])) : null;
    this.prenet = new Prenet(o.prenet, o.f, o.inputSize, o.norm, rng, o.normalize ?? true);
    const dim = this.prenet.outDim, base = { f: o.f, increaseRatio: o.increaseRatio, levels: o.levels, norm: o.norm, dim };
    this.init_net = HAS_INIT(version) ? new ResUnet(base, rng) : null;
    this.iter_net = new ResUnet(base, rng);
    this.extractor = HAS_EXTRACTOR(version) ? new Conv2d(2 * o.f, o.f, 1, { rng }) : null;
    this.classifier = new Conv2d(o.f, o.numClasses, 1, { rng });
    this.declassifier = new Conv2d(o.numClasses, o.f, 1, { rng });
    const three = THREE_NORMS(version);
    this.bn1 = tasNorm(o.norm, three ? o.f : o.numClasses, dim);
    this.bn2 = tasNorm(o.norm, three ? o.numClasses : o.f, dim);
    this.bn3 = three ? tasNorm(o.norm, o.f, dim) : null;
  }

  /** The segmentation of every step, [N, classes, H/scale, W/scale] each. */
  forward(x: Tensor): Tensor[] {
    const [, , H, W] = x.shape, v = this.version, S = this.o.steps;
    if (H !== this.o.inputSize[0] || W !== this.o.inputSize[1]) {
      throw new Error(`iterative: input ${H}x${W}, but the network was built for ${this.o.inputSize[0]}x${this.o.inputSize[1]} (its layer norms are per position)`);
    }
    const P = layer('prenet', () => this.prenet.forward(x));
    const three = THREE_NORMS(v);
    const [segNorm, resNorm] = three ? [this.bn2, this.bn3!] : [this.bn1, this.bn2];
    // V1/V3's last step: bn1 as the reference (layerHW), else the class norm (see the header)
    const lastNorm = three && this.o.norm === 'layerHW' ? this.bn1 : segNorm;
    const seg = (h: Tensor, norm = segNorm) => normAct(norm, this.classifier.forward(h));
    const res = (s: Tensor) => normAct(resNorm, this.declassifier.forward(s));
    const fuse = (h: Tensor, norm = this.bn1) => normAct(norm, this.extractor!.forward(concat([P, h])));
    const iter = (i: number, inp: Tensor) => layer(`iter_net.${i}`, () => this.iter_net.forward(inp));
    const a = (t: Tensor) => mul(t, this.alpha), b = (t: Tensor) => mul(t, this.beta!);
    const out: Tensor[] = [];
    if (v === 1 || v === 3) {
      let hc = fuse(P), prev = hc;
      let h = layer('init_net', () => this.init_net!.forward(hc));
      for (let i = 0; i < S - 1; i++) {
        const s = seg(h); out.push(s);
        const r = res(s);
        if (v === 1) { hc = fuse(h); h = iter(i, add(r, a(hc))); } else {
          hc = fuse(h, this.bn3!);
          const next = add(add(b(r), a(hc)), prev);
          prev = hc; h = iter(i, next);
        }
      }
      out.push(seg(h, lastNorm));
    } else if (v === 2 || v === 4) {
      const zero = zeros(P.shape);
      let hc = fuse(zero), prev = hc, r: Tensor | null = null;
      zero.dispose();
      for (let i = 0; i < S; i++) {
        const before = hc;
        const inp = i === 0 ? a(hc) : v === 2 ? add(r!, a(hc)) : add(add(b(r!), a(hc)), prev);
        const h = iter(i, inp);
        const s = seg(h); out.push(s);
        r = res(s);
        if (i < S - 1) { hc = fuse(h); prev = before; }
      }
    } else if (v === 5) {
      let prev = P;
      let h = layer('init_net', () => this.init_net!.forward(P));
      for (let i = 0; i < S - 1; i++) {
        const s = seg(h); out.push(s);
        const r = res(s), before = h;
        h = iter(i, add(add(b(r), a(h)), prev));
        prev = before;
      }
      out.push(seg(h));
    } else {
      let h = P, prev = P, r: Tensor | null = null;
      for (let i = 0; i < S; i++) {
        const before = h;
        h = iter(i, i > 0 ? add(add(b(r!), a(h)), prev) : a(h));
        const s = seg(h); out.push(s);
        if (i < S - 1) r = res(s);
        prev = before;
      }
    }
    return out;
  }
}

/** Parameters without building the network (seed-specs §5.8 at the final config, x8: V1 12,895,969 … V6 7,458,433). */
export function iterativeParameters(version: IterativeVersion, o: Omit<IterativeOptions, 'seed' | 'steps'>): number {
  const s = { x1: 1, x2: 2, x4: 4, x8: 8 }[o.prenet], dim: Dim = [o.inputSize[0] / s, o.inputSize[1] / s];
  const conv = (i: number, k: number) => i * k + k;
  const base = resUnetParameters({ f: o.f, increaseRatio: o.increaseRatio, levels: o.levels, norm: o.norm, dim });
  const norms = tasNormParameters(o.norm, o.f, dim) * (THREE_NORMS(version) ? 2 : 1) + tasNormParameters(o.norm, o.numClasses, dim);
  return (HAS_BETA(version) ? 2 : 1) + prenetParameters(o.prenet, o.f, o.inputSize, o.norm) + base * (HAS_INIT(version) ? 2 : 1) +
    (HAS_EXTRACTOR(version) ? conv(2 * o.f, o.f) : 0) + conv(o.f, o.numClasses) + conv(o.numClasses, o.f) + norms;
}
