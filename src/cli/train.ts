// mirage train: flags → the trainer (src/train/trainer.ts). Flags without a value here are left to
// the model's recipe (see `mirage models`) or, with --resume, to the checkpoint.
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { type OptionValue, listModels } from '../models/registry.js';
import type { TrainFlags } from '../train/config.js';
import { OPTIMIZERS, SCHEDULES } from '../train/recipe.js';
import { Interrupted, type TrainSummary, train } from '../train/trainer.js';

export const dataOpt = {
  type: 'string',
  describe: 'synthetic (default) | cityscapes:DIR | camvid:DIR (11 classes) | camvid32:DIR (every class_dict.csv row, as the MSSA seed) | tas500:DIR | folder:DIR (folder: DIR/classes.txt, DIR/{train,val}/{images,labels})',
} as const;

/** Distortion flags, shared by train, eval and experiment. */
export function simOptions<T>(y: Argv<T>) {
  return y
    .option('sigma', { type: 'number', describe: 'distortion: displacement std in pixels (direct mode; default 2)' })
    .option('corr-length', { type: 'number', describe: 'distortion: pixels at which the longitudinal correlation is 0.5 (direct mode; default 8)' })
    .option('anisotropy', { type: 'number', describe: "distortion: lateral/longitudinal correlation length (default: Belen'kii's integral's, 2.68; 1 = isotropic)" })
    .option('correlation', { choices: ['integral', 'fit'] as const, describe: "distortion: tilt correlation from Belen'kii's integral (default) or the earlier four-point fit (runs before 2026-12-03; rough at the pixel scale)" })
    .option('keep-mean', { type: 'boolean', describe: "distortion: keep each field's whole-image shift, as the reference simulator does (default: removed, as a stabilised camera sees it)" })
    .option('frames', { type: 'number', describe: 'distortion: frames per sample, a static scene seen through changing shimmer (default 1); the model gets all of them (feedback restores from them), or one image when they are fused' })
    .option('frame-correlation', { type: 'number', describe: 'distortion: correlation of each frame\'s field with the previous one (default 0: independent frames)' })
    .option('ego-motion', { type: 'number', describe: 'distortion: the scene moves this many pixels per frame horizontally, a slowly turning or panning camera (default 0: static; needs --frames)' })
    .option('fusion', { choices: ['none', 'mean', 'median'] as const, describe: 'distortion: fuse the frames into one image per pixel before the model (the no-learning baseline; default none)' })
    .option('outer-scale', { type: 'number', describe: 'physical: turbulence outer scale in metres (default 1.6 = 0.4 × 4 m height); with the aperture it sets the correlation shape' })
    .option('blur', { type: 'number', describe: 'distortion: optional blur stage, largest Gaussian σ in pixels, varying smoothly over the image (default 0: off)' })
    .option('cn2', { type: 'number', describe: 'distortion, physical mode: Cn² in m^-2/3 (hot day ≈ 1e-12; write negative values as --cn2=-…)' })
    .option('path-length', { type: 'number', describe: 'physical: metres to the scene (default 2000)' })
    .option('focal-length', { type: 'number', describe: 'physical: metres (default 0.3)' })
    .option('aperture', { type: 'number', describe: 'physical: aperture diameter in metres (default focal/5.6)' })
    .option('pixel-pitch', { type: 'number', describe: 'physical: metres per pixel at the image size (default 4e-6)' })
    .option('wavelength', { type: 'number', describe: 'physical: metres (default 550e-9)' });
}

/** Every registered model's options as flags (one flag per name; descriptions merged). */
export function modelOptions<T>(y: Argv<T>): Argv<T> {
  const seen = new Map<string, { type: 'number' | 'string' | 'boolean'; describe: string[]; choices: Set<string> }>();
  for (const m of listModels()) {
    for (const o of m.options) {
      const s = seen.get(o.flag) ?? { type: o.type, describe: [], choices: new Set<string>() };
      if (o.describe) s.describe.push(o.describe);
      for (const c of o.choices ?? []) s.choices.add(c);
      seen.set(o.flag, s);
    }
    for (const g of m.groupLr ?? []) seen.set(g.flag, { type: 'number', describe: [g.describe], choices: new Set() });
  }
  let out = y;
  for (const [flag, s] of seen) {
    out = out.option(flag, { type: s.type, describe: s.describe.join('; '), ...(s.choices.size ? { choices: [...s.choices] } : {}) }) as Argv<T>;
  }
  return out;
}

