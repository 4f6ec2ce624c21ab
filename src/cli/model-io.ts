// Building ERFNet from a weights file: checks the model kind and class count, loads strictly.
import type { HostTensor } from '../engine/module.js';
import { ERFNet } from '../models/erfnet.js';
import { readWeights } from './common.js';

export interface LoadedModel { net: ERFNet; encoderOnly: boolean; meta: Record<string, string>; numClasses: number }

/** Class count of an ERFNet state dict, from its output layers. */
export function erfnetClasses(t: Map<string, HostTensor>, path: string): number {
  const dec = t.get('decoder.output_conv.weight'), enc = t.get('encoder.output_conv.weight');
  if (dec) return dec.shape[1];
  if (enc) return enc.shape[0];
  throw new Error(`${path}: no decoder.output_conv or encoder.output_conv weight — not an ERFNet checkpoint ` +
    `(first keys: ${[...t.keys()].slice(0, 5).join(', ')})`);
}

export function loadErfnet(model: string, path: string, dataClasses?: number): LoadedModel {
  if (model !== 'erfnet') throw new Error(`--model ${model}: only 'erfnet' is available`);
  const { tensors, meta } = readWeights(path);
  if (meta.model && !meta.model.startsWith('erfnet')) throw new Error(`${path} holds a '${meta.model}' model, not ERFNet`);
  const numClasses = erfnetClasses(tensors, path);
  if (dataClasses !== undefined && dataClasses !== numClasses) {
    throw new Error(`${path} predicts ${numClasses} classes but the data set has ${dataClasses}`);
  }
  const encoderOnly = meta.model === 'erfnet-encoder' || !tensors.has('decoder.output_conv.weight');
  const net = new ERFNet({ numClasses, encoderOutputConv: tensors.has('encoder.output_conv.weight') });
  try {
    if (encoderOnly) {
      const enc = new Map([...tensors].filter(([k]) => k.startsWith('encoder.')).map(([k, v]) => [k.slice(8), v]));
      net.encoder.loadStateDict(enc);
    } else net.loadStateDict(tensors);
  } catch (e) {
    net.dispose();
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  net.eval();
  return { net, encoderOnly, meta, numClasses };
}
