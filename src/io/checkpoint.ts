// Native checkpoint files: one safetensors file with the model's state dict, the optimizers' state
// and metadata (model, classes, input size, epoch, mIoU, the run's settings and history, …); what
// they hold is checkpoint-data.ts. Written atomically (safetensors-file.ts); a model with Inf or NaN
// values is never written, and a file holding them is refused on reading, naming the tensor.
import { existsSync } from 'node:fs';
import type { HostTensor, Module } from '../engine/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { type Checkpoint, checkpointTensors, nonFiniteReport, splitCheckpoint } from './checkpoint-data.js';
import { readPth } from './pth.js';
import { readSafetensors, writeSafetensors } from './safetensors-file.js';

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
  return splitCheckpoint(readSafetensors(path), path);
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
