#!/usr/bin/env node
// mirage command line. Each command lives in src/cli/<name>.ts; errors print as one clear line.
import yargs, { type Argv } from 'yargs';
import { type EngineOptions, KERNEL_FAMILIES, PRECISIONS, type Precision } from '../engine/engine.js';
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
import { models } from './models.js';
import { exitWithParent, runFiltered, runsCommand } from './quiet.js';
import { checkNumericFlags, unknownCommand } from './flags.js';
import { dataOpt, modelOptions, simOptions, trainCommand, trainFlags, trainOptions } from './train.js';
import { inferenceOptions } from './common.js';
import { listModels } from '../models/registry.js';

const common = (y: Argv) => y
  .option('model', { type: 'string', describe: `registered model: ${listModels().map((m) => m.name).join(' | ')} (default: the one the weights file names)` })
  .option('seed', { type: 'number', default: 1, describe: 'seed for synthetic data and distortion draws' });

const run = (fn: (a: any) => Promise<unknown> | unknown) => async (a: any) => {
  try { await fn(a); } catch (e) {
    console.error(`mirage: ${(e as Error).message}`);
    if (process.env.MIRAGE_DEBUG || a.verbose) console.error((e as Error).stack);
    process.exitCode = 1;
  }
};

const COMMANDS = ['models', 'train', 'eval', 'predict', 'convert', 'bench', 'profile', 'simulate', 'experiment', 'info'];

if (!runsCommand()) runFiltered();
else {
  exitWithParent();
  await cli();
}

