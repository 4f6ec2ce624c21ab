// Native checkpoints: one safetensors file with the model's state dict, the optimizers' state under
// "optimizer.<group>.<param index>.<slot>", and metadata (model, classes, input size, epoch, mIoU,
// the run's settings and history, …). Written atomically (safetensors.ts); a model with Inf or NaN
// values is never written, and a file holding them is refused on reading, naming the tensor.
import { existsSync } from 'node:fs';
import type { HostTensor, Module } from '../engine/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { readPth } from './pth.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

export interface Checkpoint {
  model: Map<string, HostTensor>;
  /** Optimizer state per parameter group: "<param index>.<slot>" → tensor. */
  optimizers: Map<string, Map<string, HostTensor>>;
  meta: Record<string, string>;
}

/** "name (k of n values non-finite)" for up to five tensors with Inf or NaN, or null if all are finite. */
export function nonFiniteReport(tensors: Map<string, HostTensor>): string | null {
  const bad: string[] = [];
  let count = 0;
  for (const [name, t] of tensors) {
    let k = 0;
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) k++;
    if (k) { count++; if (bad.length < 5) bad.push(`${name} (${k} of ${t.data.length} values non-finite)`); }
  }
  return count ? `${bad.join(', ')}${count > bad.length ? ` and ${count - bad.length} more tensors` : ''}` : null;
}

/** The model's state and the optimizers' state, read to the host, as one checkpoint's tensors. */
export async function checkpointTensors(model: Module, optimizers: Record<string, Optimizer> = {}):
  Promise<{ model: Map<string, HostTensor>; optimizers: Map<string, HostTensor>; steps: Record<string, string> }> {
  const state = await model.stateDictHost();
  const opt = new Map<string, HostTensor>();
  const steps: Record<string, string> = {};
  for (const [g, o] of Object.entries(optimizers)) {
    for (const [k, t] of o.stateTensors()) opt.set(`optimizer.${g}.${k}`, { shape: [...t.shape], data: Float32Array.from(await t.read()) });
    steps[`optimizer_steps.${g}`] = String(o.steps);
  }
  return { model: state, optimizers: opt, steps };
}

/** Writes model (+ optimizer) tensors and metadata; refuses non-finite values, naming them. */
export function writeCheckpoint(path: string, tensors: Map<string, HostTensor>, meta: Record<string, string | number>): void {
  const bad = nonFiniteReport(tensors);
  if (bad) throw new Error(`not writing ${path}: ${bad}`);
  const m: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) m[k] = String(v);
  writeSafetensors(path, tensors, m);
}

/** Model state (and optimizer state, for resuming) with metadata, in one call. */
export async function saveCheckpoint(path: string, model: Module, meta: Record<string, string | number>,
  optimizers?: Record<string, Optimizer>): Promise<void> {
  const c = await checkpointTensors(model, optimizers);
  writeCheckpoint(path, new Map([...c.model, ...c.optimizers]), { ...meta, ...c.steps });
}

export function loadCheckpoint(path: string): Checkpoint {
  const { tensors, metadata } = readSafetensors(path);
  const bad = nonFiniteReport(tensors);
  if (bad) throw new Error(`${path} holds non-finite values, so it comes from a diverged run and is refused: ${bad}`);
  const model = new Map<string, HostTensor>(), optimizers = new Map<string, Map<string, HostTensor>>();
  for (const [k, t] of tensors) {
    const m = /^optimizer\.([^.]+)\.(.+)$/.exec(k);
    if (!m) { model.set(k, t); continue; }
    if (!optimizers.has(m[1])) optimizers.set(m[1], new Map());
    optimizers.get(m[1])!.set(m[2], t);
  }
  return { model, optimizers, meta: metadata };
}

/** Model tensors and metadata from a .safetensors checkpoint or a PyTorch .pth/.pth.tar/.pt file (non-finite values refused). */
export function readWeights(path: string): { tensors: Map<string, HostTensor>; meta: Record<string, string> } {
  if (!existsSync(path)) throw new Error(`weights file ${path} does not exist`);
  if (/\.pth(\.tar)?$|\.pt$/.test(path)) {
    const tensors = readPth(path);
    const bad = nonFiniteReport(tensors);
    if (bad) throw new Error(`${path} holds non-finite values and is refused: ${bad}`);
    return { tensors, meta: {} };
  }
  const ck = loadCheckpoint(path);
  return { tensors: ck.model, meta: ck.meta };
}
