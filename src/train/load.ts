// A registered model from a weights file, ready for evaluation or prediction: the registry entry
// named by the file's metadata (or --model for PyTorch files, which have none), rebuilt with the
// file's options and loaded strictly. Also the distortion a model is evaluated under.
import type { HostTensor } from '../engine/module.js';
import { type ModelSpec, type OptionValue, modelOfCheckpoint } from '../models/registry.js';
import { type TurbulenceParams, TurbulenceSimulator, modelFrames, storedTurbulence } from '../sim/turbulence.js';
import type { System } from './system.js';

export interface LoadedModel {
  spec: ModelSpec;
  system: System;
  options: Record<string, OptionValue>;
  numClasses: number;
  meta: Record<string, string>;
}

/**
 * Builds and loads the model whose weights were read from `path` (readWeights in Node, weightsFromBytes
 * in a browser), in eval mode; `dataClasses` checks it against the data.
 */
export function loadModel(path: string, asked: string | undefined, dataClasses: number | undefined,
  weights: { tensors: Map<string, HostTensor>; meta: Record<string, string> }): LoadedModel {
  const { tensors, meta } = weights;
  const spec = modelOfCheckpoint(meta, asked, path, tensors);
  const { options, numClasses } = spec.fromCheckpoint(tensors, meta, path);
  if (dataClasses !== undefined && dataClasses !== numClasses) {
    throw new Error(`${path} predicts ${numClasses} classes but the data set has ${dataClasses}`);
  }
  // frames the model takes: from its run's distortion settings (checkpoints before multi-frame input: one)
  const run = meta.run ? (JSON.parse(meta.run) as { distortion?: TurbulenceParams | null }).distortion : null;
  const system = spec.build(options, { numClasses, ignoreIndex: numClasses - 1, weight: null, seed: 0, init: false, frames: modelFrames(run) });
  try {
    if (spec.load) spec.load(system, tensors); else system.module.loadStateDict(tensors);
  } catch (e) {
    system.dispose();
    throw new Error(`${path} (${spec.name}, ${numClasses} classes): ${(e as Error).message}`);
  }
  system.train(false);
  return { spec, system, options, numClasses, meta };
}

/**
 * The simulator for evaluating or predicting with a model: always for models trained on distorted
 * inputs, else only with `distort`. Flags win; otherwise the checkpoint's training distortion.
 */
export function evalSimulator(m: LoadedModel, flags: TurbulenceParams & { distort?: boolean }, height: number, width: number):
  { sim: TurbulenceSimulator; fromCheckpoint: boolean } | null {
  if (m.spec.distortion !== 'always' && !flags.distort) return null;
  const given = flags.sigma !== undefined || flags.cn2 !== undefined;
  const fromCheckpoint = !given && m.meta.sigma !== undefined;
  // the run's own distortion settings when the checkpoint has them (all of them: model, mean, outer
  // scale), else the resolved numbers in its meta; older checkpoints meant the four-point fit
  const run = m.meta.run ? (JSON.parse(m.meta.run) as { distortion?: TurbulenceParams | null }).distortion : null;
  const p: TurbulenceParams = !fromCheckpoint ? flags : run ? storedTurbulence(run)
    : storedTurbulence({ sigma: Number(m.meta.sigma), corrLength: Number(m.meta.corr_length), blur: Number(m.meta.blur ?? 0),
      ...(m.meta.anisotropy !== undefined ? { anisotropy: Number(m.meta.anisotropy) } : {}),
      ...(m.meta.correlation !== undefined ? { correlation: m.meta.correlation as 'integral' | 'fit', keepMean: m.meta.keep_mean === 'true' } : {}) });
  return { sim: new TurbulenceSimulator(height, width, p), fromCheckpoint };
}
