// The TAS500 seed's building blocks (chokladmousse/Semantic_Segmentation; seed-specs §5.2, §5.3,
// §5.8), with the reference's module and state-dict names:
//   - a normalisation chosen per network: 'layerHW' (LayerNorm over [H, W]: per-channel spatial
//     statistics, per-position affine; the seed's experiments), 'layerCHW' (LayerNorm over
//     [C, H, W]) or 'batch' (BatchNorm2d). Every norm is followed by LeakyReLU (slope 0.01);
//   - Block: three conv → norm → LReLU (3×3, 3×3, 1×1), out = skip + α·x₃ with a scalar gate α
//     initialised to 0 and a 1×1 skip conv where the widths differ;
//   - HourglassBlock (recursive, M levels): Block down, max-pool, the inner hourglass (widths
//     ×increase_ratio per level), Block back, transposed 2×2 stride-2 up; out = LReLU(norm(conv1×1(x)))
//     + α·(x ‖ up), 2·f_in channels;
//   - ResUnet ("resUnet", the seed's base): the hourglass, then LReLU(norm(conv3×3(2f → f)));
//   - pre-nets x1, x2, x4, x8: the input "distilled" to 1, 1/2, 1/4, 1/8 per side.
// The LayerNorm shapes tie a network to its input size (the reference builds them from
// inp_dim / oup_dim), so the input size is a constructor argument and a different input is an error.
// Fixed against the reference, where it cannot run (§5.8): the hourglass's norm has 2·f_in
// channels for 'batch' and 'layerCHW' (the reference builds it with f and fails).
import { Module } from '../engine/module.js';
import type { Rng } from '../engine/rng.js';
import { type Tensor, zeros } from '../engine/tensor.js';
import { concat } from '../kernels/concat.js';
import { add, leakyRelu, mul } from '../kernels/elementwise.js';
import { maxPool2d } from '../kernels/pool.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, ImageNetNormalize, LayerNorm } from './layers.js';

export type TasNorm = 'layerHW' | 'layerCHW' | 'batch';
export const TAS_NORMS: readonly TasNorm[] = ['layerHW', 'layerCHW', 'batch'];
export type Dim = readonly [number, number];

/** The seed's normalisation for `channels` channels at spatial size `dim`. */
export function tasNorm(kind: TasNorm, channels: number, dim: Dim): LayerNorm | BatchNorm2d {
  if (kind === 'batch') return new BatchNorm2d(channels);
  return new LayerNorm(kind === 'layerHW' ? [dim[0], dim[1]] : [channels, dim[0], dim[1]]);
}

/** Parameters of that normalisation. */
export const tasNormParameters = (kind: TasNorm, channels: number, dim: Dim): number =>
  kind === 'batch' ? 2 * channels : 2 * dim[0] * dim[1] * (kind === 'layerCHW' ? channels : 1);

/** LReLU(norm(y)), checking the map is the size the norm was built for. */
export function normAct(norm: LayerNorm | BatchNorm2d, y: Tensor): Tensor {
  if (norm instanceof LayerNorm) {
    const s = norm.normalizedShape, [h, w] = [y.shape[2], y.shape[3]];
    if (h !== s[s.length - 2] || w !== s[s.length - 1]) {
      throw new Error(`tas: a ${y.shape[1]}-channel map is ${h}x${w} where the network was built for ${s[s.length - 2]}x${s[s.length - 1]} ` +
        '(its layer norms hold one weight per position: build it for this input size)');
    }
  }
  return leakyRelu(norm.forward(y));
}

const gate = () => zeros([]);
const half = (d: Dim): Dim => [Math.floor(d[0] / 2), Math.floor(d[1] / 2)];

