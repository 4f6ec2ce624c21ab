// Layers with PyTorch's parameter names, shapes and default initialisation.
import { labelled } from '../engine/engine.js';
import { Module } from '../engine/module.js';
import { keep, scope } from '../engine/scope.js';
import { add, mul } from '../kernels/elementwise.js';
import { globalRng, type Rng } from '../engine/rng.js';
import { type Tensor, full, tensor, zeros } from '../engine/tensor.js';
import { batchNorm2d } from '../kernels/batchnorm.js';
import { type Conv2dOptions, type ConvTranspose2dOptions, type Pair, conv2d, convTranspose2d } from '../kernels/conv2d.js';
import { dropout2d } from '../kernels/dropout.js';
import { layerNorm } from '../kernels/layernorm.js';
import { linear } from '../kernels/matmul.js';

/**
 * Runs one layer of a model under its profiler label and in its own scope: the layer's
 * intermediates are freed when it returns (those a backward needs live on in the graph's saved
 * views, and go as backward passes them), so neither inference nor the backward holds every
 * intermediate of the whole model at once (bench/NOTES.md §36).
 */
export const layer = <T>(label: string, fn: () => T): T => scope(() => labelled(label, fn));

const pairOf = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);

/** U(−1/√fan_in, 1/√fan_in): PyTorch's default for conv/linear weights (kaiming_uniform, a=√5) and biases. */
function uniformInit(shape: number[], fanIn: number, rng: Rng): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, () => rng.uniform(-bound, bound)), shape);
}

export interface ConvLayerOptions extends Conv2dOptions { bias?: boolean; rng?: Rng }

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly opts: Conv2dOptions;
  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, o: ConvLayerOptions = {}) {
    super();
    const [kh, kw] = pairOf(kernel);
    const rng = o.rng ?? globalRng();
    const groups = o.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`Conv2d ${inChannels}→${outChannels}: channels are not multiples of groups ${groups}`);
    const fanIn = (inChannels / groups) * kh * kw;
    this.weight = this.registerParameter('weight', uniformInit([outChannels, inChannels / groups, kh, kw], fanIn, rng));
    this.bias = o.bias === false ? null : this.registerParameter('bias', uniformInit([outChannels], fanIn, rng));
    this.opts = { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: groups === 1 ? undefined : groups };
  }
  /** `relu`: a ReLU after the convolution, applied in its store (no separate pass). */
  forward(x: Tensor, relu = false): Tensor { return conv2d(x, this.weight, this.bias, relu ? { ...this.opts, relu } : this.opts); }
}

export interface ConvTransposeLayerOptions extends ConvTranspose2dOptions { bias?: boolean; rng?: Rng }

export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly opts: ConvTranspose2dOptions;
  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, o: ConvTransposeLayerOptions = {}) {
    super();
    const [kh, kw] = pairOf(kernel);
    const rng = o.rng ?? globalRng();
    const fanIn = outChannels * kh * kw;   // PyTorch computes fan_in from weight dim 1 for transposed convs
    this.weight = this.registerParameter('weight', uniformInit([inChannels, outChannels, kh, kw], fanIn, rng));
    this.bias = o.bias === false ? null : this.registerParameter('bias', uniformInit([outChannels], fanIn, rng));
    this.opts = { stride: o.stride, padding: o.padding, dilation: o.dilation, outputPadding: o.outputPadding };
  }
  forward(x: Tensor): Tensor { return convTranspose2d(x, this.weight, this.bias, this.opts); }
}

export interface BatchNormLayerOptions {
  eps?: number; momentum?: number;
  /** false: no learned scale (γ ≡ 1, not a parameter), as slim's batch_norm by default. */
  scale?: boolean;
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly running_mean: Tensor;
  readonly running_var: Tensor;
  readonly eps: number;
  readonly momentum: number;
  constructor(readonly numFeatures: number, o: BatchNormLayerOptions = {}) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    this.weight = o.scale === false ? full([numFeatures], 1) : this.registerParameter('weight', full([numFeatures], 1));
    this.bias = this.registerParameter('bias', zeros([numFeatures]));
    this.running_mean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.running_var = this.registerBuffer('running_var', full([numFeatures], 1));
  }
  /** bn(x), or relu(bn(x)) when `relu`; in training, then dropout2d with p = `dropout`; all in the same kernels. */
  forward(x: Tensor, relu = false, dropout = 0): Tensor {
    return batchNorm2d(x, this.weight, this.bias, this.running_mean, this.running_var,
      { training: this.training, eps: this.eps, momentum: this.momentum, relu, dropout });
  }
  override dispose(): void {
    super.dispose();
    if (!this.parameters().includes(this.weight)) this.weight.dispose();   // the constant γ of scale: false
  }
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406], IMAGENET_STD = [0.229, 0.224, 0.225];

