// The TAS500 seed's stacked hourglass family (chokladmousse/Semantic_Segmentation models/hourglass*.py,
// res_hourglass*; seed-specs §5.5, §5.8): a pre-net, then S resUnet hourglasses with separate weights
// (`hgs.<i>.0.…`, as the reference's ModuleList of Sequentials), an output per stack. With
// P = prenet(x), seg_i = LReLU(norm(classifier(h_i))), r_i = LReLU(norm(declassifier(seg_i))) and
// gate vectors α, β of length S − 1 initialised to 0:
//   hourglass:             h_0 = hg_0(P); h_i = hg_i(α_{i−1}·r_{i−1} + h_{i−1}).
//   hourglass-iter(-ex):   h_i = hg_i(α_{i−1}·r_{i−1} + α_{i−1}·E_i(P ‖ h_{i−1})), E a 1×1 conv 2f → f with
//                          norm and LReLU: one shared (iter) or one per stack (ex; its S-th norm unused).
//   res-hourglass:         h_i = hg_i(β_{i−1}·r_{i−1} + α_{i−1}·h_{i−1} + h_{i−2}), h_{−1} = P.
//   res-hourglass-iter(-ex): the same with α_{i−1}·E_i(P ‖ h_{i−1}) in place of α_{i−1}·h_{i−1} and, as the
//                          reference, the skip the fused tensor two steps back (h_0 at step 2; §5.8).
import { Module } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import { type Tensor, zeros } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { add, mul } from '../kernels/elementwise.js';
import { reshape } from '../kernels/reduce.js';
import { sliceChannels } from '../kernels/slice.js';
import { BatchNorm2d, Conv2d, LayerNorm, Sequential, layer } from './layers.js';
import type { IterativeOptions } from './iterative.js';
import { type Dim, Prenet, ResUnet, normAct, prenetParameters, resUnetParameters, tasNorm, tasNormParameters } from './tas-base.js';

export type HourglassKind = 'hourglass' | 'hourglass-iter' | 'hourglass-iter-ex' | 'res-hourglass' | 'res-hourglass-iter' | 'res-hourglass-iter-ex';
export const HOURGLASS_KINDS: readonly HourglassKind[] = ['hourglass', 'hourglass-iter', 'hourglass-iter-ex', 'res-hourglass', 'res-hourglass-iter', 'res-hourglass-iter-ex'];
const isRes = (k: HourglassKind) => k.startsWith('res-');
const isIter = (k: HourglassKind) => k.includes('-iter');
const isEx = (k: HourglassKind) => k.endsWith('-ex');
type Norm = LayerNorm | BatchNorm2d;

export class StackedHourglass extends Module {
  readonly alpha: Tensor;
  readonly beta: Tensor | null;
  readonly prenet: Prenet;
  readonly hgs: Sequential[];
  readonly extractor: Conv2d | Conv2d[] | null;
  readonly classifier: Conv2d;
  readonly declassifier: Conv2d;
  readonly bn1: Norm | Norm[];
  readonly bn2: Norm;
  readonly bn3: Norm | null;
  readonly #nets: ResUnet[];
  constructor(readonly kind: HourglassKind, readonly o: IterativeOptions) {
    super();
    const S = o.steps;
    if (!(Number.isInteger(S) && S >= 2)) throw new Error(`${kind}: stacks ${S} must be an integer ≥ 2`);
    const rng = new Rng(o.seed ?? 1);
    this.alpha = this.registerParameter('alpha', zeros([S - 1]));
    this.beta = isRes(kind) ? this.registerParameter('beta', zeros([S - 1])) : null;
    this.prenet = new Prenet(o.prenet, o.f, o.inputSize, o.norm, rng, o.normalize ?? true);
    const dim = this.prenet.outDim, base = { f: o.f, increaseRatio: o.increaseRatio, levels: o.levels, norm: o.norm, dim };
    this.#nets = Array.from({ length: S }, () => new ResUnet(base, rng));
    this.hgs = this.#nets.map((n) => new Sequential([n]));
    const iter = isIter(kind), ex = isEx(kind);
    this.extractor = !iter ? null : ex ? Array.from({ length: S - 1 }, () => new Conv2d(2 * o.f, o.f, 1, { rng })) : new Conv2d(2 * o.f, o.f, 1, { rng });
    this.classifier = new Conv2d(o.f, o.numClasses, 1, { rng });
    this.declassifier = new Conv2d(o.numClasses, o.f, 1, { rng });
    if (iter) {
      this.bn1 = ex ? Array.from({ length: S }, () => tasNorm(o.norm, o.f, dim)) : tasNorm(o.norm, o.f, dim);
      this.bn2 = tasNorm(o.norm, o.numClasses, dim);
      this.bn3 = tasNorm(o.norm, o.f, dim);
    } else {
      this.bn1 = tasNorm(o.norm, o.numClasses, dim);
      this.bn2 = tasNorm(o.norm, o.f, dim);
      this.bn3 = null;
    }
  }