/** Block: x₃ = three conv→norm→LReLU; out = skip(x) + α·x₃. */
export class TasBlock extends Module {
  readonly alpha: Tensor;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly skip_conv: Conv2d | null;
  readonly bn1: LayerNorm | BatchNorm2d;
  readonly bn2: LayerNorm | BatchNorm2d;
  readonly bn3: LayerNorm | BatchNorm2d;
  constructor(fin: number, fout: number, dim: Dim, norm: TasNorm, rng: Rng) {
    super();
    this.alpha = this.registerParameter('alpha', gate());
    this.conv1 = new Conv2d(fin, fout, 3, { padding: 1, rng });
    this.conv2 = new Conv2d(fout, fout, 3, { padding: 1, rng });
    this.conv3 = new Conv2d(fout, fout, 1, { rng });
    this.skip_conv = fin === fout ? null : new Conv2d(fin, fout, 1, { rng });
    [this.bn1, this.bn2, this.bn3] = [0, 1, 2].map(() => tasNorm(norm, fout, dim));
  }
  forward(x: Tensor): Tensor {
    const x1 = normAct(this.bn1, this.conv1.forward(x));
    const x2 = normAct(this.bn2, this.conv2.forward(x1));
    const x3 = normAct(this.bn3, this.conv3.forward(x2));
    return add(this.skip_conv ? this.skip_conv.forward(x) : x, mul(x3, this.alpha));
  }
}

export interface TasBaseOptions { f: number; increaseRatio: number; levels: number; norm: TasNorm; dim: Dim }

/** HourglassBlock(f_in, f_out, dim, m): 2·f_in channels out at dim. */
export class HourglassBlock extends Module {
  readonly alpha: Tensor;
  readonly down: TasBlock;
  readonly inner: HourglassBlock | null;
  readonly high: TasBlock;
  readonly up: ConvTranspose2d;
  readonly conv: Conv2d;
  readonly bn: LayerNorm | BatchNorm2d;
  constructor(fin: number, fout: number, dim: Dim, m: number, o: TasBaseOptions, rng: Rng) {
    super();
    this.alpha = this.registerParameter('alpha', gate());
    this.down = new TasBlock(fin, fout, dim, o.norm, rng);
    const nd = half(dim);
    this.inner = m > 1 ? new HourglassBlock(fout, Math.floor(fout * o.increaseRatio), nd, m - 1, o, rng) : null;
    this.high = new TasBlock(m > 1 ? 2 * fout : fout, fin, nd, o.norm, rng);
    this.up = new ConvTranspose2d(fin, fin, 2, { stride: 2, rng });
    this.conv = new Conv2d(fin, 2 * fin, 1, { rng });
    this.bn = tasNorm(o.norm, 2 * fin, dim);
  }
  forward(x: Tensor): Tensor {
    const pool = maxPool2d(this.down.forward(x), 2, 2, 0);
    const up = this.up.forward(this.high.forward(this.inner ? this.inner.forward(pool) : pool));
    return add(normAct(this.bn, this.conv.forward(x)), mul(concat([x, up]), this.alpha));
  }
}

/** The seed's base network "resUnet": f channels in and out at `dim`. */
export class ResUnet extends Module {
  readonly net: HourglassBlock;
  readonly conv: Conv2d;
  readonly bn: LayerNorm | BatchNorm2d;
  constructor(readonly o: TasBaseOptions, rng: Rng) {
    super();
    if (o.dim[0] % 2 ** o.levels || o.dim[1] % 2 ** o.levels) {
      throw new Error(`tas: hidden size ${o.dim[0]}x${o.dim[1]} must be divisible by 2^${o.levels} (M = ${o.levels} hourglass levels)`);
    }
    this.net = new HourglassBlock(o.f, Math.floor(o.f * o.increaseRatio), o.dim, o.levels, o, rng);
    this.conv = new Conv2d(2 * o.f, o.f, 3, { padding: 1, rng });
    this.bn = tasNorm(o.norm, o.f, o.dim);
  }
  forward(x: Tensor): Tensor { return normAct(this.bn, this.conv.forward(this.net.forward(x))); }
}

export type PrenetKind = 'x1' | 'x2' | 'x4' | 'x8';
export const PRENET_SCALE: Record<PrenetKind, number> = { x1: 1, x2: 2, x4: 4, x8: 8 };

/**
 * Pre-net ("distillation network"): x1 = conv3×3 → norm → LReLU; x2, x4, x8 = 1, 2, 3 stages of
 * two conv5×5 → norm → LReLU and a 2×2 max-pool. Names conv/bn (x1) or conv1…, bn1… (as the reference).
 */