export function trainOptions<T>(y: Argv<T>) {
  return modelOptions(simOptions(y
    .option('model', { type: 'string', describe: `model to train: ${listModels().map((m) => m.name).join(', ')} (default erfnet; see mirage models)` })
    .option('recipe', { type: 'string', describe: 'the model\'s recipe to start from: default (CPU-sized) or reference (the paper\'s); see mirage models' })
    .option('seed', { type: 'number', describe: 'seed for initialisation, data order, augmentation, dropout and synthetic data (default 1)' })
    .option('data', dataOpt)
    .option('height', { type: 'number', describe: 'input height (a multiple of the model\'s, 8 for ERFNet); default from the recipe' })
    .option('width', { type: 'number', describe: 'input width; default from the data\'s aspect (synthetic: 2×height)' })
    .option('epochs', { type: 'number', describe: 'training epochs (recipe: 10; reference 150); may be changed on --resume' })
    .option('batch-size', { type: 'number', describe: 'images per step (recipe)' })
    .option('optimizer', { type: 'string', describe: `main group's optimizer as name:key=value,… — ${Object.keys(OPTIMIZERS).join(', ')} (recipe: adam)` })
    .option('schedule', { type: 'string', describe: `main group's LR schedule per epoch — ${Object.keys(SCHEDULES).join(', ')}, e.g. poly:power=0.9 or step:size=1,gamma=0.99` })
    .option('lr', { type: 'number', describe: 'main group\'s learning rate (recipe: 5e-4)' })
    .option('weight-decay', { type: 'number', describe: 'main group\'s weight decay (recipe: 1e-4)' })
    .option('momentum', { type: 'number', describe: 'main group\'s momentum (sgd, rmsprop)' })
    .option('savedir', { type: 'string', describe: 'checkpoints, log.csv, curves.png and the TensorBoard event file go here (default runs/MODEL)' })
    .option('tensorboard', { type: 'boolean', default: true, describe: 'write TensorBoard scalars (events.out.tfevents.*) into the savedir; --no-tensorboard: none' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --savedir with its own settings (flags that differ are refused; --epochs may change)' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace the run in --savedir (refused without this or --resume)' })
    .option('class-weights', { type: 'string', describe: 'enet (1/ln(c+p) from the labels) | erfnet (reference Cityscapes tables) | none | FILE (recipe: enet)' })
    .option('steps-loss', { type: 'number', default: 10, describe: 'show the running loss (and check for divergence) every N steps' })
    .option('iou-train', { type: 'boolean', describe: 'also compute mIoU on the training set' })
    .option('train-size', { type: 'number', describe: 'synthetic data: number of training scenes (default 400)' })
    .option('val-size', { type: 'number', describe: 'synthetic data: number of validation scenes (default 50)' })
    .option('flip', { type: 'boolean', describe: 'random horizontal flip (recipe; --no-flip turns it off)' })
    .option('translate', { type: 'number', describe: 'random translation up to N pixels (recipe: 2)' })
    .option('scale-crop', { type: 'string', describe: 'random scale "lo,hi", then a crop at a random place (NVIDIA\'s RandomSizeAndCrop), e.g. 0.5,2 (recipe)' })
    .option('crop-size', { type: 'string', describe: 'train on random crops W or WxH of the --height/--width images (NVIDIA\'s crop_size); validation uses whole images' })
    .option('color-aug', { type: 'number', describe: 'colour jitter: brightness, contrast, saturation factors U[1−v, 1+v], hue ±v (NVIDIA: 0.25; 0 off)' })
    .option('gblur', { type: 'boolean', describe: 'Gaussian blur σ = 0.15 + U·1.15 px on every training image (NVIDIA\'s gblur; --no-gblur off)' })
    .option('class-uniform-pct', { type: 'number', describe: 'share of each epoch drawn as crops around class centroids (NVIDIA: 0.5; 0 off)' })
    .option('vflip', { type: 'boolean', describe: 'random vertical flip, p 0.5 (the TAS500 seed; --no-vflip off)' })
    .option('rotate', { type: 'string', describe: 'with p 0.5 rotate by an angle from this list of degrees (the TAS500 seed: -30,-15,0,15,30)' })
    .option('class-uniform-tile', { type: 'number', describe: 'class-uniform tile in pixels of the sized labels (default: --height)' })
    .option('distort', { type: 'boolean', describe: 'train and validate on heat-distorted images (always on for feedback; simulator flags below)' })));
}