async function cli(): Promise<void> {
const unknown = unknownCommand(hideBin(process.argv), COMMANDS);
if (unknown) { console.error(`mirage: ${unknown}`); process.exitCode = 1; return; }
try {
await yargs(hideBin(process.argv))
  .scriptName('mirage')
  .usage('$0 <command> [options]')
  .option('kernels', {
    type: 'string', choices: ['auto', ...KERNEL_FAMILIES], default: 'auto', global: true,
    describe: 'conv/matmul kernel family: auto (subgroup on CPU adapters, tiled on GPUs), subgroup, tiled (workgroup-memory tiles, meant for GPUs), portable',
  })
  .option('precision', {
    type: 'string', choices: PRECISIONS, global: true,
    describe: 'GEMM operands of the convolutions and matmuls: f32, or f16 (f32 sums, tensor cores where Dawn offers subgroup matrices; training adds dynamic loss scaling). Default f32; a resumed run keeps its own unless given',
  })
  .option('verbose', { type: 'boolean', global: true, describe: 'show Dawn\'s native warnings and error stack traces' })
  .middleware((a) => {
    checkNumericFlags(a);
    engineDefaults.kernels = a.kernels as EngineOptions['kernels'];
    if (a.precision) engineDefaults.precision = a.precision as Precision;
  })
  .command('models', 'List the registered models: parameters, input, outputs, options and recipes', (y) => y
    .option('classes', { type: 'number', default: 20, describe: 'class count for the parameter counts' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
  run((a) => models(a)))
  .command('train', 'Train a registered model (mirage models); settings come from its recipe, then the flags', (y) => trainOptions(y),
  run((a) => trainCommand(a)))
  .command('eval', 'Evaluate a checkpoint: per-class IoU, mIoU, pixel and class accuracy (per iteration for iterative models)', (y) => inferenceOptions(simOptions(common(y)
    .option('weights', { type: 'string', demandOption: true, describe: 'checkpoint (.safetensors, or a PyTorch .pth: NVIDIA DeepLabV3+ trunks are found from its keys, other models need --model)' })
    .option('data', { ...dataOpt, default: 'synthetic' })
    .option('split', { choices: ['train', 'val', 'test'] as const, default: 'val' as const, describe: 'which split of --data to evaluate' })
    .option('height', { type: 'number', describe: 'evaluation height (a multiple of the model\'s); default: the checkpoint\'s training height; report it with the result' })
    .option('width', { type: 'number', describe: 'evaluation width; default from the aspect' })
    .option('batch-size', { type: 'number', default: 4, describe: 'images per forward pass (does not change the result)' })
    .option('val-size', { type: 'number', default: 50, describe: 'synthetic data: number of scenes' })
    .option('json', { type: 'string', describe: 'also write the results (with the confusion matrix) to this JSON file' })
    .option('report', { type: 'string', describe: 'also write a self-contained HTML report (per-class IoU, confusion matrix, sample panels) to this file' })
    .option('distort', { type: 'boolean', describe: 'evaluate on heat-distorted images (models trained on them always are); default settings: the checkpoint\'s' }))),
  run((a) => evaluate(a)))
  .command('predict', 'Segment images: colourised PNGs, overlays, diffs against ground truth, raw logits', (y) => inferenceOptions(simOptions(common(y)
    .option('weights', { type: 'string', demandOption: true, describe: 'checkpoint (.safetensors, or a PyTorch .pth: NVIDIA DeepLabV3+ trunks are found from its keys, other models need --model)' })
    .option('image', { type: 'string', describe: 'a PNG file or a folder of PNGs' })
    .option('data', { type: 'string', describe: 'or a data set (as in train), which adds diff images against its labels' })
    .option('split', { choices: ['train', 'val', 'test'] as const, default: 'val' as const, describe: 'which split of --data' })
    .option('limit', { type: 'number', describe: 'at most this many images from --data' })
    .option('height', { type: 'number', describe: 'resize to this height first (default: the image’s own size, no resampling)' })
    .option('out', { type: 'string', default: 'predictions', describe: 'output folder: rgb/ pred/ compose/ diff/ (panels/ for models that show more)' })
    .option('save-logits', { type: 'string', describe: 'write raw float32 logits (N,C,H,W) to this .npy file' })
    .option('distort', { type: 'boolean', describe: 'predict on heat-distorted images (models trained on them always do)' })
    .option('label-ids', { type: 'boolean', default: false, describe: 'pred/: Cityscapes labelIds (grayscale, for the evaluation server) instead of colours; needs the 20-class Cityscapes layout' }))),
  run((a) => predict(a)))
  .command('convert <input> <output>', 'Convert a PyTorch .pth/.pth.tar state dict to safetensors', (y) => y
    .positional('input', { type: 'string', demandOption: true, describe: 'file written by torch.save' })
    .positional('output', { type: 'string', demandOption: true, describe: '.safetensors file to write' })
    .option('model', { type: 'string', describe: `registered model the state dict is for: ${listModels().map((m) => m.name).join(' | ')} (keys and shapes are checked strictly; default: the NVIDIA DeepLabV3+ trunk its keys show, else erfnet)` }),
  run((a) => convert(a)))
  .command('bench', 'Benchmark kernels and models, with tfjs-webgpu as the peer on the same adapter', (y) => y
    .option('quick', { type: 'boolean', describe: 'small shapes (default on CPU adapters such as lavapipe)' })
    .option('full', { type: 'boolean', describe: 'paper-size shapes even on a CPU adapter' })
    .option('reps', { type: 'number', default: 5, describe: 'timed repetitions per measurement (median reported)' })
    .option('peer', { type: 'boolean', default: true, describe: 'run the tfjs-webgpu peer column (--no-peer to skip)' })
    .option('only', { type: 'string', describe: 'comma list of parts to run: convs (ERFNet), grouped (SE-ResNeXt-50 grouped convs vs dense twins), models (default: all; grouped when a SE-ResNeXt model is benched)' })
    .option('conv-size', { type: 'string', describe: 'input HxW for the conv shapes (default 64x128 quick, 512x1024 full)' })
    .option('shapes', { type: 'string', describe: "comma list: only the conv shapes whose name contains one of these (e.g. 'convT,nb64')" })
    .option('out', { type: 'string', default: 'bench/results', describe: 'folder for the JSON results' })
    .option('model', { type: 'string', describe: `models part: only these registered models (comma list), ${listModels().map((m) => m.name).join(' | ')} (default: all)` })
    .option('inference', { type: 'boolean', describe: 'frames per second only: each model\'s inference at 360x480 (CamVid; 11 classes), plus 1024x1024 and 768x1536 (Cityscapes; 19 classes) with --full or on a GPU, beside ERFNet, with parameters and GFLOPs' }),
  run((a) => bench(a)))
  .command('profile', 'GPU time per layer (forward and backward) and per kernel of one training step of a registered model', (y) =>
    modelOptions(y
      .option('model', { type: 'string', default: 'erfnet', describe: `registered model (${listModels().map((m) => m.name).join(', ')})` })
      .option('seed', { type: 'number', default: 1, describe: 'seed for the synthetic scenes and the initialisation' })
      .option('height', { type: 'number', describe: 'input height, a multiple of the model\'s (default: the demo recipe\'s, 64)' })
      .option('width', { type: 'number', describe: 'input width (default 2×height)' })
      .option('batch-size', { type: 'number', default: 2, describe: 'images in the profiled step' })
      .option('top', { type: 'number', default: 12, describe: 'kernels to list' })),
  run((a) => profile({ ...a, options: trainFlags(a).options ?? {} })))
  .command('simulate', 'Write a heat-distorted copy of a data set (same layout; labels are not warped)', (y) => simOptions(y
    .option('in', { type: 'string', demandOption: true, describe: 'data-set folder (e.g. cityscapes/)' })
    .option('out', { type: 'string', demandOption: true, describe: 'output folder (e.g. tcityscapes/)' })
    .option('seed', { type: 'number', default: 1, describe: 'distortions are fixed by this seed and each file path' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace --out if it exists (the old copy stays until the new one is complete)' })),
  run((a) => simulate(a)))
  .command('experiment <name>', 'Run a paper comparison; hot-weather: clean / distorted / restoration / feedback + CE, iFL, CB-iFL / K frames fused or restored, with restoration metrics; tas: the TAS500 seed\'s 13 networks', (y) => y
    .positional('name', { type: 'string', demandOption: true, describe: 'hot-weather | tas' })
    .option('data', { ...dataOpt, default: 'synthetic' })
    .option('height', { type: 'number', describe: 'input height (demo recipe: 64)' })
    .option('width', { type: 'number', describe: 'input width (default 2×height for synthetic data)' })
    .option('epochs', { type: 'number', describe: 'epochs per run (demo recipe: 5)' })
    .option('batch-size', { type: 'number', describe: 'images per step (demo recipe: 4)' })
    .option('train-size', { type: 'number', default: 160, describe: 'synthetic data: training scenes' })
    .option('val-size', { type: 'number', default: 50, describe: 'synthetic data: validation scenes' })
    .option('seeds', { type: 'string', default: '1', describe: 'comma list of seeds; each variant runs once per seed (mean ± std reported)' })
    .option('lr', { type: 'number', describe: 'segmentation Adam lr (demo recipe: 2e-3; reference 5e-4 over 150 epochs)' })
    .option('sigma', { type: 'number', default: 2, describe: 'distortion std in pixels at the training size' })
    .option('corr-length', { type: 'number', default: 6, describe: 'distortion correlation length in pixels' })
    .option('unet-depth', { type: 'number', describe: 'feedback variants: U-Net depth (default 5)' })
    .option('unet-width', { type: 'number', describe: 'feedback variants: 2^w filters in the first U-Net layer (demo recipe: 3; reference 6)' })
    .option('feedback-scale', { type: 'number', default: 0.001, describe: 'feedback variants: scale of the feedback branch (reference 0.001)' })
    .option('end-to-end', { type: 'boolean', default: false, describe: 'feedback variants: back-propagate the segmentation loss into the U-Net' })
    .option('merge', { type: 'string', describe: 'hot-weather: merge these results.json files (comma list: a study split over commands or machines) into one table, chart and report in --savedir, training nothing' })
    .option('flow-loss', { type: 'number', describe: 'restoration and feedback rows: weight of flow supervision by the exact inverse fields (beyond the paper; default 0)' })
    .option('feedback-gate', { type: 'boolean', describe: 'feedback rows: a learnable gate on the feedback branch (beyond the paper; default off)' })
    .option('restore-pretrain', { type: 'number', describe: 'restoration and feedback rows: the first N epochs train the U-Net alone (beyond the paper; default 0)' })
    .option('segmenter', { type: 'string', describe: `hot-weather: segmentation network of every row, behind the U-Net in the restoration and feedback rows (default erfnet; any of ${listModels().filter((m) => m.distortion !== 'always').map((m) => m.name).join(', ')})` })
    .option('frame-counts', { type: 'string', describe: 'hot-weather: frame counts K of the multi-frame rows (median-K, mean-K, restoration-K, feedback-cbifl-K; default 3,5,8)' })
    .option('frame-correlation', { type: 'number', describe: 'hot-weather: correlation of consecutive frames\' fields (default 0: independent)' })
    .option('ego-motion', { type: 'number', describe: 'hot-weather: multi-frame rows: the scene moves this many pixels per frame horizontally (default 0: static)' })
    .option('variants', { type: 'string', describe: 'comma list; hot-weather: clean, distorted, restoration, feedback-ce, feedback-ifl, feedback-cbifl and per K of --frame-counts median-K, mean-K, restoration-K, feedback-cbifl-K (default: the six single-frame rows and median-K); tas: iterative-v1 … v6, hourglass, hourglass-iter(-ex), res-hourglass(-iter, -iter-ex), iterative-v6-x2 (default all)' })
    .option('savedir', { type: 'string', describe: 'one folder per variant (and seed) goes here, with results.json and results.png (default runs/NAME)' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue each variant from its checkpoint (variants without one start)' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace earlier runs in --savedir' }),
  run((a) => experiment(a)))
  .command('info', 'Show the WebGPU adapter, its features and the limits mirage requests', (y) =>
    y.option('backend', { type: 'string', describe: 'Dawn backend (vulkan, metal, d3d12, null)' }),
  run((a) => info(a.backend)))
  .demandCommand(1, `Name a command: ${COMMANDS.join(', ')} (mirage --help).`)
  .strict()
  .fail((msg, err) => {                         // one line, not the whole help, for a bad flag
    const command = hideBin(process.argv).find((w) => COMMANDS.includes(w));
    console.error(`mirage: ${err?.message ?? msg}${err || !command ? '' : ` (mirage ${command} --help lists the flags)`}`);
    process.exit(1);
  })
  .help()
  .parseAsync();
} catch (e) {                                   // a flag check in the middleware
  console.error(`mirage: ${(e as Error).message}`);
  process.exitCode = 1;
}
}
