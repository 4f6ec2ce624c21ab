// Building ERFNet from a weights file: checks the model kind and class count, loads strictly.
import type { HostTensor } from '../engine/module.js';
import { ERFNet } from '../models/erfnet.js';
import { RestorationUNet } from '../models/restoration-unet.js';
import { FeedbackSystem, type SegLoss } from '../train/feedback.js';
import { readWeights, subDict } from './common.js';

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

export interface LoadedFeedback { unet: RestorationUNet; seg: ERFNet; sys: FeedbackSystem; meta: Record<string, string>; numClasses: number;
  dispose(): void }

/** A feedback checkpoint (restore.* + seg.*) as written by `mirage train --model feedback`. */
export function loadFeedback(path: string, dataClasses?: number): LoadedFeedback {
  const { tensors, meta } = readWeights(path);
  if (meta.model !== 'feedback') throw new Error(`${path} holds a '${meta.model ?? 'unknown'}' model, not the feedback model`);
  const numClasses = Number(meta.classes);
  if (dataClasses !== undefined && dataClasses !== numClasses) throw new Error(`${path} predicts ${numClasses} classes but the data set has ${dataClasses}`);
  const unet = new RestorationUNet({ depth: Number(meta.unet_depth), wf: Number(meta.unet_wf), numClasses,
    feedbackScale: meta.feedback_scale !== undefined ? Number(meta.feedback_scale) : 0.001 });
  const seg = new ERFNet({ numClasses, encoderOutputConv: false });
  try {
    unet.loadStateDict(subDict(tensors, 'restore'));
    seg.loadStateDict(subDict(tensors, 'seg'));
  } catch (e) {
    unet.dispose(); seg.dispose();
    throw new Error(`${path} (U-Net depth ${meta.unet_depth}, width ${meta.unet_wf}): ${(e as Error).message}`);
  }
  unet.eval(); seg.eval();
  const sys = new FeedbackSystem(unet, seg, { ignoreIndex: numClasses - 1, loss: (meta.loss ?? 'cbifl') as SegLoss,
    feedback: meta.feedback !== 'false' });
  return { unet, seg, sys, meta, numClasses, dispose: () => { unet.dispose(); seg.dispose(); } };
}