export class Prenet extends Module {
  readonly #convs: Conv2d[] = [];
  readonly #norms: (LayerNorm | BatchNorm2d)[] = [];
  readonly outDim: Dim;
  readonly #input: ImageNetNormalize | null;
  /** `normalize`: ImageNet mean/std on the [0, 1] input first, as the seed's data loader does. */
  constructor(readonly kind: PrenetKind, f: number, inDim: Dim, norm: TasNorm, rng: Rng, normalize = false) {
    super();
    const stages = Math.log2(PRENET_SCALE[kind]);
    if (inDim[0] % PRENET_SCALE[kind] || inDim[1] % PRENET_SCALE[kind]) {
      throw new Error(`tas: input ${inDim[0]}x${inDim[1]} must be divisible by ${PRENET_SCALE[kind]} for the ${kind} pre-net`);
    }
    // children named as the reference's attributes (conv / bn, or conv1…, bn1…)
    const named = this as unknown as Record<string, Module>;
    if (stages === 0) {
      named.conv = this.#convs[0] = new Conv2d(3, f, 3, { padding: 1, rng });
      named.bn = this.#norms[0] = tasNorm(norm, f, inDim);
    }
    let d = inDim;
    for (let s = 0; s < stages; s++) {
      for (let k = 0; k < 2; k++) {
        const i = this.#convs.length;
        named[`conv${i + 1}`] = this.#convs[i] = new Conv2d(i ? f : 3, f, 5, { padding: 2, rng });
        named[`bn${i + 1}`] = this.#norms[i] = tasNorm(norm, f, d);
      }
      d = half(d);
    }
    this.outDim = d;
    this.#input = normalize ? new ImageNetNormalize() : null;
  }
  forward(x: Tensor): Tensor {
    let y = this.#input ? this.#input.apply(x) : x;
    this.#convs.forEach((c, i) => {
      y = normAct(this.#norms[i], c.forward(y));
      if (i % 2 === 1) y = maxPool2d(y, 2, 2, 0);
    });
    return y;
  }
  override dispose(): void { super.dispose(); this.#input?.dispose(); }
}

// Parameter arithmetic (tests: equal to the built modules and to seed-specs §5.8's counts)
const conv = (i: number, o: number, k: number) => i * o * k * k + o;

export function tasBlockParameters(fin: number, fout: number, dim: Dim, norm: TasNorm): number {
  return conv(fin, fout, 3) + conv(fout, fout, 3) + conv(fout, fout, 1) + (fin === fout ? 0 : conv(fin, fout, 1)) + 1 + 3 * tasNormParameters(norm, fout, dim);
}

function hourglassParameters(fin: number, fout: number, dim: Dim, m: number, o: TasBaseOptions): number {
  const nd = half(dim);
  let n = tasBlockParameters(fin, fout, dim, o.norm);
  n += m > 1 ? hourglassParameters(fout, Math.floor(fout * o.increaseRatio), nd, m - 1, o) + tasBlockParameters(2 * fout, fin, nd, o.norm)
    : tasBlockParameters(fout, fin, nd, o.norm);
  return n + fin * fin * 4 + fin + 1 + conv(fin, 2 * fin, 1) + tasNormParameters(o.norm, 2 * fin, dim);
}

export const resUnetParameters = (o: TasBaseOptions): number =>
  hourglassParameters(o.f, Math.floor(o.f * o.increaseRatio), o.dim, o.levels, o) + conv(2 * o.f, o.f, 3) + tasNormParameters(o.norm, o.f, o.dim);

export function prenetParameters(kind: PrenetKind, f: number, inDim: Dim, norm: TasNorm): number {
  const stages = Math.log2(PRENET_SCALE[kind]);
  if (stages === 0) return conv(3, f, 3) + tasNormParameters(norm, f, inDim);
  let n = 0, d = inDim;
  for (let s = 0; s < stages; s++) { n += conv(s ? f : 3, f, 5) + conv(f, f, 5) + 2 * tasNormParameters(norm, f, d); d = half(d); }
  return n;
}
