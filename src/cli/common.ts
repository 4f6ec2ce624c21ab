// Shared CLI helpers: engine setup, weight files (safetensors or PyTorch), result tables.
import { existsSync } from 'node:fs';
import type { HostTensor } from '../engine/module.js';
import { seedGlobal } from '../engine/rng.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { readPth } from '../io/pth.js';
import type { IouResult } from '../train/iou.js';
import { type SegDataset, openDataset, parseDataSpec } from '../data/datasets.js';
import { createNodeEngine } from '../node/device.js';

export async function startEngine(seed: number) {
  seedGlobal(seed);
  const { engine, gpu } = await createNodeEngine({ seed });
  return { engine, close: () => { engine.destroy(); gpu.destroy(); } };
}

/** Model tensors and metadata from a .safetensors checkpoint or a PyTorch .pth/.pth.tar file. */
export function readWeights(path: string): { tensors: Map<string, HostTensor>; meta: Record<string, string> } {
  if (!existsSync(path)) throw new Error(`weights file ${path} does not exist`);
  if (/\.pth(\.tar)?$|\.pt$/.test(path)) return { tensors: readPth(path), meta: {} };
  const ck = loadCheckpoint(path);
  return { tensors: ck.model, meta: ck.meta };
}

/** Entries under `prefix.` with the prefix removed (e.g. the encoder of a full model). */
export function subDict(m: Map<string, HostTensor>, prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of m) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

export function iouTable(r: IouResult, names: string[], ignore: number): string {
  const rows = names.filter((_, i) => i !== ignore).map((n, k) => `  ${n.padEnd(16)} ${(100 * r.iou[k]).toFixed(2).padStart(6)}`);
  const present = r.iou.filter((_, k) => r.confusion[k < ignore ? k : k + 1].some((v) => v > 0)).length;
  return [...rows, `  ${'mIoU'.padEnd(16)} ${(100 * r.miou).toFixed(2).padStart(6)}  (all ${r.iou.length} classes, as the reference iouEval)`,
    `  ${'mIoU present'.padEnd(16)} ${(100 * r.miouPresent).toFixed(2).padStart(6)}  (${present} classes that occur in the ground truth)`,
    `  ${'pixel accuracy'.padEnd(16)} ${(100 * r.pixelAccuracy).toFixed(2).padStart(6)}`,
    `  ${'mean class acc'.padEnd(16)} ${(100 * r.meanClassAccuracy).toFixed(2).padStart(6)}`].join('\n');
}

export interface SplitArgs { data: string; seed: number; height: number; width?: number; trainSize: number; valSize: number }

/** The train and val splits of --data (synthetic: disjoint scene streams of trainSize / valSize). */
export function openSplits(a: SplitArgs): { trainDs: SegDataset; valDs: SegDataset } {
  const spec = parseDataSpec(a.data);
  const open = (split: 'train' | 'val', n: number) =>
    openDataset(spec, { split, syntheticCount: n, seed: a.seed, height: a.height, width: a.width ?? 2 * a.height });
  return { trainDs: open('train', a.trainSize), valDs: open('val', a.valSize) };
}
