// The model registry: every model mirage can train, evaluate, predict with, profile and bench.
// An entry says what the model is (options, parameter count, input constraint, outputs), how it is
// trained by default (recipes: optimizer and schedule per parameter group, epochs, batch, size,
// class weights, augmentation), how it is built into a System (src/train/system.ts) and how its
// checkpoints are labelled and recognised. Adding a model: its file in src/models, one entry here.
import type { HostTensor, Module } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import { keep } from '../engine/scope.js';
import { type Tensor, tensor } from '../engine/tensor.js';
import { FeedbackSystem, type SegLoss, cbWeights } from '../train/feedback.js';
import { DeepSupervisionSystem, SegmentationSystem, type SegLossName, type System } from '../train/system.js';
import { ERFNet } from './erfnet.js';
import { RestorationUNet } from './restoration-unet.js';
import { BiSeNet, type BiSeNetTrunk, bisenetParameters } from './bisenet.js';
import { MSSA, MSSA_DEFAULTS, mssaParameters } from './mssa.js';
import { Iterative, type IterativeOptions, type IterativeVersion, iterativeParameters } from './iterative.js';
import { HOURGLASS_KINDS, type HourglassKind, StackedHourglass, hourglassParameters } from './hourglass.js';
import { PRENET_SCALE, type PrenetKind, type TasNorm } from './tas-base.js';
import { softDice } from '../kernels/dice.js';
import { crossEntropy } from '../kernels/losses.js';
import { softmax } from '../kernels/softmax.js';
import { add } from '../kernels/elementwise.js';
import { DeepLabV3Plus, type Trunk, deeplabParameters } from './deeplabv3plus.js';
import { imageWeightedLoss, relaxedLoss } from '../kernels/label-relaxation.js';

export type OptionValue = number | string | boolean;

export interface ModelOption {
  /** The CLI flag without dashes; also the key in a run's options. */
  flag: string;
  type: 'number' | 'string' | 'boolean';
  default?: OptionValue;
  choices?: string[];
  describe: string;
  /** Used only to start a new run (e.g. initial weights), not part of what the model is. */
  initOnly?: boolean;
}

/** How a model is trained: what a recipe sets and a run's settings hold. */
export interface TrainingPlan {
  epochs: number;
  batchSize: number;
  height: number;
  width?: number;
  /** Optimizer spec per parameter group ("adam:lr=5e-4,weight_decay=1e-4"), the main group first. */
  optimizer: Record<string, string>;
  /** LR schedule spec per group ("poly:power=0.9"), stepped once per epoch. */
  schedule: Record<string, string>;
  /** enet | erfnet | none | FILE (src/data/class-weights.ts). */
  classWeights: string;
  flip: boolean;
  translate: number;
  scaleCrop?: string;
  /** Train on random crops "W" or "WxH" of the sized images (NVIDIA's crop_size); unset: the whole sized image. */
  cropSize?: string;
  /** Colour jitter strength (NVIDIA's color_aug: brightness, contrast, saturation and hue); unset or 0: off. */
  colorAug?: number;
  /** Gaussian blur σ = 0.15 + U·1.15 on every sample (NVIDIA's gblur). */
  gblur?: boolean;
  /** Class-uniform sampling share (NVIDIA's class_uniform_pct); unset or 0: off. */
  classUniformPct?: number;
  /** Class-uniform tile in pixels of the sized labels (default: the input height). */
  classUniformTile?: number;
  /** Random vertical flip, p 0.5 (the TAS500 seed). */
  vflip?: boolean;
  /** Rotation with p 0.5 by an angle from this comma list of degrees (the TAS500 seed: "-30,-15,0,15,30"). */
  rotate?: string;
}

export interface Recipe extends TrainingPlan {
  describe: string;
  /** Model options this recipe sets (over the options' defaults). */
  options?: Record<string, OptionValue>;
}

export interface BuildContext {
  numClasses: number;
  /** Input [height, width] the model will see; models whose layers depend on it (the TAS500 nets' layer norms) need it. */
  inputSize?: [number, number];
  ignoreIndex: number;
  /** Class weights from the data (--class-weights), or null; the entry turns them into its loss's weights. */
  weight: Float32Array | null;
  seed: number;
  /** Load init-only weights (e.g. --pretrained-encoder); false when a checkpoint will be loaded. */
  init: boolean;
  /** Reads a weights file (init-only options); absent where there is no file system. */
  readWeights?: (path: string) => { tensors: Map<string, HostTensor> };
  log?: (line: string) => void;
  /** Heat-distorted frames per sample the model receives, [N, 3·frames, H, W] (default 1); models that restore from several frames use it. */
  frames?: number;
}

export interface ModelSpec {
  name: string;
  /** Older or alternative names found in checkpoints. */
  aliases?: string[];
  summary: string;
  /** Where it comes from (paper, reference code). */
  source: string;
  options: ModelOption[];
  /** Per-group lr flags besides --lr (which sets the main group's), e.g. lr-restore → restore. */
  groupLr?: { flag: string; group: string; describe: string }[];
  /**
   * `default`: what `mirage train --model NAME` runs; `demo`: minutes on a CPU (the README demo,
   * `experiment`, `profile` and `bench --quick` start from it); `reference`: the paper's.
   */
  recipes: Record<string, Recipe> & { default: Recipe; demo: Recipe };
  /** 'always': trained and evaluated on heat-distorted inputs; 'optional': with --distort. */
  distortion: 'always' | 'optional';
  /** Trainable parameters for these options and classes (and input frames, for models that take several), without building anything. */
  parameterCount(o: Record<string, OptionValue>, numClasses: number, frames?: number): number;
  /** The count the reference implementation has, which tests assert. */
  reference?: { options: Record<string, OptionValue>; numClasses: number; parameters: number; note: string };
  /** Input height and width must be multiples of this. */
  multiple(o: Record<string, OptionValue>): number;
  /** Labels are used at the input size divided by this (ERFNet's encoder stage: 8; default 1). */
  labelDownscale?(o: Record<string, OptionValue>): number;
  /** What comes out, in words (scale of the logits; per-iteration outputs). */
  outputs(o: Record<string, OptionValue>): string;
  build(o: Record<string, OptionValue>, ctx: BuildContext): System;
  /** Checkpoint metadata naming the model and what rebuilding it needs. */
  meta(o: Record<string, OptionValue>, numClasses: number): Record<string, string>;
  /** Options and class count of a checkpoint of this model (metadata may be absent: PyTorch files); throws if it is not one. */
  fromCheckpoint(tensors: Map<string, HostTensor>, meta: Record<string, string>, path: string):
    { options: Record<string, OptionValue>; numClasses: number };
  /** Loads a checkpoint's tensors strictly (default: the whole state dict). */
  load?(system: System, tensors: Map<string, HostTensor>): void;
}

// ---------------------------------------------------------------------------------------------
// Parameter arithmetic (weights + biases; batch norm: scale and shift)

const conv = (cin: number, cout: number, kh: number, kw = kh, bias = true) => cout * cin * kh * kw + (bias ? cout : 0);
const bn = (c: number) => 2 * c;

