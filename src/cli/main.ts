#!/usr/bin/env node
// mirage command line. Each command lives in src/cli/<name>.ts; errors print as one clear line.
import yargs, { type Argv } from 'yargs';
import { type EngineOptions, KERNEL_FAMILIES } from '../engine/engine.js';
import { engineDefaults } from '../node/device.js';
import { hideBin } from 'yargs/helpers';
import { bench } from './bench.js';
import { convert } from './convert.js';
import { evaluate } from './eval.js';
import { experiment } from './experiment.js';
import { info } from './info.js';
import { predict } from './predict.js';
import { profile } from './profile.js';
import { simulate } from './simulate.js';
import { train } from './train.js';
import { trainFeedback } from './train-feedback.js';

const dataOpt = {
  type: 'string', default: 'synthetic',
  describe: 'synthetic | cityscapes:DIR | camvid:DIR | folder:DIR (folder: DIR/classes.txt, DIR/{train,val}/{images,labels})',
} as const;
const common = (y: Argv) => y
  .option('model', { type: 'string', default: 'erfnet', describe: 'model architecture' })
  .option('seed', { type: 'number', default: 1, describe: 'seed for initialisation, data order, dropout and synthetic data' });

const run = (fn: (a: any) => Promise<void>) => async (a: any) => {
  try { await fn(a); } catch (e) {
    console.error(`mirage: ${(e as Error).message}`);
    if (process.env.MIRAGE_DEBUG) console.error((e as Error).stack);
    process.exitCode = 1;
  }
};