/** Parsed yargs arguments → what the user gave (undefined where they gave nothing). */
export function trainFlags(a: Record<string, unknown>): TrainFlags {
  const num = (k: string) => a[k] as number | undefined;
  const options: Record<string, OptionValue | undefined> = {};
  const groupLr: Record<string, number | undefined> = {};
  for (const m of listModels()) {
    for (const o of m.options) if (a[o.flag] !== undefined) options[o.flag] = a[o.flag] as OptionValue;
    for (const g of m.groupLr ?? []) if (a[g.flag] !== undefined) groupLr[g.group] = a[g.flag] as number;
  }
  return {
    model: a.model as string | undefined, recipe: a.recipe as string | undefined, options, groupLr,
    data: a.data as string | undefined, trainSize: num('train-size'), valSize: num('val-size'), seed: num('seed'),
    height: num('height'), width: num('width'), epochs: num('epochs'), batchSize: num('batch-size'),
    optimizer: a.optimizer as string | undefined, schedule: a.schedule as string | undefined, lr: num('lr'),
    weightDecay: num('weight-decay'), momentum: num('momentum'), classWeights: a['class-weights'] as string | undefined,
    flip: a.flip as boolean | undefined, translate: num('translate'), scaleCrop: a['scale-crop'] as string | undefined,
    cropSize: a['crop-size'] === undefined ? undefined : String(a['crop-size']), colorAug: num('color-aug'), gblur: a.gblur as boolean | undefined,
    classUniformPct: num('class-uniform-pct'), classUniformTile: num('class-uniform-tile'),
    vflip: a.vflip as boolean | undefined, rotate: a.rotate === undefined ? undefined : String(a.rotate),
    distort: a.distort as boolean | undefined, iouTrain: a['iou-train'] as boolean | undefined,
    precision: a.precision as 'f32' | 'f16' | undefined,
    sigma: num('sigma'), corrLength: num('corr-length'), anisotropy: num('anisotropy'), blur: num('blur'), cn2: num('cn2'),
    pathLength: num('path-length'), focalLength: num('focal-length'), aperture: num('aperture'), pixelPitch: num('pixel-pitch'),
    wavelength: num('wavelength'), correlation: a.correlation as 'integral' | 'fit' | undefined, keepMean: a['keep-mean'] as boolean | undefined,
    outerScale: num('outer-scale'), frames: num('frames'), frameCorrelation: num('frame-correlation'), egoMotion: num('ego-motion'), fusion: a.fusion as 'none' | 'mean' | 'median' | undefined,
  };
}

export async function trainCommand(a: Record<string, unknown>): Promise<TrainSummary | undefined> {
  try {
    const savedir = (a.savedir as string | undefined) ?? join('runs', (a.model as string | undefined) ?? 'erfnet');
    return await train(trainFlags(a), { savedir, resume: a.resume as boolean, overwrite: a.overwrite as boolean,
      stepsLoss: a['steps-loss'] as number, handleSigint: true, tensorboard: a.tensorboard as boolean });
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    console.error(`mirage: ${e.message}`);
    process.exitCode = 130;
    return undefined;
  }
}