function erfnetParameters(numClasses: number, outputConv: boolean): number {
  const down = (i: number, o: number) => conv(i, o - i, 3) + bn(o);
  const nb = (c: number) => 2 * conv(c, c, 3, 1) + 2 * conv(c, c, 1, 3) + 2 * bn(c);
  const up = (i: number, o: number) => conv(i, o, 3) + bn(o);
  const encoder = down(3, 16) + down(16, 64) + 5 * nb(64) + down(64, 128) + 8 * nb(128) + (outputConv ? conv(128, numClasses, 1) : 0);
  const decoder = up(128, 64) + 2 * nb(64) + up(64, 16) + 2 * nb(16) + conv(16, numClasses, 2);
  return encoder + decoder;
}

function unetParameters(depth: number, wf: number, numClasses: number, frames = 1): number {
  const block = (i: number, o: number) => conv(i, o, 3) + bn(o) + conv(o, o, 3) + bn(o);
  let n = 0, prev = 3 * frames;
  for (let i = 0; i < depth; i++) { n += block(prev, 2 ** (wf + i)); prev = 2 ** (wf + i); }
  for (let i = depth - 2; i >= 0; i--) { const o = 2 ** (wf + i); n += conv(prev, o, 2) + block(prev, o); prev = o; }
  n += conv(prev, 2 * frames, 1);
  const f = 3 * numClasses, bottleneck = 2 ** (wf + depth - 1);
  return n + conv(f, f, 3) + bn(f) + conv(f, bottleneck, 3) + bn(bottleneck);
}

// ---------------------------------------------------------------------------------------------
// ERFNet

/** Class count of an ERFNet state dict, from its output layers. */
export function erfnetClasses(t: Map<string, HostTensor>, path: string): number {
  const dec = t.get('decoder.output_conv.weight'), enc = t.get('encoder.output_conv.weight');
  if (dec) return dec.shape[1];
  if (enc) return enc.shape[0];
  throw new Error(`${path}: no decoder.output_conv or encoder.output_conv weight — not an ERFNet checkpoint ` +
    `(first keys: ${[...t.keys()].slice(0, 5).join(', ')})`);
}

/** Entries under `prefix.` with the prefix removed (e.g. the encoder of a full model). */
export function subDict(m: Map<string, HostTensor>, prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of m) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

const ERFNET_ADAM = 'adam:lr=5e-4,weight_decay=1e-4';

const erfnet: ModelSpec = {
  name: 'erfnet',
  aliases: ['erfnet-encoder'],
  summary: 'ERFNet: factorised residual encoder-decoder, full-resolution logits',
  source: 'Romera et al., T-ITS 2018; Eromera/erfnet_pytorch (seed-specs §2)',
  options: [
    { flag: 'encoder-only', type: 'boolean', default: false, describe: 'erfnet: stage 1, the encoder alone on 1/8-resolution labels' },
    { flag: 'pretrained-encoder', type: 'string', initOnly: true,
      describe: 'erfnet: initialise the encoder from a checkpoint (.safetensors or .pth), e.g. a stage-1 run' },
    { flag: 'loss', type: 'string', default: 'ce', choices: ['ce', 'focal'],
      describe: 'segmentation loss: erfnet ce | focal (γ 2); feedback ce | focal | ifl | cbifl (iFL/CB-iFL: γ = 0, 0.1, 0.2 per iteration)' },
  ],
  recipes: {
    default: {
      describe: 'the reference recipe at a CPU-sized budget (10 epochs, batch 4, 128 px)',
      epochs: 10, batchSize: 4, height: 128, optimizer: { model: ERFNET_ADAM }, schedule: { model: 'poly:power=0.9' },
      classWeights: 'enet', flip: true, translate: 2,
    },
    demo: {
      describe: 'minutes on a CPU: 5 epochs at 64 px, lr 2e-3 to get far fast (the README demo)',
      epochs: 5, batchSize: 4, height: 64, optimizer: { model: 'adam:lr=2e-3,weight_decay=1e-4' }, schedule: { model: 'poly:power=0.9' },
      classWeights: 'enet', flip: true, translate: 2,
    },
    reference: {
      describe: 'Eromera/erfnet_pytorch train/main.py: 150 epochs, batch 6, 512 px, hard-coded Cityscapes class weights',
      epochs: 150, batchSize: 6, height: 512, optimizer: { model: ERFNET_ADAM }, schedule: { model: 'poly:power=0.9' },
      classWeights: 'erfnet', flip: true, translate: 2,
    },
  },
  distortion: 'optional',
  parameterCount: (_o, c) => erfnetParameters(c, true),
  reference: { options: {}, numClasses: 20, parameters: 2_066_836, note: 'seed-specs §2.3 (2.07 M)' },
  multiple: () => 8,
  labelDownscale: (o) => (o['encoder-only'] === true ? 8 : 1),
  outputs: (o) => (o['encoder-only'] ? 'class logits at 1/8 resolution (encoder stage)' : 'class logits at full resolution'),
  build(o, ctx) {
    const net = new ERFNet({ numClasses: ctx.numClasses, rng: new Rng(ctx.seed) });
    const enc = o['encoder-only'] === true;
    const init = o['pretrained-encoder'];
    if (ctx.init && typeof init === 'string' && init) {
      if (!ctx.readWeights) throw new Error(`--pretrained-encoder ${init}: no file reader here`);
      const enc0 = subDict(ctx.readWeights(init).tensors, 'encoder');
      if (!enc0.size) { net.dispose(); throw new Error(`--pretrained-encoder ${init}: no 'encoder.*' tensors in the file`); }
      net.encoder.loadStateDict(enc0, false);
      ctx.log?.(`encoder initialised from ${init} (${enc0.size} tensors)`);
    }
    return new SegmentationSystem(net, {
      groups: { model: enc ? net.encoder.parameters() : net.parameters() },
      forward: (x) => net.forward(x, enc), weight: ctx.weight && keep(tensor(ctx.weight, [ctx.weight.length])), ignoreIndex: ctx.ignoreIndex,
      loss: (o.loss ?? 'ce') as SegLossName, labelDownscale: enc ? 8 : 1, multiple: 8,
    });
  },
  meta: (o, c) => ({ model: 'erfnet', classes: String(c), encoder_only: String(o['encoder-only'] === true) }),
  fromCheckpoint(tensors, meta, path) {
    const numClasses = erfnetClasses(tensors, path);
    const encoderOnly = meta.model === 'erfnet-encoder' || meta.encoder_only === 'true' || !tensors.has('decoder.output_conv.weight');
    return { options: { 'encoder-only': encoderOnly }, numClasses };
  },
  load(system, tensors) {
    const net = system.module as ERFNet;
    if (!tensors.has('decoder.output_conv.weight')) net.encoder.loadStateDict(subDict(tensors, 'encoder'));
    else net.loadStateDict(tensors);
  },
};

// ---------------------------------------------------------------------------------------------
// The hot-weather feedback system

const segmenterOf = (o: Record<string, OptionValue>) => String(o.segmenter ?? 'erfnet');

/** The feedback model's segmenter other than ERFNet: its entry and default options, checked. */
function innerSegmenter(o: Record<string, OptionValue>): { spec: ModelSpec; options: Record<string, OptionValue> } {
  const spec = getModel(segmenterOf(o));
  if (spec.distortion === 'always') throw new Error(`--segmenter ${spec.name}: restores by itself; choose a segmentation network`);
  if (spec.options.some((x) => x.flag === 'input-size')) throw new Error(`--segmenter ${spec.name}: is built for one input size; the feedback loop takes any segmenter without one`);
  return { spec, options: resolveOptions(spec, {}) };
}

