// mirage convert: a PyTorch .pth/.pth.tar state dict → safetensors with mirage's metadata, after
// loading it strictly into the registered model (--model, or the DeepLabV3+ trunk its keys show,
// else ERFNet) so that every key and shape is checked.
import { existsSync } from 'node:fs';
import { writeSafetensors } from '../io/safetensors-file.js';
import { readPth } from '../io/pth.js';
import { nonFiniteReport } from '../io/checkpoint-data.js';
import { getModel, modelOfCheckpoint } from '../models/registry.js';
import { startEngine } from './common.js';

export async function convert(a: { input: string; output: string; model?: string }): Promise<void> {
  if (a.model !== undefined) getModel(a.model);   // an unknown name fails before the file is read
  if (!existsSync(a.input)) throw new Error(`convert: ${a.input} does not exist`);
  const tensors = readPth(a.input);
  const spec = modelOfCheckpoint({}, a.model, a.input, tensors);
  const bad = nonFiniteReport(tensors);
  if (bad) throw new Error(`${a.input} holds non-finite values: ${bad}`);
  const { options, numClasses } = spec.fromCheckpoint(tensors, {}, a.input);
  const { close } = await startEngine(0);
  try {
    const system = spec.build(options, { numClasses, ignoreIndex: numClasses - 1, weight: null, seed: 0, init: false });
    try {
      if (spec.load) spec.load(system, tensors); else system.module.loadStateDict(tensors);
    } catch (e) {
      throw new Error(`${a.input} does not fit ${spec.name} (${numClasses} classes): ${(e as Error).message}`);
    } finally {
      system.dispose();
    }
    writeSafetensors(a.output, tensors, { ...spec.meta(options, numClasses), source: a.input });
    const opts = Object.entries(options).filter(([, v]) => v !== false).map(([k, v]) => (v === true ? k : `${k} ${v}`)).join(', ');
    console.log(`${a.input} → ${a.output}: ${tensors.size} tensors, ${spec.name}${opts ? ` (${opts})` : ''} with ${numClasses} classes`);
  } finally {
    close();
  }
}
