// Checkpoint contents, without files (browsers read them from bytes): the model's state dict, the
// optimizers' state under "optimizer.<group>.<param index>.<slot>", and metadata. Non-finite values
// are refused on reading, naming the tensor. The files themselves: checkpoint.ts (Node).
import type { HostTensor, Module } from '../engine/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { type SafeTensors, parseSafetensors } from './safetensors.js';

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

/** A parsed safetensors checkpoint split into model and optimizer state; `name` (the file) names it in errors. */
export function splitCheckpoint({ tensors, metadata }: SafeTensors, name: string): Checkpoint {
  const bad = nonFiniteReport(tensors);
  if (bad) throw new Error(`${name} holds non-finite values, so it comes from a diverged run and is refused: ${bad}`);
  const model = new Map<string, HostTensor>(), optimizers = new Map<string, Map<string, HostTensor>>();
  for (const [k, t] of tensors) {
    const m = /^optimizer\.([^.]+)\.(.+)$/.exec(k);
    if (!m) { model.set(k, t); continue; }
    if (!optimizers.has(m[1])) optimizers.set(m[1], new Map());
    optimizers.get(m[1])!.set(m[2], t);
  }
  return { model, optimizers, meta: metadata };
}

/** Model tensors and metadata from the bytes of a .safetensors checkpoint (an uploaded file, a fetch). */
export function weightsFromBytes(bytes: Uint8Array | ArrayBuffer, name: string): { tensors: Map<string, HostTensor>; meta: Record<string, string> } {
  const ck = splitCheckpoint(parseSafetensors(bytes, name), name);
  return { tensors: ck.model, meta: ck.meta };
}
