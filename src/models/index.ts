// mirage/models: the registered networks, the registry that builds, names and loads them, and
// checkpoints read from bytes (an uploaded file, a fetch). Runs on any WebGPU host; nothing here
// reaches a Node module (test/browser-api.test.ts checks the whole import graph).
export { ERFNet, type ErfnetOptions } from './erfnet.js';
export { DeepLabV3Plus, type DeepLabOptions, type Trunk } from './deeplabv3plus.js';
export { BiSeNet, type BiSeNetOptions, type BiSeNetTrunk } from './bisenet.js';
export { MSSA, type MssaOptions } from './mssa.js';
export { Iterative, type IterativeOptions, type IterativeVersion } from './iterative.js';
export { StackedHourglass, type HourglassKind } from './hourglass.js';
export { RestorationUNet, type RestorationOptions } from './restoration-unet.js';
export { FeedbackModel } from './feedback.js';
export { ResNetBackbone, type ResNetKind } from './resnet.js';
export { WiderResNet38 } from './wider-resnet.js';
export { BatchNorm2d, Conv2d, ConvTranspose2d, Dropout2d, LayerNorm, Linear, Sequential } from './layers.js';
export {
  type BuildContext, type ModelOption, type ModelSpec, type OptionValue, type Recipe, getModel, listModels,
  modelOfCheckpoint, resolveOptions,
} from './registry.js';
export { type SafeTensors, encodeSafetensors, parseSafetensors, safetensorsBytes } from '../io/safetensors.js';
export { type Checkpoint, checkpointTensors, nonFiniteReport, splitCheckpoint, weightsFromBytes } from '../io/checkpoint-data.js';
export { type LoadedModel, evalSimulator, loadModel } from '../train/load.js';
