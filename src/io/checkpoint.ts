// Native checkpoints: one safetensors file with the model's state dict, the optimizer state
// under "optimizer.<param>.<slot>", and metadata (model, classes, input size, epoch, mIoU, …).
import type { HostTensor, Module } from '../engine/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

export interface Checkpoint {
  model: Map<string, HostTensor>;
  optimizer: Map<string, HostTensor>;
  meta: Record<string, string>;
}

export async function saveCheckpoint(path: string, model: Module, meta: Record<string, string | number>,
  optimizer?: Optimizer): Promise<void> {
  const tensors = await model.stateDictHost();
  const m: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) m[k] = String(v);
  if (optimizer) {
    for (const [k, t] of optimizer.stateTensors()) tensors.set(`optimizer.${k}`, { shape: [...t.shape], data: Float32Array.from(await t.read()) });
    m.optimizer_steps = String(optimizer.steps);
    m.lr = String(optimizer.lr);
  }
  writeSafetensors(path, tensors, m);
}

export function loadCheckpoint(path: string): Checkpoint {
  const { tensors, metadata } = readSafetensors(path);
  const model = new Map<string, HostTensor>(), optimizer = new Map<string, HostTensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith('optimizer.')) optimizer.set(k.slice('optimizer.'.length), t);
    else model.set(k, t);
  }
  return { model, optimizer, meta: metadata };
}

/** Checks the checkpoint was written for this model before loading it; names the file on mismatch. */
export function expectModel(path: string, ck: Checkpoint, model: string, numClasses: number): void {
  if (ck.meta.model && ck.meta.model !== model) {
    throw new Error(`${path} holds a '${ck.meta.model}' model, not '${model}'`);
  }
  if (ck.meta.classes && Number(ck.meta.classes) !== numClasses) {
    throw new Error(`${path} was trained for ${ck.meta.classes} classes, the data has ${numClasses}`);
  }
}