/** (x − mean)/std per channel of [N, 3, H, W] images in [0, 1], ImageNet's statistics, as x·(1/std) − mean/std (constants, not parameters). */
export class ImageNetNormalize {
  readonly #scale = keep(tensor(Float32Array.from(IMAGENET_STD, (s) => 1 / s), [1, 3, 1, 1]));
  readonly #shift = keep(tensor(Float32Array.from(IMAGENET_MEAN, (m, i) => -m / IMAGENET_STD[i]), [1, 3, 1, 1]));
  apply(x: Tensor): Tensor { return layer('normalize', () => add(mul(x, this.#scale), this.#shift)); }
  dispose(): void { this.#scale.dispose(); this.#shift.dispose(); }
}

/** torch.nn.LayerNorm(normalizedShape): weight (ones) and bias (zeros) of that shape, over x's trailing dimensions. */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(readonly normalizedShape: number[], readonly eps = 1e-5) {
    super();
    this.weight = this.registerParameter('weight', full(normalizedShape, 1));
    this.bias = this.registerParameter('bias', zeros(normalizedShape));
  }
  forward(x: Tensor): Tensor { return layerNorm(x, this.weight, this.bias, this.eps); }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, o: { bias?: boolean; rng?: Rng } = {}) {
    super();
    const rng = o.rng ?? globalRng();
    this.weight = this.registerParameter('weight', uniformInit([outFeatures, inFeatures], inFeatures, rng));
    this.bias = o.bias === false ? null : this.registerParameter('bias', uniformInit([outFeatures], inFeatures, rng));
  }
  forward(x: Tensor): Tensor { return linear(x, this.weight, this.bias); }
}

export class Dropout2d extends Module {
  constructor(readonly p: number) { super(); }
  forward(x: Tensor): Tensor { return dropout2d(x, this.p, this.training); }
}

/**
 * PyTorch's nn.Sequential for state-dict names: entries are children '0', '1', …; null entries
 * (ReLU, pooling: no parameters) keep their index unused, so `final.{0,1,3,4,6}` read as PyTorch's.
 * The owner runs the entries (`at(i)`); this is a container, not a forward.
 */
export class Sequential extends Module {
  constructor(entries: (Module | null)[]) {
    super();
    entries.forEach((m, i) => { if (m) (this as unknown as Record<number, Module>)[i] = m; });
  }
  at(i: number): Module {
    const m = (this as unknown as Record<number, Module | undefined>)[i];
    if (!m) throw new Error(`Sequential: no module at index ${i}`);
    return m;
  }
}

/** bn(conv(x)), with the ReLU in the BN's kernel when `relu`: the conv at index i of a Sequential, its BN at i + 1 (PyTorch's nn.Sequential(conv, BN[, ReLU])). */
export function convBn(s: Sequential, x: Tensor, relu: boolean, i = 0): Tensor {
  return (s.at(i + 1) as BatchNorm2d).forward((s.at(i) as Conv2d).forward(x), relu);
}

/** Every Conv2d in a module tree with its dotted name. */
export function convsOf(m: Module, prefix = ''): [string, Conv2d][] {
  const out: [string, Conv2d][] = m instanceof Conv2d ? [[prefix.replace(/\.$/, ''), m]] : [];
  for (const [k, c] of m.children()) out.push(...convsOf(c, `${prefix}${k}.`));
  return out;
}

/**
 * Kaiming-normal weights (He et al.; PyTorch kaiming_normal_ with ReLU gain): N(0, 2/fan), fan =
 * fan_in (in/groups·kh·kw) or fan_out (out·kh·kw); biases zero. For the convs whose name passes `keep`.
 */
export function kaimingNormal(m: Module, mode: 'fan_in' | 'fan_out', rng: Rng = globalRng(), keep: (name: string) => boolean = () => true): void {
  for (const [name, c] of convsOf(m)) {
    if (!keep(name)) continue;
    const [o, i, kh, kw] = c.weight.shape;
    const std = Math.sqrt(2 / (mode === 'fan_in' ? i * kh * kw : o * kh * kw));
    c.weight.write(Float32Array.from({ length: c.weight.size }, () => std * rng.normal()));
    c.bias?.write(new Float32Array(c.bias.size));
  }
}