await yargs(hideBin(process.argv))
  .scriptName('mirage')
  .usage('$0 <command> [options]')
  .option('kernels', {
    type: 'string', choices: ['auto', ...KERNEL_FAMILIES], default: 'auto', global: true,
    describe: 'conv/matmul kernel family: auto (subgroup on CPU adapters, tiled on GPUs), subgroup, tiled (workgroup-memory tiles, meant for GPUs), portable',
  })
  .middleware((a) => { engineDefaults.kernels = a.kernels as EngineOptions['kernels']; })
  .command('train', 'Train a segmentation model', (y) => common(y)
    .option('data', dataOpt)
    .option('height', { type: 'number', default: 128, describe: 'input height (multiple of 8); width keeps the data aspect' })
    .option('width', { type: 'number', describe: 'input width (multiple of 8); default from the aspect (synthetic: 2×height)' })
    .option('epochs', { type: 'number', default: 10, describe: 'training epochs (reference: 150)' })
    .option('batch-size', { type: 'number', default: 4, describe: 'images per step (reference: 6)' })
    .option('lr', { type: 'number', default: 5e-4, describe: 'Adam learning rate, decayed by poly (1 − e/N)^0.9 each epoch' })
    .option('weight-decay', { type: 'number', default: 1e-4, describe: 'Adam L2 weight decay' })
    .option('savedir', { type: 'string', default: 'runs/erfnet', describe: 'checkpoints, log.csv and curves.png go here' })
    .option('encoder-only', { type: 'boolean', default: false, describe: 'stage 1: train the encoder on 1/8-resolution labels' })
    .option('pretrained-encoder', { type: 'string', describe: 'initialise the encoder from a checkpoint (.safetensors or .pth)' })
    .option('class-weights', { type: 'string', default: 'enet', describe: 'enet (1/ln(c+p) from the labels) | erfnet (reference Cityscapes tables) | none | FILE' })
    .option('steps-loss', { type: 'number', default: 10, describe: 'show the running loss every N steps' })
    .option('iou-train', { type: 'boolean', default: false, describe: 'also compute mIoU on the training set' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue from SAVEDIR/checkpoint.safetensors' })
    .option('train-size', { type: 'number', default: 400, describe: 'synthetic data: number of training scenes' })
    .option('val-size', { type: 'number', default: 50, describe: 'synthetic data: number of validation scenes' })
    .option('flip', { type: 'boolean', default: true, describe: 'random horizontal flip (reference)' })
    .option('translate', { type: 'number', default: 2, describe: 'random translation up to N pixels (reference: 2)' })
    .option('scale-crop', { type: 'string', describe: 'random scale "lo,hi" about the centre, e.g. 0.75,1.5 (off by default)' })
    .option('distort', { type: 'boolean', default: false, describe: 'erfnet: train and validate on heat-distorted images (simulator flags below)' })
    .option('sigma', { type: 'number', describe: 'distortion: displacement std in pixels (default 2)' })
    .option('corr-length', { type: 'number', describe: 'distortion: pixels at which the longitudinal correlation is 0.5 (default 8)' })
    .option('anisotropy', { type: 'number', describe: 'distortion: lateral/longitudinal correlation length (default 2.73)' })
    .option('blur', { type: 'number', describe: 'distortion: optional blur stage, largest Gaussian σ in pixels, varying smoothly over the image (default 0: off)' })
    .option('cn2', { type: 'number', describe: 'distortion, physical mode: Cn² (see mirage simulate --help)' })
    .option('path-length', { type: 'number' }).option('focal-length', { type: 'number' }).option('aperture', { type: 'number' })
    .option('pixel-pitch', { type: 'number' }).option('wavelength', { type: 'number' })
    .option('loss', { choices: ['ce', 'focal', 'ifl', 'cbifl'] as const, default: 'cbifl' as const, describe: 'feedback: segmentation loss per iteration (iFL/CB-iFL: γ = 0, 0.1, 0.2)' })
    .option('feedback', { type: 'boolean', default: true, describe: 'feedback: use the feedback branch (--no-feedback = restoration pre-network only)' })
    .option('end-to-end', { type: 'boolean', default: false, describe: 'feedback: back-propagate the segmentation loss through the warp into the U-Net' })
    .option('feedback-scale', { type: 'number', default: 0.001, describe: 'feedback: scale of the feedback branch added to the bottleneck (reference 0.001)' })
    .option('iterations', { type: 'number', default: 3, describe: 'feedback: iterations after the plain pass' })
    .option('unet-depth', { type: 'number', default: 5, describe: 'feedback: U-Net depth (reference 5)' })
    .option('unet-width', { type: 'number', default: 6, describe: 'feedback: first U-Net layer has 2^w filters (reference 6; use 2–3 on a CPU)' })
    .option('lr-restore', { type: 'number', default: 2e-4, describe: 'feedback: U-Net Adam lr, halved every 30 epochs' })
    .option('seg-schedule', { choices: ['step', 'poly'] as const, default: 'step' as const, describe: 'feedback: ERFNet lr schedule, step ×0.99/epoch (reference) or poly 0.9' }),
  run(async (a) => { await (a.model === 'feedback' ? trainFeedback({ ...a, lrSeg: a.lr, weightDecay: a.weightDecay, unetDepth: a.unetDepth,
    unetWidth: a.unetWidth, lrRestore: a.lrRestore, endToEnd: a.endToEnd, feedbackScale: a.feedbackScale }) : train(a)); }))
  .command('eval', 'Evaluate a checkpoint: per-class IoU, mIoU, pixel and class accuracy', (y) => common(y)
    .option('weights', { type: 'string', demandOption: true, describe: 'checkpoint (.safetensors, or PyTorch .pth)' })
    .option('data', dataOpt)
    .option('split', { choices: ['train', 'val', 'test'] as const, default: 'val' as const })
    .option('height', { type: 'number', default: 128, describe: 'evaluation height (multiple of 8); report it with the result' })
    .option('width', { type: 'number', describe: 'evaluation width; default from the aspect' })
    .option('batch-size', { type: 'number', default: 4 })
    .option('val-size', { type: 'number', default: 50, describe: 'synthetic data: number of scenes' })
    .option('json', { type: 'string', describe: 'also write the results (with the confusion matrix) to this JSON file' })
    .option('distort', { type: 'boolean', default: false, describe: 'erfnet: evaluate on heat-distorted images (feedback models always are)' })
    .option('sigma', { type: 'number', describe: 'distortion std in pixels (feedback: default from the checkpoint)' })
    .option('corr-length', { type: 'number', describe: 'distortion correlation length in pixels' })
    .option('blur', { type: 'number', describe: 'distortion blur stage, largest σ in pixels (feedback: default from the checkpoint)' }),
  run((a) => evaluate(a)))
  .command('predict', 'Segment images: colourised PNGs, overlays, diffs against ground truth, raw logits', (y) => common(y)
    .option('weights', { type: 'string', demandOption: true, describe: 'checkpoint (.safetensors, or PyTorch .pth)' })
    .option('image', { type: 'string', describe: 'a PNG file or a folder of PNGs' })
    .option('data', { type: 'string', describe: 'or a data set (as in train), which adds diff images against its labels' })
    .option('split', { choices: ['train', 'val', 'test'] as const, default: 'val' as const })
    .option('limit', { type: 'number', describe: 'at most this many images from --data' })
    .option('height', { type: 'number', describe: 'resize to this height first (default: the image’s own size, no resampling)' })
    .option('out', { type: 'string', default: 'predictions', describe: 'output folder: rgb/ pred/ compose/ diff/' })
    .option('save-logits', { type: 'string', describe: 'write raw float32 logits (N,C,H,W) to this .npy file' }),
  run((a) => predict(a)))
  .command('convert <input> <output>', 'Convert a PyTorch .pth/.pth.tar state dict to safetensors', (y) => y
    .positional('input', { type: 'string', demandOption: true, describe: 'file written by torch.save' })
    .positional('output', { type: 'string', demandOption: true, describe: '.safetensors file to write' })
    .option('model', { type: 'string', default: 'erfnet' }),
  run((a) => convert(a)))
  .command('bench', 'Benchmark kernels and models, with tfjs-webgpu as the peer on the same adapter', (y) => y
    .option('quick', { type: 'boolean', describe: 'small shapes (default on CPU adapters such as lavapipe)' })
    .option('full', { type: 'boolean', describe: 'paper-size shapes even on a CPU adapter' })
    .option('reps', { type: 'number', default: 5, describe: 'timed repetitions per measurement (median reported)' })
    .option('peer', { type: 'boolean', default: true, describe: 'run the tfjs-webgpu peer column (--no-peer to skip)' })
    .option('only', { type: 'string', describe: 'comma list of parts to run: convs, models (default both)' })
    .option('conv-size', { type: 'string', describe: 'input HxW for the conv shapes (default 64x128 quick, 512x1024 full)' })
    .option('shapes', { type: 'string', describe: "comma list: only the conv shapes whose name contains one of these (e.g. 'convT,nb64')" })
    .option('out', { type: 'string', default: 'bench/results', describe: 'folder for the JSON results' }),
  run((a) => bench(a)))
  .command('profile', 'GPU time per layer (forward and backward) and per kernel of one training step (--model erfnet | feedback)', (y) => common(y)
    .option('height', { type: 'number', default: 64, describe: 'input height (multiple of 8)' })
    .option('width', { type: 'number', describe: 'input width (default 2×height)' })
    .option('batch-size', { type: 'number', default: 2 })
    .option('top', { type: 'number', default: 12, describe: 'kernels to list' })
    .option('unet-width', { type: 'number', default: 3, describe: 'feedback: first U-Net layer has 2^w filters (reference 6)' })
    .option('unet-depth', { type: 'number', default: 5, describe: 'feedback: U-Net depth (reference 5)' })
    .option('iterations', { type: 'number', default: 3, describe: 'feedback: iterations after the plain pass' }),
  run((a) => profile(a)))
  .command('simulate', 'Write a heat-distorted copy of a data set (same layout; labels are not warped)', (y) => y
    .option('in', { type: 'string', demandOption: true, describe: 'data-set folder (e.g. cityscapes/)' })
    .option('out', { type: 'string', demandOption: true, describe: 'output folder (e.g. tcityscapes/)' })
    .option('seed', { type: 'number', default: 1, describe: 'distortions are fixed by this seed and each file path' })
    .option('sigma', { type: 'number', describe: 'displacement std in pixels (direct mode; default 2)' })
    .option('corr-length', { type: 'number', describe: 'pixels at which the longitudinal correlation is 0.5 (direct mode; default 8)' })
    .option('anisotropy', { type: 'number', describe: 'lateral/longitudinal correlation length (default 2.73; 1 = isotropic)' })
    .option('blur', { type: 'number', describe: 'optional blur stage: largest Gaussian σ in pixels, varying smoothly over the image (default 0: off)' })
    .option('cn2', { type: 'number', describe: 'physical mode: Cn² in m^-2/3 (hot day ≈ 1e-12; write negative values as --cn2=-…)' })
    .option('path-length', { type: 'number', describe: 'physical: metres to the scene (default 2000)' })
    .option('focal-length', { type: 'number', describe: 'physical: metres (default 0.3)' })
    .option('aperture', { type: 'number', describe: 'physical: aperture diameter in metres (default focal/5.6)' })
    .option('pixel-pitch', { type: 'number', describe: 'physical: metres per pixel at the image size (default 4e-6)' })
    .option('wavelength', { type: 'number', describe: 'physical: metres (default 550e-9)' }),
  run((a) => simulate(a)))
  .command('experiment <name>', 'Run a paper comparison; hot-weather: clean / distorted / restoration / feedback + CE, iFL, CB-iFL', (y) => y
    .positional('name', { type: 'string', demandOption: true, describe: 'hot-weather' })
    .option('data', dataOpt)
    .option('height', { type: 'number', default: 64 }).option('width', { type: 'number' })
    .option('epochs', { type: 'number', default: 5 }).option('batch-size', { type: 'number', default: 4 })
    .option('train-size', { type: 'number', default: 160 }).option('val-size', { type: 'number', default: 50 })
    .option('seeds', { type: 'string', default: '1', describe: 'comma list of seeds; each variant runs once per seed (mean ± std reported)' })
    .option('lr', { type: 'number', default: 2e-3, describe: 'segmentation Adam lr (reference 5e-4 over 150 epochs)' })
    .option('sigma', { type: 'number', default: 2, describe: 'distortion std in pixels at the training size' })
    .option('corr-length', { type: 'number', default: 6, describe: 'distortion correlation length in pixels' })
    .option('unet-depth', { type: 'number', default: 5 }).option('unet-width', { type: 'number', default: 3, describe: '2^w filters (reference 6)' })
    .option('feedback-scale', { type: 'number', default: 0.001, describe: 'feedback variants: scale of the feedback branch (reference 0.001)' })
    .option('end-to-end', { type: 'boolean', default: false, describe: 'feedback variants: back-propagate the segmentation loss into the U-Net' })
    .option('variants', { type: 'string', describe: 'comma list: clean,distorted,restoration,feedback-ce,feedback-ifl,feedback-cbifl (default all)' })
    .option('savedir', { type: 'string', default: 'runs/hot-weather' }),
  run((a) => experiment(a)))
  .command('info', 'Show the WebGPU adapter, its features and the limits mirage requests', (y) =>
    y.option('backend', { type: 'string', describe: 'Dawn backend (vulkan, metal, d3d12, null)' }),
  run((a) => info(a.backend)))
  .demandCommand(1, 'Name a command (see --help).')
  .strict()
  .help()
  .parseAsync();