  /** Element i of a gate vector, as a [1, 1] tensor that broadcasts over a map. */
  private gate(v: Tensor, i: number): Tensor { return sliceChannels(reshape(v, [1, v.shape[0]]), i, 1); }

  /** The segmentation of every stack, [N, classes, H/scale, W/scale] each. */
  forward(x: Tensor): Tensor[] {
    const [, , H, W] = x.shape, S = this.o.steps, k = this.kind;
    if (H !== this.o.inputSize[0] || W !== this.o.inputSize[1]) {
      throw new Error(`${k}: input ${H}x${W}, but the network was built for ${this.o.inputSize[0]}x${this.o.inputSize[1]} (its layer norms are per position)`);
    }
    const P = layer('prenet', () => this.prenet.forward(x));
    const iter = isIter(k);
    const [segNorm, resNorm] = iter ? [this.bn2, this.bn3!] : [this.bn1 as Norm, this.bn2];
    const fuse = (i: number, h: Tensor) => {
      const ext = Array.isArray(this.extractor) ? this.extractor[i - 1] : this.extractor!;
      const norm = Array.isArray(this.bn1) ? this.bn1[i - 1] : this.bn1;
      return normAct(norm, ext.forward(concat([P, h])));
    };
    const hg = (i: number, inp: Tensor) => layer(`hgs.${i}`, () => this.#nets[i].forward(inp));
    const a = (i: number, t: Tensor) => mul(t, this.gate(this.alpha, i)), b = (i: number, t: Tensor) => mul(t, this.gate(this.beta!, i));
    const out: Tensor[] = [];
    let h = P, prev = P, hc = P, r: Tensor | null = null;
    for (let i = 0; i < S; i++) {
      if (i === 0) { h = hg(0, P); hc = h; } else if (!isRes(k)) {
        // hourglass: r carries α already; -iter: the same α also on the fused input
        h = hg(i, iter ? add(r!, a(i - 1, fuse(i, h))) : add(r!, h));
      } else if (!iter) {
        const before = h;
        h = hg(i, add(add(b(i - 1, r!), a(i - 1, h)), prev));
        prev = before;
      } else {
        const before = hc;
        hc = fuse(i, h);
        h = hg(i, add(add(b(i - 1, r!), a(i - 1, hc)), prev));
        prev = before;
      }
      const seg = normAct(segNorm, this.classifier.forward(h));
      out.push(seg);
      if (i < S - 1) {
        const res = normAct(resNorm, this.declassifier.forward(seg));
        r = isRes(k) ? res : a(i, res);
      }
    }
    return out;
  }
}

/** Parameters without building (seed-specs §5.8, x8 final config: hourglass 18,307,815 … res-hourglass-iter-ex 18,349,985). */
export function hourglassParameters(kind: HourglassKind, o: Omit<IterativeOptions, 'seed'>): number {
  const s = { x1: 1, x2: 2, x4: 4, x8: 8 }[o.prenet], dim: Dim = [o.inputSize[0] / s, o.inputSize[1] / s], S = o.steps;
  const conv = (i: number, k: number) => i * k + k;
  const nf = tasNormParameters(o.norm, o.f, dim), nc = tasNormParameters(o.norm, o.numClasses, dim);
  const iter = isIter(kind), ex = isEx(kind);
  const norms = iter ? (ex ? S : 1) * nf + nc + nf : nc + nf;
  return (S - 1) * (isRes(kind) ? 2 : 1) + prenetParameters(o.prenet, o.f, o.inputSize, o.norm) +
    S * resUnetParameters({ f: o.f, increaseRatio: o.increaseRatio, levels: o.levels, norm: o.norm, dim }) +
    (iter ? (ex ? S - 1 : 1) * conv(2 * o.f, o.f) : 0) + conv(o.f, o.numClasses) + conv(o.numClasses, o.f) + norms;
}