const feedback: ModelSpec = {
  name: 'feedback',
  summary: 'restoration U-Net (flow + warp) with spatial feedback into ERFNet; heat-distorted input, per-iteration logits',
  source: 'Rai et al., BMVC 2020, spatial feedback learning (seed-specs §1)',
  options: [
    { flag: 'loss', type: 'string', default: 'cbifl', choices: ['ce', 'focal', 'ifl', 'cbifl'], describe: '' },
    { flag: 'feedback', type: 'boolean', default: true, describe: 'feedback: use the feedback branch (--no-feedback = restoration pre-network only)' },
    { flag: 'end-to-end', type: 'boolean', default: false, describe: 'feedback: back-propagate the segmentation loss through the warp into the U-Net' },
    { flag: 'feedback-scale', type: 'number', default: 0.001, describe: 'feedback: scale of the feedback branch added to the bottleneck (reference 0.001)' },
    { flag: 'iterations', type: 'number', default: 3, describe: 'feedback: iterations after the plain pass' },
    { flag: 'unet-depth', type: 'number', default: 5, describe: 'feedback: U-Net depth (reference 5)' },
    { flag: 'unet-width', type: 'number', default: 6, describe: 'feedback: first U-Net layer has 2^w filters (reference 6; use 2–3 on a CPU)' },
    { flag: 'flow-loss', type: 'number', default: 0, describe: 'feedback: weight of flow supervision, L1 between the U-Net\'s flows and the exact inverse of the simulated fields (beyond the paper; 0 = the reference\'s photometric L1 only)' },
    { flag: 'restore-pretrain', type: 'number', default: 0, describe: 'feedback: the first N of --epochs train the U-Net alone on fresh distortions (restoration pre-training, beyond the paper; 0 = none)' },
    { flag: 'feedback-gate', type: 'boolean', default: false, describe: 'feedback: a learnable gate on the feedback branch, starting at --feedback-scale (beyond the paper; off = the reference\'s fixed scale)' },
    { flag: 'segmenter', type: 'string', default: 'erfnet', describe: 'feedback: the segmentation network behind the U-Net, any registered one with full-resolution logits, with its default options (reference erfnet)' },
  ],
  groupLr: [{ flag: 'lr-restore', group: 'restore', describe: 'feedback: the U-Net\'s learning rate (recipe: Adam 2e-4, halved every 30 epochs)' }],
  recipes: {
    default: {
      describe: 'the reference optimizers at a CPU-sized budget (10 epochs, batch 4, 128 px), flip + translate',
      epochs: 10, batchSize: 4, height: 128,
      optimizer: { seg: ERFNET_ADAM, restore: 'adam:lr=2e-4' }, schedule: { seg: 'step:size=1,gamma=0.99', restore: 'step:size=30,gamma=0.5' },
      classWeights: 'enet', flip: true, translate: 2,
    },
    demo: {
      describe: 'minutes on a CPU: 5 epochs at 64 px, U-Net width 8, ERFNet lr 2e-3 with poly decay (the hot-weather experiment\'s budget)',
      epochs: 5, batchSize: 4, height: 64, options: { 'unet-width': 3 },
      optimizer: { seg: 'adam:lr=2e-3,weight_decay=1e-4', restore: 'adam:lr=2e-4' }, schedule: { seg: 'poly:power=0.9', restore: 'step:size=30,gamma=0.5' },
      classWeights: 'enet', flip: true, translate: 2,
    },
    reference: {
      describe: 'the SFL reference train/main.py: 150 epochs, batch 8, 224 px, no augmentation, ERFNet weight decay 2e-4',
      epochs: 150, batchSize: 8, height: 224,
      optimizer: { seg: 'adam:lr=5e-4,weight_decay=2e-4', restore: 'adam:lr=2e-4' },
      schedule: { seg: 'step:size=1,gamma=0.99', restore: 'step:size=30,gamma=0.5' },
      classWeights: 'enet', flip: false, translate: 0,
    },
  },
  distortion: 'always',
  parameterCount(o, c, frames = 1) {
    const inner = segmenterOf(o) === 'erfnet' ? null : innerSegmenter(o);
    return unetParameters(Number(o['unet-depth']), Number(o['unet-width']), c, frames) +
      (inner ? inner.spec.parameterCount(inner.options, c) : erfnetParameters(c, false)) + (o['feedback-gate'] === true ? 1 : 0);
  },
  reference: { options: { 'unet-depth': 5, 'unet-width': 6 }, numClasses: 20, parameters: 31_632_198 + 2_064_256,
    note: 'seed-specs §1.8: U-Net 31,632,198 with TransBlockRes + ERFNet 2,064,256 without encoder.output_conv' },
  multiple(o) {
    const inner = segmenterOf(o) === 'erfnet' ? null : innerSegmenter(o);
    return Math.max(8, 2 ** (Number(o['unet-depth']) - 1), inner ? inner.spec.multiple(inner.options) : 8);
  },
  outputs: (o) => `restored image, and class logits at full resolution after each of ${o.iterations} feedback iterations (the last is the prediction)`,
  build(o, ctx) {
    const depth = Number(o['unet-depth']), wf = Number(o['unet-width']), scale = Number(o['feedback-scale']), its = Number(o.iterations);
    if (!(Number.isInteger(its) && its >= 1 && its <= 6)) throw new Error(`--iterations ${o.iterations}: must be an integer from 1 to 6`);
    if (!(scale >= 0 && Number.isFinite(scale))) throw new Error(`--feedback-scale ${o['feedback-scale']}: must be a finite number ≥ 0`);
    const flowWeight = Number(o['flow-loss'] ?? 0);
    if (!(flowWeight >= 0 && Number.isFinite(flowWeight))) throw new Error(`--flow-loss ${o['flow-loss']}: must be a finite number ≥ 0`);
    const pretrain = Number(o['restore-pretrain'] ?? 0);
    if (!(Number.isInteger(pretrain) && pretrain >= 0)) throw new Error(`--restore-pretrain ${o['restore-pretrain']}: give a whole number of epochs ≥ 0`);
    const unet = new RestorationUNet({ depth, wf, numClasses: ctx.numClasses, feedbackScale: scale, frames: ctx.frames ?? 1,
      feedbackGate: o['feedback-gate'] === true, rng: new Rng(ctx.seed) });
    // the reference's ERFNet without encoder.output_conv, or another segmenter's network and full-resolution logits
    let seg: Module, segForward: ((x: Tensor) => Tensor) | undefined, multiple = Math.max(8, 2 ** (depth - 1));
    if (segmenterOf(o) === 'erfnet') seg = new ERFNet({ numClasses: ctx.numClasses, encoderOutputConv: false, rng: new Rng(ctx.seed + 1) });
    else {
      const inner = innerSegmenter(o);
      const sys = inner.spec.build(inner.options, { ...ctx, seed: ctx.seed + 1, weight: null, frames: 1 });
      if (!sys.predict || sys.labelDownscale !== 1) {
        sys.dispose(); unet.dispose();
        throw new Error(`--segmenter ${inner.spec.name}: gives no full-resolution logits (${inner.spec.outputs(inner.options)}); the feedback loop needs them`);
      }
      seg = sys.module; segForward = (x) => sys.predict!(x); multiple = Math.max(multiple, sys.multiple);
    }
    // CB-iFL weighs classes by effective numbers derived from the base weights (seed-specs §1.6)
    const w = ctx.weight && (o.loss === 'cbifl' ? cbWeights(ctx.weight) : ctx.weight);
    return new FeedbackSystem(unet, seg, { ignoreIndex: ctx.ignoreIndex, loss: o.loss as SegLoss, feedback: o.feedback !== false,
      endToEnd: o['end-to-end'] === true, iterations: its, flowWeight, pretrainEpochs: pretrain, segForward, multiple, gammas: [0, 0.1, 0.2, 0.3, 0.4, 0.5].slice(0, Math.max(3, its)), weight: w && keep(tensor(w, [w.length])) });
  },
  meta: (o, c) => ({ model: 'feedback', classes: String(c), unet_depth: String(o['unet-depth']), unet_wf: String(o['unet-width']),
    loss: String(o.loss), feedback: String(o.feedback !== false), feedback_scale: String(o['feedback-scale']),
    end_to_end: String(o['end-to-end'] === true), iterations: String(o.iterations), flow_loss: String(o['flow-loss'] ?? 0),
    feedback_gate: String(o['feedback-gate'] === true), restore_pretrain: String(o['restore-pretrain'] ?? 0), segmenter: segmenterOf(o) }),
  fromCheckpoint(_t, meta, path) {
    if (meta.model !== 'feedback') throw new Error(`${path} holds a '${meta.model ?? 'unknown'}' model, not the feedback model`);
    const need = ['classes', 'unet_depth', 'unet_wf'].filter((k) => meta[k] === undefined);
    if (need.length) throw new Error(`${path}: feedback checkpoint without ${need.join(', ')} in its metadata`);
    return {
      options: { 'unet-depth': Number(meta.unet_depth), 'unet-width': Number(meta.unet_wf), loss: meta.loss ?? 'cbifl',
        feedback: meta.feedback !== 'false', 'feedback-scale': Number(meta.feedback_scale ?? 0.001),
        'end-to-end': meta.end_to_end === 'true', iterations: Number(meta.iterations ?? 3), 'flow-loss': Number(meta.flow_loss ?? 0),
        'feedback-gate': meta.feedback_gate === 'true', 'restore-pretrain': Number(meta.restore_pretrain ?? 0), segmenter: meta.segmenter ?? 'erfnet' },
      numClasses: Number(meta.classes),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// The NVIDIA seed: DeepLabV3+ with boundary label relaxation (seed-specs §4)

/** Cityscapes trainIds of pole, traffic light, traffic sign, person, rider, motorcycle, bicycle: never relaxed in NVIDIA's scripts. */
const CITYSCAPES_STRICT = '5,6,7,11,12,17,18';
const NVIDIA_SGD = 'sgd:lr=1e-3,momentum=0.9,weight_decay=1e-4';

/** Which backbone a PyTorch state dict holds, by its keys (null: not a DeepLabV3+ of NVIDIA's). */
function trunkOf(t: Map<string, HostTensor>): Trunk | null {
  if (t.has('mod1.conv1.weight') && t.has('mod7.block1.convs.conv3.weight')) return 'wrn38';
  const deep = t.has('layer3.22.conv1.weight');
  if (t.has('layer0.conv1.weight')) return deep ? 'seresnext101' : 'seresnext50';
  if (t.has('layer0.0.weight')) return deep ? 'resnet101' : 'resnet50';
  return null;
}

/** The registry entry of each NVIDIA trunk. */
const TRUNK_MODEL: Record<Trunk, string> = {
  resnet50: 'deeplabv3plus-r50', resnet101: 'deeplabv3plus-r101', seresnext50: 'deeplabv3plus-srnx50',
  seresnext101: 'deeplabv3plus-srnx101', wrn38: 'deeplabv3plus-wrn38',
};

function parseStrict(v: OptionValue | undefined, numClasses: number): number[] {
  const s = String(v ?? '').trim();
  if (!s) return [];
  const out = s.split(',').map((x) => Number(x.trim()));
  const bad = out.filter((k) => !(Number.isInteger(k) && k >= 0 && k < numClasses));
  if (bad.length) throw new Error(`--strict-border ${s}: ${bad.join(', ')} not class ids of the data (0–${numClasses - 1})`);
  return out;
}

function deeplab(trunk: Trunk, name: string, alias: string, backbone: string): ModelSpec {
  const reference: Record<string, number> = { resnet50: 40_351_040, seresnext50: 42_353_904, wrn38: 137_103_936 };
  const wide = trunk === 'wrn38';
  const outChannels = (o: Record<string, OptionValue>, c: number) => (o['void-channel'] === true ? c : c - 1);
  return {
    name,
    aliases: [alias],
    summary: `DeepLabV3+ on ${backbone} (NVIDIA's ${alias}), boundary label relaxation; logits at full resolution`,
    source: 'Zhu et al., CVPR 2019; NVIDIA/semantic-segmentation branch sdcnet, network/deepv3.py, loss.py (seed-specs §4)',
    options: [
      { flag: 'output-stride', type: 'number', default: 8, choices: ['8', '16'], describe: 'deeplabv3plus: backbone output stride (8: NVIDIA\'s dilated variant D)' },
      { flag: 'loss', type: 'string', default: 'relaxed', choices: ['relaxed', 'img-wt', 'ce'],
        describe: 'deeplabv3plus: relaxed (boundary label relaxation, --jointwtborder) | img-wt (per-image weighted CE) | ce; validation is plain CE' },
      { flag: 'wt-bound', type: 'number', default: 1, describe: 'deeplabv3plus: per-image class weights 1 + b·(1 − hist) (reference 1.0; Mapillary 6.0)' },
      { flag: 'border-window', type: 'number', default: 1, describe: 'deeplabv3plus: relaxation window half-width B, (2B+1)² pixels (reference 1)' },
      { flag: 'strict-border', type: 'string', default: '', describe: `deeplabv3plus: class ids never relaxed (Cityscapes reference: ${CITYSCAPES_STRICT})` },
      { flag: 'rlx-off-epoch', type: 'number', default: -1, describe: 'deeplabv3plus: after this (0-based) epoch, no relaxation and boundary pixels ×2 (reference 100; −1 never)' },
      { flag: 'reference-loss', type: 'boolean', default: false,
        describe: 'deeplabv3plus: the reference\'s relaxed loss exactly, whose images share the whole batch\'s border weights (about ×batch; seed-specs §4.6)' },
      { flag: 'void-channel', type: 'boolean', default: false,
        describe: 'deeplabv3plus: the network predicts the ignore class too (mirage\'s ERFNet layout); default: as NVIDIA, one channel per real class' },
      { flag: 'normalize', type: 'boolean', default: true, describe: 'deeplabv3plus: ImageNet mean/std normalisation inside the model (as the seed)' },
      { flag: 'pretrained-backbone', type: 'string', initOnly: true,
        describe: 'deeplabv3plus: initialise the backbone from ImageNet weights (.pth or .safetensors; torchvision ResNet, Cadene SE-ResNeXt or NVIDIA wider_resnet38 names)' },
    ],
    recipes: {
      default: {
        describe: 'NVIDIA\'s recipe at a CPU-sized budget: SGD 0.01 momentum 0.9, poly, 10 epochs, batch 4, 128 px, scale 0.5–2 with random crop, ' +
          'flip, colour jitter 0.25, Gaussian blur, class-uniform sampling 0.5',
        epochs: 10, batchSize: 4, height: 128, optimizer: { model: 'sgd:lr=1e-2,momentum=0.9,weight_decay=1e-4' }, schedule: { model: 'poly:power=1' },
        classWeights: 'none', flip: true, translate: 0, scaleCrop: '0.5,2', colorAug: 0.25, gblur: true, classUniformPct: 0.5,
      },
      demo: {
        describe: 'minutes on a CPU: 4 epochs at 64 px, SGD 0.01, flip and scale 0.5–2 crop',
        epochs: 4, batchSize: 4, height: 64, optimizer: { model: 'sgd:lr=1e-2,momentum=0.9,weight_decay=1e-4' }, schedule: { model: 'poly:power=1' },
        classWeights: 'none', flip: true, translate: 0, scaleCrop: '0.5,2',
      },
      reference: {
        describe: 'scripts/train_cityscapes_*.sh: 175 epochs, batch 16 (8 GPUs × 2), 2048×1024 images scaled 0.5–2 and cropped 896², SGD 1e-3, ' +
          'scl-poly, colour jitter 0.25, Gaussian blur, class-uniform 0.5 on 1024-px tiles, relaxed loss with strict classes, relaxation off after epoch 100',
        epochs: 175, batchSize: 16, height: 1024, width: 2048, optimizer: { model: NVIDIA_SGD },
        schedule: { model: 'scl-poly:power=1,repoly=1.5,rescale=1,relax=100' },
        classWeights: 'none', flip: true, translate: 0, scaleCrop: '0.5,2', cropSize: '896', colorAug: 0.25, gblur: true,
        classUniformPct: 0.5, classUniformTile: 1024,
        options: { loss: 'relaxed', 'strict-border': CITYSCAPES_STRICT, 'rlx-off-epoch': 100, 'wt-bound': 1 },
      },
    },
    distortion: 'optional',
    parameterCount: (o, c) => deeplabParameters(trunk, outChannels(o, c)),
    reference: reference[trunk] ? { options: {}, numClasses: 20, parameters: reference[trunk],
      note: `seed-specs §4.6: ${alias} with num_classes 19 (+ ignore = mirage's 20)` } : undefined,
    multiple: (o) => Number(o['output-stride']),
    outputs: () => 'class logits at full resolution (bilinear ×4 from the decoder, align_corners)' + (wide ? ', decoder at 1/2' : ''),
    build(o, ctx) {
      const os = Number(o['output-stride']);
      if (os !== 8 && os !== 16) throw new Error(`--output-stride ${o['output-stride']}: 8 or 16`);
      const voidCh = o['void-channel'] === true;
      if (!voidCh && ctx.ignoreIndex !== ctx.numClasses - 1) {
        throw new Error(`${name}: without --void-channel the ignore class must be the last (ignore ${ctx.ignoreIndex} of ${ctx.numClasses})`);
      }
      const net = new DeepLabV3Plus({ trunk, numClasses: outChannels(o, ctx.numClasses), outputStride: os as 8 | 16,
        normalize: o.normalize !== false, seed: ctx.seed });
      initBackbone(net, o, ctx);
      const strict = parseStrict(o['strict-border'], ctx.numClasses);
      const rlxOff = Number(o['rlx-off-epoch']), bound = Number(o['wt-bound']), border = Number(o['border-window']);
      let epoch = 0;
      const loss = String(o.loss);
      const lossFn = loss === 'relaxed'
        ? (l: Tensor, y: Tensor) => relaxedLoss(l, y, { ignoreIndex: ctx.ignoreIndex, border, strict, bound,
          off: rlxOff >= 0 && epoch > rlxOff, batchBug: o['reference-loss'] === true })
        : loss === 'img-wt' ? (l: Tensor, y: Tensor) => imageWeightedLoss(l, y, { ignoreIndex: ctx.ignoreIndex, bound }) : undefined;
      return new SegmentationSystem(net, {
        forward: (x) => net.forward(x), weight: ctx.weight && keep(tensor(ctx.weight, [ctx.weight.length])), ignoreIndex: ctx.ignoreIndex,
        multiple: os, lossFn, onEpoch: (e) => { epoch = e; }, noVoidChannel: !voidCh,
      });
    },
    meta: (o, c) => ({ model: name, classes: String(c), output_stride: String(o['output-stride']), void_channel: String(o['void-channel'] === true),
      normalize: o.normalize === false ? 'none' : 'imagenet', loss: String(o.loss), wt_bound: String(o['wt-bound']),
      border_window: String(o['border-window']), strict_border: String(o['strict-border'] ?? ''), rlx_off_epoch: String(o['rlx-off-epoch']),
      reference_loss: String(o['reference-loss'] === true) }),
    fromCheckpoint(tensors, meta, path) {
      if (meta.model && meta.model !== name && meta.model !== alias) throw new Error(`${path} holds a '${meta.model}' model, not ${name}`);
      const found = trunkOf(tensors);
      if (found !== trunk) {
        throw new Error(`${path} is not a ${name} state dict${found ? ` (its keys are those of ${TRUNK_MODEL[found]})` : ''}`);
      }
      const fin = tensors.get('final.6.weight');
      if (!fin) throw new Error(`${path}: no final.6.weight (the classifier) in the state dict`);
      const pth = !meta.model;   // a PyTorch file: NVIDIA's layout, one channel per real class
      const voidCh = pth ? false : meta.void_channel === 'true';
      const options: Record<string, OptionValue> = {
        'output-stride': Number(meta.output_stride ?? 8), 'void-channel': voidCh, normalize: meta.normalize !== 'none',
        loss: meta.loss ?? 'relaxed', 'wt-bound': Number(meta.wt_bound ?? 1), 'border-window': Number(meta.border_window ?? 1),
        'strict-border': meta.strict_border ?? '', 'rlx-off-epoch': Number(meta.rlx_off_epoch ?? -1), 'reference-loss': meta.reference_loss === 'true',
      };
      return { options, numClasses: fin.shape[0] + (voidCh ? 0 : 1) };
    },
  };
}

/** --pretrained-backbone: ImageNet weights into a model's trunk at the start of a run (the model is disposed on failure). */
function initBackbone(net: Module & { loadBackbone(f: Map<string, HostTensor>): number }, o: Record<string, OptionValue>, ctx: BuildContext): void {
  const init = o['pretrained-backbone'];
  if (!ctx.init || typeof init !== 'string' || !init) return;
  if (!ctx.readWeights) { net.dispose(); throw new Error(`--pretrained-backbone ${init}: no file reader here`); }
  try {
    const n = net.loadBackbone(ctx.readWeights(init).tensors);
    ctx.log?.(`backbone initialised from ${init} (${n} tensors)`);
  } catch (e) { net.dispose(); throw new Error(`--pretrained-backbone ${init}: ${(e as Error).message}`); }
}

// ---------------------------------------------------------------------------------------------
// The MSSA seed's released code: BiSeNet (seed-specs §3.2, §3.5)

const MSSA_RMSPROP = 'rmsprop:lr=1e-4,alpha=0.995,eps=1e-10,tf=1';   // TF1 RMSPropOptimizer(1e-4, decay=0.995), its epsilon 1e-10

/** The seed's training (train.py) for both of its networks; the demo swaps the optimiser (see its line). */
const MSSA_RECIPES: ModelSpec['recipes'] = {
  default: {
    describe: 'the seed\'s optimiser at a CPU-sized budget: RMSProp 1e-4 (decay 0.995), unweighted CE, 10 epochs, batch 4, 128 px, flip',
    epochs: 10, batchSize: 4, height: 128, optimizer: { model: MSSA_RMSPROP }, schedule: { model: 'constant' },
    classWeights: 'none', flip: true, translate: 0,
  },
  demo: {
    // TF's RMSProp starts its square average at 1, so for the first few hundred steps each step is
    // about lr·g: measured, 8 epochs of 96 images left mssa at 4.4 mIoU (loss 2.94 → 2.72)
    describe: 'minutes on a CPU: 8 epochs at 64 px, Adam 2e-3 (the seed\'s TF RMSProp starts slowly: its square average begins at 1), flip',
    epochs: 8, batchSize: 4, height: 64, optimizer: { model: 'adam:lr=2e-3' }, schedule: { model: 'constant' },
    classWeights: 'none', flip: true, translate: 0,
  },
  reference: {
    describe: 'the seed\'s train.py defaults: 300 epochs, batch 1, 512×512 inputs (train.py crops 512×512 at random), RMSProp 1e-4 (decay 0.995), unweighted CE, no augmentation',
    epochs: 300, batchSize: 1, height: 512, width: 512, optimizer: { model: MSSA_RMSPROP }, schedule: { model: 'constant' },
    classWeights: 'none', flip: false, translate: 0,
  },
};

function bisenet(trunk: BiSeNetTrunk, name: string, backbone: string, ref: number): ModelSpec {
  return {
    name,
    summary: `BiSeNet on ${backbone} as the MSSA seed's code releases it: spatial path, attention refinement, feature fusion`,
    source: 'Sagar & Soundrapandiyan, ICCVW 2021; abhinavsagar/mssa mssa.py (seed-specs §3.2, §3.5)',
    options: [
      { flag: 'pretrained-backbone', type: 'string', initOnly: true,
        describe: 'bisenet: initialise the context path from torchvision ImageNet ResNet weights (.pth or .safetensors)' },
    ],
    recipes: MSSA_RECIPES,
    distortion: 'optional',
    parameterCount: (_o, c) => bisenetParameters(trunk, c),
    reference: { options: {}, numClasses: 19, parameters: ref, note: `seed-specs §3.5: torchvision-layout ${name}, 19 classes` },
    multiple: () => 32,
    outputs: () => 'class logits at full resolution (bilinear ×8 from the 1/8 fusion, then a 1×1 conv)',
    build(o, ctx) {
      const net = new BiSeNet({ trunk, numClasses: ctx.numClasses, seed: ctx.seed });
      initBackbone(net, o, ctx);
      return new SegmentationSystem(net, {
        groups: { model: net.parameters() }, forward: (x) => net.forward(x), weight: ctx.weight && keep(tensor(ctx.weight, [ctx.weight.length])),
        ignoreIndex: ctx.ignoreIndex, loss: 'ce', labelDownscale: 1, multiple: 32,
      });
    },
    meta: (_o, c) => ({ model: name, classes: String(c) }),
    fromCheckpoint(tensors, meta, path) {
      if (meta.model && meta.model !== name) throw new Error(`${path} holds a '${meta.model}' model, not ${name}`);
      const cls = tensors.get('conv.weight');
      if (!cls) throw new Error(`${path}: no conv.weight (the classifier) in the state dict`);
      return { options: {}, numClasses: cls.shape[0] };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The MSSA paper's own network (seed-specs §3.1; choices in src/models/mssa.ts)

const intList = (flag: string, v: OptionValue | undefined): number[] | undefined => {
  if (v === undefined || v === '') return undefined;
  const xs = String(v).split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isInteger(x))) throw new Error(`--${flag} '${v}': give comma-separated integers, e.g. 8,48,96,192`);
  return xs;
};
const mssaOpts = (o: Record<string, OptionValue>) => ({
  widths: intList('widths', o.widths), dilations: intList('dilations', o.dilations),
  kernel: o.kernel === undefined ? undefined : Number(o.kernel), resBlocks: o['res-blocks'] === undefined ? undefined : Number(o['res-blocks']),
});

const mssa: ModelSpec = {
  name: 'mssa',
  summary: 'the MSSA paper\'s network (v3 figure): residual extractor, dilated encoder 1/1–1/8, channel attention, transposed/atrous decoder with concat merges',
  source: 'Sagar & Soundrapandiyan, arXiv 2007.12685v3 / ICCVW 2021, README images/ss3.png, ss5.png (seed-specs §3.1)',
  options: [
    { flag: 'widths', type: 'string', default: MSSA_DEFAULTS.widths.join(','), describe: 'mssa: channels at 1/1, 1/2, 1/4, 1/8 (as the v3 figure draws them)' },
    { flag: 'dilations', type: 'string', default: MSSA_DEFAULTS.dilations.join(','), describe: 'mssa: dilation of the dilated / atrous conv at each scale (not in the paper: a choice)' },
    { flag: 'kernel', type: 'number', default: MSSA_DEFAULTS.kernel, describe: 'mssa: kernel size of the dilated and atrous convs (odd)' },
    { flag: 'res-blocks', type: 'number', default: MSSA_DEFAULTS.resBlocks, describe: 'mssa: ResNet basic blocks in the full-resolution feature extractor' },
  ],
  recipes: MSSA_RECIPES,
  distortion: 'optional',
  parameterCount: (o, c) => mssaParameters(mssaOpts(o), c),
  multiple: () => 8,
  outputs: () => 'class logits at full resolution (1×1 conv on atr-conv1)',
  build(o, ctx) {
    const net = new MSSA({ ...mssaOpts(o), numClasses: ctx.numClasses, seed: ctx.seed });
    return new SegmentationSystem(net, {
      groups: { model: net.parameters() }, forward: (x) => net.forward(x), weight: ctx.weight && keep(tensor(ctx.weight, [ctx.weight.length])),
      ignoreIndex: ctx.ignoreIndex, loss: 'ce', labelDownscale: 1, multiple: 8,
    });
  },
  meta: (o, c) => ({ model: 'mssa', classes: String(c), widths: String(o.widths), dilations: String(o.dilations), kernel: String(o.kernel), res_blocks: String(o['res-blocks']) }),
  fromCheckpoint(tensors, meta, path) {
    if (meta.model && meta.model !== 'mssa') throw new Error(`${path} holds a '${meta.model}' model, not mssa`);
    const cls = tensors.get('classifier.weight');
    if (!cls) throw new Error(`${path}: no classifier.weight in the state dict — not an mssa checkpoint`);
    const options: Record<string, OptionValue> = {};
    if (meta.widths) options.widths = meta.widths;
    if (meta.dilations) options.dilations = meta.dilations;
    if (meta.kernel) options.kernel = Number(meta.kernel);
    if (meta.res_blocks) options['res-blocks'] = Number(meta.res_blocks);
    return { options, numClasses: cls.shape[0] };
  },
};

// ---------------------------------------------------------------------------------------------
// The TAS500 seed's iterative networks (seed-specs §5; src/models/iterative.ts)

/** "HxW" → [H, W]; null for ''. */
function parseSize(flag: string, v: OptionValue | undefined): [number, number] | null {
  if (v === undefined || v === '') return null;
  const m = /^(\d+)x(\d+)$/.exec(String(v));
  if (!m) throw new Error(`--${flag} '${v}': give HxW, e.g. 384x768`);
  return [Number(m[1]), Number(m[2])];
}
const TAS_SEED_SIZE: [number, number] = [384, 768];
/** The seed's rotation angles (tas500v11/dataloader.py), drawn with p 0.5. */
const TAS_ROTATE = '-30,-15,0,15,30';
const tasOpts = (o: Record<string, OptionValue>, size: [number, number]) => ({
  prenet: String(o.prenet) as PrenetKind, f: Number(o.f), increaseRatio: Number(o['increase-ratio']), levels: Number(o.levels),
  norm: String(o.norm) as TasNorm, inputSize: size, normalize: o.normalize !== 'none',
});
const TAS_OPTIONS: ModelOption[] = [
  { flag: 'prenet', type: 'string', default: 'x8', choices: ['x1', 'x2', 'x4', 'x8'], describe: 'tas: pre-net, the hidden state at 1, 1/2, 1/4 or 1/8 of the input per side (labels subsampled to match)' },
  { flag: 'f', type: 'number', default: 60, describe: 'tas: hidden channels f' },
  { flag: 'increase-ratio', type: 'number', default: 1.5, describe: 'tas: channel ratio per hourglass level' },
  { flag: 'levels', type: 'number', default: 4, describe: 'tas: hourglass levels M (the hidden size must divide by 2^M)' },
  { flag: 'steps', type: 'number', default: 3, describe: 'tas: iterations S (one output each)' },
  { flag: 'norm', type: 'string', default: 'layerHW', choices: ['layerHW', 'layerCHW', 'batch'], describe: 'tas: normalisation (layer norms are per position: the network is built for one input size)' },
  { flag: 'input-size', type: 'string', default: '', describe: 'tas: HxW the layer norms are built for (default: the run\'s --height/--width)' },
  { flag: 'normalize', type: 'string', default: 'imagenet', choices: ['imagenet', 'none'], describe: 'tas: input normalisation (the seed: ImageNet mean/std)' },
];
/** The seed's loss on one output: CE (every class, no ignore, as nn.CrossEntropyLoss there) + soft Dice. */
const tasLoss = (logits: Tensor, labels: Tensor): Tensor => add(crossEntropy(logits, labels), softDice(softmax(logits), labels));

const ITERATIVE_SUMMARY: Record<IterativeVersion, string> = {
  1: 'initial net, copy input', 2: 'copy input', 3: 'initial net, copy input, residual', 4: 'copy input, residual', 5: 'initial net, residual', 6: 'residual',
};
/** seed-specs §5.8 at the final config with the x8 pre-net. */
const ITERATIVE_REF: Record<IterativeVersion, number> = { 1: 12_895_969, 2: 7_467_648, 3: 12_895_970, 4: 7_467_649, 5: 12_879_494, 6: 7_458_433 };

interface TasNet { name: string; summary: string; source: string; ref: number; unit: string;
  make(o: IterativeOptions): Module & { forward(x: Tensor): Tensor[] }; count(o: Omit<IterativeOptions, 'seed'>): number }

/** A registry entry for one of the TAS500 seed's networks (iterative or stacked hourglass): shared options, recipes, loss, checkpoints. */
function tasSpec(t: TasNet): ModelSpec {
  const { name } = t;
  const scaleOf = (o: Record<string, OptionValue>) => PRENET_SCALE[String(o.prenet) as PrenetKind];
  const multipleOf = (o: Record<string, OptionValue>) => scaleOf(o) * 2 ** Number(o.levels);
  return {
  name,
  summary: t.summary,
  source: t.source,
  options: TAS_OPTIONS,
  recipes: {
    default: {
      describe: 'the seed\'s optimiser at a CPU-sized budget: Adam 1e-3, CE + soft Dice on every output, 10 epochs, batch 4, 128 px, the seed\'s flips and rotation',
      epochs: 10, batchSize: 4, height: 128, optimizer: { model: 'adam:lr=1e-3' }, schedule: { model: 'constant' },
      classWeights: 'none', flip: true, translate: 0, vflip: true, rotate: TAS_ROTATE,
    },
    demo: {
      describe: 'minutes on a CPU: 8 epochs at 64 px, f 32, 3 hourglass levels, Adam 1e-3, the seed\'s flips and rotation',
      epochs: 8, batchSize: 4, height: 64, optimizer: { model: 'adam:lr=1e-3' }, schedule: { model: 'constant' },
      classWeights: 'none', flip: true, translate: 0, vflip: true, rotate: TAS_ROTATE, options: { f: 32, levels: 3 },
    },
    reference: {
      describe: 'the seed\'s final run: 384×768, batch 6, Adam 1e-3, 100 epochs, horizontal and vertical flips, rotation by −30…30° (p 0.5)',
      epochs: 100, batchSize: 6, height: 384, width: 768, optimizer: { model: 'adam:lr=1e-3' }, schedule: { model: 'constant' },
      classWeights: 'none', flip: true, translate: 0, vflip: true, rotate: TAS_ROTATE,
    },
    'reference-250': {
      describe: 'the seed\'s longer runs (its best numbers: IterativeV6 with x2, res_Hourglass): the reference recipe for 250 epochs',
      epochs: 250, batchSize: 6, height: 384, width: 768, optimizer: { model: 'adam:lr=1e-3' }, schedule: { model: 'constant' },
      classWeights: 'none', flip: true, translate: 0, vflip: true, rotate: TAS_ROTATE,
    },
  },
  distortion: 'optional',
  parameterCount: (o, c) => t.count({ ...tasOpts(o, parseSize('input-size', o['input-size']) ?? TAS_SEED_SIZE), numClasses: c, steps: Number(o.steps) }),
  reference: { options: { 'input-size': '384x768' }, numClasses: 10, parameters: t.ref, note: `seed-specs §5.8: ${name}, x8 pre-net, f 60, r 1.5, M 4, layerHW, 384×768` },
  multiple: multipleOf,
  labelDownscale: scaleOf,
  outputs: (o) => `${o.steps} outputs, one per ${t.unit}, at 1/${scaleOf(o)} of the input per side (the last is the prediction)`,
  build(o, ctx) {
    const size = parseSize('input-size', o['input-size']) ?? ctx.inputSize;
    if (!size) throw new Error(`${name}: the input size is needed to build its layer norms (--input-size HxW, or the run\'s --height/--width)`);
    const net = t.make({ ...tasOpts(o, size), steps: Number(o.steps), numClasses: ctx.numClasses, seed: ctx.seed });
    return new DeepSupervisionSystem(net, {
      forward: (x) => net.forward(x), names: Array.from({ length: Number(o.steps) }, (_, i) => `${t.unit} ${i + 1}`), loss: tasLoss,
      labelDownscale: scaleOf(o), multiple: multipleOf(o),
    });
  },
  meta: (o, c) => ({ model: name, classes: String(c), prenet: String(o.prenet), f: String(o.f), increase_ratio: String(o['increase-ratio']),
    levels: String(o.levels), steps: String(o.steps), norm: String(o.norm), input_size: String(o['input-size']), normalize: String(o.normalize) }),
  fromCheckpoint(tensors, meta, path) {
    if (meta.model && meta.model !== name) throw new Error(`${path} holds a '${meta.model}' model, not ${name}`);
    const cls = tensors.get('classifier.weight');
    if (!cls || !tensors.has('prenet.' + (meta.prenet === 'x1' ? 'conv' : 'conv1') + '.weight')) throw new Error(`${path}: no classifier.weight / pre-net — not an ${name} checkpoint`);
    const options: Record<string, OptionValue> = {};
    for (const [k, m, num] of [['prenet', 'prenet', false], ['f', 'f', true], ['increase-ratio', 'increase_ratio', true], ['levels', 'levels', true],
      ['steps', 'steps', true], ['norm', 'norm', false], ['input-size', 'input_size', false], ['normalize', 'normalize', false]] as const) {
      if (meta[m] !== undefined) options[k] = num ? Number(meta[m]) : meta[m];
    }
    return { options, numClasses: cls.shape[0] };
  },
  };
}

const ITERATIVE_NETS: TasNet[] = ([1, 2, 3, 4, 5, 6] as const).map((v) => ({
  name: `iterative-v${v}`, ref: ITERATIVE_REF[v], unit: 'iteration',
  summary: `TAS500 IterativeV${v} (${ITERATIVE_SUMMARY[v]}): pre-net, a resUnet hourglass iterated on the hidden state, an output per iteration`,
  source: `chokladmousse/Semantic_Segmentation models/iterativeV${v}.py (seed-specs §5.3, §5.4, §5.8)`,
  make: (o) => new Iterative(v, o), count: (o) => iterativeParameters(v, o),
}));
/** seed-specs §5.8 at the final config with the x8 pre-net. */
const HOURGLASS_REF: Record<HourglassKind, number> = { 'hourglass': 18_307_815, 'hourglass-iter': 18_324_291, 'hourglass-iter-ex': 18_349_983,
  'res-hourglass': 18_307_817, 'res-hourglass-iter': 18_324_293, 'res-hourglass-iter-ex': 18_349_985 };
const HOURGLASS_NETS: TasNet[] = HOURGLASS_KINDS.map((k) => ({
  name: k, ref: HOURGLASS_REF[k], unit: 'stack',
  summary: `TAS500 ${k}: pre-net, S resUnet hourglasses with separate weights${k.startsWith('res-') ? ', gated residual skips' : ''}` +
    `${k.includes('-iter') ? `, the pre-net's output fused in${k.endsWith('-ex') ? ' (an extractor per stack)' : ''}` : ''}, an output per stack`,
  source: `chokladmousse/Semantic_Segmentation models/${k.replace(/-/g, '_')} (seed-specs §5.5, §5.8)`,
  make: (o) => new StackedHourglass(k, o), count: (o) => hourglassParameters(k, o),
}));

const MODELS: ModelSpec[] = [erfnet, feedback,
  deeplab('resnet50', 'deeplabv3plus-r50', 'DeepR50V3PlusD_m1', 'ResNet-50'),
  deeplab('resnet101', 'deeplabv3plus-r101', 'DeepR101V3PlusD_m1', 'ResNet-101'),
  deeplab('seresnext50', 'deeplabv3plus-srnx50', 'DeepSRNX50V3PlusD_m1', 'SE-ResNeXt-50 32×4d'),
  deeplab('seresnext101', 'deeplabv3plus-srnx101', 'DeepSRNX101V3PlusD_m1', 'SE-ResNeXt-101 32×4d'),
  deeplab('wrn38', 'deeplabv3plus-wrn38', 'DeepWV3Plus', 'WideResNet-38'),
  bisenet('resnet18', 'bisenet-r18', 'ResNet-18', 12_053_274),
  bisenet('resnet101', 'bisenet-r101', 'ResNet-101', 48_690_714),
  mssa,
  ...[...ITERATIVE_NETS, ...HOURGLASS_NETS].map(tasSpec),
];

export function listModels(): readonly ModelSpec[] { return MODELS; }

/** The entry for a name or alias; the error lists what exists. */
export function getModel(name: string): ModelSpec {
  const m = MODELS.find((s) => s.name === name || s.aliases?.includes(name));
  if (!m) throw new Error(`--model ${name}: unknown model (registered: ${MODELS.map((s) => s.name).join(', ')}; see mirage models)`);
  return m;
}

/** The options of a run: the option defaults, then the recipe's, then the given ones; unknown keys are an error. */
export function resolveOptions(spec: ModelSpec, given: Record<string, OptionValue | undefined>, recipe = 'default'):
  Record<string, OptionValue> {
  const r = spec.recipes[recipe];
  if (!r) throw new Error(`--recipe ${recipe}: ${spec.name} has recipes ${Object.keys(spec.recipes).join(', ')}`);
  const out: Record<string, OptionValue> = {};
  for (const o of spec.options) if (o.default !== undefined) out[o.flag] = o.default;
  Object.assign(out, r.options ?? {});
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    const o = spec.options.find((x) => x.flag === k);
    if (!o) throw new Error(`--${k} is not an option of ${spec.name}`);
    if (o.choices && !o.choices.includes(String(v))) throw new Error(`--${k} ${v}: ${spec.name} accepts ${o.choices.join(', ')}`);
    out[k] = v;
  }
  return out;
}

/**
 * Checkpoint metadata → the registry entry that wrote it; for a file without a name (PyTorch), the
 * one asked for, else the one its keys show (NVIDIA's DeepLabV3+ trunks), else ERFNet.
 */
export function modelOfCheckpoint(meta: Record<string, string>, asked: string | undefined, path: string, tensors?: Map<string, HostTensor>): ModelSpec {
  if (meta.model) {
    const spec = MODELS.find((s) => s.name === meta.model || s.aliases?.includes(meta.model));
    if (!spec) throw new Error(`${path} holds a '${meta.model}' model, which mirage does not know (registered: ${MODELS.map((s) => s.name).join(', ')})`);
    if (asked && getModel(asked) !== spec) throw new Error(`${path} holds a '${meta.model}' model, not '${asked}'`);
    return spec;
  }
  if (asked) return getModel(asked);
  const trunk = tensors && trunkOf(tensors);
  return getModel(trunk ? TRUNK_MODEL[trunk] : 'erfnet');
}

/**
 * Builds a model for training on inputs of ctx.inputSize and ctx.frames frames: a model built for
 * one input size (an `input-size` option: the TAS500 nets' layer norms) records it in `options`,
 * and a model that takes fewer frames than the distortion gives is refused before any step.
 */
export function buildForTraining(spec: ModelSpec, options: Record<string, OptionValue>, ctx: BuildContext & { inputSize: [number, number] }): System {
  if (spec.options.some((x) => x.flag === 'input-size') && !options['input-size']) options['input-size'] = `${ctx.inputSize[0]}x${ctx.inputSize[1]}`;
  const system = spec.build(options, ctx);
  const frames = ctx.frames ?? 1;
  if ((system.frames ?? 1) !== frames) {
    system.dispose();
    throw new Error(`--frames ${frames}: ${spec.name} takes ${system.frames ?? 1} image${(system.frames ?? 1) > 1 ? 's' : ''} per sample; ` +
      'fuse the frames first (--fusion median or mean), or use a model that restores from several frames (--model feedback)');
  }
  return system;
}
